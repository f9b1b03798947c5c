"""The sandbox's OAuth 2.0 server behaves as docs/x-api.md §6 describes X's."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.sandbox import (
    ALL_SCOPES,
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    TEST_REDIRECT_URI,
    Sandbox,
)


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory):
    """A sandbox of this module's own: these tests move its clock by hours."""
    server = Sandbox(
        tmp_path_factory.mktemp("oauth-sandbox"), XSANDBOX_RATE_LIMIT="300/900"
    ).start()
    yield server
    server.stop()


def authorize_url(sandbox, *, verifier="v" * 64, client_id=PUBLIC_CLIENT_ID, **overrides):
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": TEST_REDIRECT_URI,
        "scope": ALL_SCOPES,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return f"{sandbox.base_url}/i/oauth2/authorize?{urlencode(params)}"


def code_for(sandbox, username="maya_reads", **kwargs):
    back = sandbox.consent(authorize_url(sandbox, **kwargs), username)
    return parse_qs(urlsplit(back).query)["code"][0]


def token_request(sandbox, auth=None, **data):
    return requests.post(sandbox.base_url + "/2/oauth2/token", data=data, auth=auth, timeout=10)


def exchange(sandbox, code, verifier="v" * 64, **extra):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": TEST_REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": PUBLIC_CLIENT_ID,
        **extra,
    }
    return token_request(sandbox, **body)


def me(sandbox, access_token, **params):
    return requests.get(
        sandbox.base_url + "/2/users/me",
        params=params,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def test_the_consent_page_names_the_app_the_scopes_and_offers_three_accounts(own_sandbox):
    page = requests.get(authorize_url(own_sandbox), timeout=10).text
    assert "DM Reader wants to access your X account" in page
    assert "See all your Direct Messages." in page
    for username in ("maya_reads", "jonas_k", "quiet_quinn"):
        assert f"@{username}" in page


def test_approval_redirects_back_with_the_code_and_the_state(own_sandbox):
    back = own_sandbox.consent(authorize_url(own_sandbox), "maya_reads")
    assert back.startswith(TEST_REDIRECT_URI + "?")
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == ["state-123"] and query["code"][0]


def test_cancel_redirects_back_with_access_denied(own_sandbox):
    back = own_sandbox.consent(authorize_url(own_sandbox), "maya_reads", decision="cancel")
    assert parse_qs(urlsplit(back).query) == {"state": ["state-123"], "error": ["access_denied"]}


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "unknown-client"},
        {"redirect_uri": TEST_REDIRECT_URI.rstrip("/")},  # X matches exactly: no trailing slash
        {"redirect_uri": "https://evil.example/callback"},
    ],
)
def test_an_unknown_client_or_callback_gets_an_error_page_and_no_redirect(own_sandbox, overrides):
    response = requests.get(
        authorize_url(own_sandbox, **overrides), allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    assert "You weren't able to give access to the App" in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "dm.read bogus.scope"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "MD5"}, "invalid_request"),
        ({"state": ""}, "invalid_request"),
    ],
)
def test_a_malformed_authorize_request_is_sent_back_with_an_error(own_sandbox, overrides, error):
    response = requests.get(
        authorize_url(own_sandbox, **overrides), allow_redirects=False, timeout=10
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == [error]


def test_a_code_becomes_tokens_once(own_sandbox):
    code = code_for(own_sandbox)
    first = exchange(own_sandbox, code)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert set(body["scope"].split()) == set(ALL_SCOPES.split())
    assert body["access_token"] and body["refresh_token"]
    again = exchange(own_sandbox, code)
    assert again.status_code == 400
    assert (
        again.json()["error_description"] == "Value passed for the authorization code was invalid."
    )
    # Replaying a code revokes what it produced (RFC 6749 §4.1.2).
    assert me(own_sandbox, body["access_token"]).status_code == 401


def test_the_plain_challenge_method_works_too(own_sandbox):
    code = code_for(own_sandbox, code_challenge="p" * 50, code_challenge_method="plain")
    assert exchange(own_sandbox, code, verifier="p" * 50).status_code == 200


def test_a_wrong_verifier_is_refused_with_xs_words(own_sandbox):
    response = exchange(own_sandbox, code_for(own_sandbox), verifier="w" * 64)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the code verifier did not match the code challenge.",
    }


def test_a_code_is_bound_to_its_redirect_uri(own_sandbox):
    response = exchange(own_sandbox, code_for(own_sandbox), redirect_uri="http://testserver/other/")
    assert response.status_code == 400


def test_a_public_client_must_name_itself(own_sandbox):
    response = token_request(
        own_sandbox, grant_type="authorization_code", code="x", code_verifier="v" * 64
    )
    assert response.json()["error_description"] == "Missing required parameter [client_id]."


def test_a_confidential_client_must_use_http_basic(own_sandbox):
    code = code_for(own_sandbox, client_id=CONFIDENTIAL_CLIENT_ID)
    without = exchange(own_sandbox, code, client_id=CONFIDENTIAL_CLIENT_ID)
    assert without.status_code == 401
    assert without.json()["error"] == "unauthorized_client"
    wrong = exchange(own_sandbox, code, auth=(CONFIDENTIAL_CLIENT_ID, "wrong"))
    assert wrong.status_code == 401
    right = token_request(
        own_sandbox,
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        grant_type="authorization_code",
        code=code,
        redirect_uri=TEST_REDIRECT_URI,
        code_verifier="v" * 64,
    )
    assert right.status_code == 200


def test_an_unknown_grant_type_is_refused(own_sandbox):
    response = token_request(own_sandbox, grant_type="password", client_id=PUBLIC_CLIENT_ID)
    assert (
        "Grant type should be one of [authorization_code, refresh_token]"
        in response.json()["error_description"]
    )


def test_refresh_tokens_rotate_and_a_reused_one_ends_the_whole_family(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox)).json()
    refreshed = token_request(
        own_sandbox,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=PUBLIC_CLIENT_ID,
    ).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    assert me(own_sandbox, refreshed["access_token"]).status_code == 200
    reused = token_request(
        own_sandbox,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=PUBLIC_CLIENT_ID,
    )
    assert reused.status_code == 400
    assert reused.json()["error_description"] == "Value passed for the token was invalid."
    assert me(own_sandbox, refreshed["access_token"]).status_code == 401


def test_without_offline_access_there_is_no_refresh_token(own_sandbox):
    code = code_for(own_sandbox, scope="dm.read tweet.read users.read")
    assert "refresh_token" not in exchange(own_sandbox, code).json()


def test_revoking_a_refresh_token_ends_its_access_tokens(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox)).json()
    response = requests.post(
        own_sandbox.base_url + "/2/oauth2/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": PUBLIC_CLIENT_ID,
        },
        timeout=10,
    )
    assert response.json() == {"revoked": True}
    assert me(own_sandbox, tokens["access_token"]).status_code == 401


def test_users_me_answers_with_the_requested_user_fields(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox, username="jonas_k")).json()
    response = me(
        own_sandbox, tokens["access_token"], **{"user.fields": "profile_image_url,created_at"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["username"] == "jonas_k" and data["name"] == "Jonas Köhler"
    assert data["profile_image_url"].startswith(own_sandbox.base_url + "/profile_images/")
    assert data["created_at"].endswith(".000Z")
    assert int(response.headers["x-rate-limit-remaining"]) < int(
        response.headers["x-rate-limit-limit"]
    )
    bad = me(own_sandbox, tokens["access_token"], **{"user.fields": "shoe_size"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["parameters"] == {"user.fields": ["shoe_size"]}


def test_401_has_xs_body_and_no_rate_limit_headers(own_sandbox):
    response = me(own_sandbox, "not-a-token")
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert "x-rate-limit-limit" not in response.headers


def test_a_token_without_users_read_gets_403(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox, scope="dm.read tweet.read")).json()
    response = me(own_sandbox, tokens["access_token"])
    assert response.status_code == 403
    assert response.json()["title"] == "Forbidden"
    assert "x-rate-limit-remaining" in response.headers


def test_codes_expire_after_30_seconds_and_access_tokens_after_two_hours(own_sandbox):
    stale_code = code_for(own_sandbox)
    tokens = exchange(own_sandbox, code_for(own_sandbox)).json()
    own_sandbox.admin("POST", "clock", json={"advance_seconds": 31})
    assert exchange(own_sandbox, stale_code).status_code == 400
    assert me(own_sandbox, tokens["access_token"]).status_code == 200
    own_sandbox.admin("POST", "clock", json={"advance_seconds": 7200})
    assert me(own_sandbox, tokens["access_token"]).status_code == 401
    refreshed = token_request(
        own_sandbox,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=PUBLIC_CLIENT_ID,
    )
    assert refreshed.status_code == 200


def test_the_control_api_needs_the_admin_token(own_sandbox):
    response = requests.post(
        own_sandbox.base_url + "/_sandbox/clock", json={"advance_seconds": 1}, timeout=10
    )
    assert response.status_code == 401


def test_a_dropped_connection_fault_resets_the_connection(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox, username="quiet_quinn")).json()
    own_sandbox.fault("quiet_quinn", "drop", count=1)
    with pytest.raises(requests.ConnectionError):
        me(own_sandbox, tokens["access_token"])
    assert me(own_sandbox, tokens["access_token"]).status_code == 200


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_status_faults_answer_once_with_that_status(own_sandbox, kind):
    tokens = exchange(own_sandbox, code_for(own_sandbox, username="quiet_quinn")).json()
    own_sandbox.fault("quiet_quinn", kind, count=1)
    assert me(own_sandbox, tokens["access_token"]).status_code == int(kind)
    assert me(own_sandbox, tokens["access_token"]).status_code == 200


def test_the_malformed_fault_cuts_the_json(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox, username="quiet_quinn")).json()
    own_sandbox.fault("quiet_quinn", "malformed", count=1)
    response = me(own_sandbox, tokens["access_token"])
    with pytest.raises(ValueError):
        response.json()


def test_tokens_of_two_clients_are_not_interchangeable(own_sandbox):
    tokens = exchange(own_sandbox, code_for(own_sandbox)).json()
    response = token_request(
        own_sandbox,
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert response.status_code == 400


def test_an_unknown_state_length_over_500_is_refused(own_sandbox):
    response = requests.get(
        authorize_url(own_sandbox, state=secrets.token_hex(300)), allow_redirects=False, timeout=10
    )
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["invalid_request"]
