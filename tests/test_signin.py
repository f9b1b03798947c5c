import ast
import logging
import re
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.apps import apps
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dmreader import accounts, xauth
from dmreader.models import XAccount
from tests.sandbox import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET
from tests.signin_helpers import follow_back, sign_in, start_sign_in

pytestmark = pytest.mark.django_db


def test_a_visitor_is_offered_to_sign_in_with_x(client):
    page = client.get("/")
    assert page.status_code == 200
    assert b"Sign in with X" in page.content
    assert b'href="/auth/login/"' in page.content


def test_sign_in_sends_the_browser_to_x_with_pkce_s256_state_and_the_four_scopes(client, sandbox):
    query = parse_qs(urlsplit(start_sign_in(client)).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 20
    assert set(query["scope"][0].split()) == {
        "dm.read",
        "tweet.read",
        "users.read",
        "offline.access",
    }
    assert query["redirect_uri"] == ["http://testserver/auth/callback/"]


def test_approving_on_x_signs_in_and_shows_the_account(client, sandbox):
    response = sign_in(client, sandbox, "maya_reads")
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert b"Maya Okafor" in home.content
    assert b"@maya_reads" in home.content
    assert b'src="/auth/login/"' not in home.content
    # The header's picture, at its account's own URL (conversations.views.account_avatar).
    avatar = client.get(re.search(r'avatar-sm" src="([^"]+)"', home.content.decode())[1])
    assert avatar.status_code == 200
    assert avatar["Content-Type"] == "image/jpeg"
    assert b"".join(avatar.streaming_content)[:2] == b"\xff\xd8"


def test_signing_in_queues_a_sync_of_the_account(
    client, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, sandbox, "jonas_k")
    user = XAccount.objects.get(username="jonas_k").user
    assert _queued_syncs() == [[user.pk]]


def test_signing_in_tells_who_signed_in_once_the_account_holds_its_tokens(client, sandbox):
    seen = []

    def receiver(sender, *, user, account, **kwargs):
        seen.append(
            (user.pk, account.username, bool(XAccount.objects.get(pk=account.pk).access_token))
        )

    accounts.signed_in.connect(receiver)
    try:
        sign_in(client, sandbox, "jonas_k")
    finally:
        accounts.signed_in.disconnect(receiver)
    user = XAccount.objects.get(username="jonas_k").user
    assert seen == [(user.pk, "jonas_k", True)]


def test_one_sign_in_queues_one_sync_even_if_the_apps_were_readied_twice(
    client, sandbox, django_capture_on_commit_callbacks
):
    apps.get_app_config("conversations").ready()
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(client, sandbox, "jonas_k")
    assert len(_queued_syncs()) == 1


def test_a_failed_sign_in_queues_no_sync(client, sandbox, django_capture_on_commit_callbacks):
    sandbox.fault("quiet_quinn", "503", count=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert sign_in(client, sandbox, "quiet_quinn").status_code == 502
    assert _queued_syncs() == []


def test_the_sign_in_side_imports_nothing_from_the_conversations_app():
    # Imports run one way: conversations uses dmreader, never the reverse.
    imported = {}
    for path in sorted(Path(accounts.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            imported.setdefault(path.name, set()).update(names)
    assert {
        name: modules
        for name, modules in imported.items()
        if any(module.split(".")[0] == "conversations" for module in modules)
    } == {}


def _queued_syncs() -> list[list]:
    tasks = DBTaskResult.objects.filter(task_path="conversations.tasks.sync_account")
    return [task.args_kwargs["args"] for task in tasks]


def test_tokens_are_encrypted_at_rest(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    assert account.access_token and account.refresh_token
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM dmreader_xaccount")
        stored_access, stored_refresh = cursor.fetchone()
    assert account.access_token not in stored_access
    assert account.refresh_token not in stored_refresh
    assert stored_access.startswith("gAAAAA")  # Fernet


def test_no_token_reaches_a_page_or_a_log(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    authorize_url = start_sign_in(client)
    callback_url = sandbox.consent(authorize_url, "maya_reads")
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    follow_back(client, callback_url)
    pages = client.get("/").content.decode()
    account = XAccount.objects.get(username="maya_reads")
    secrets = [account.access_token, account.refresh_token, code]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in pages
        assert secret not in logged


def test_cancelling_on_x_ends_on_a_page_that_offers_to_try_again(client, sandbox):
    response = follow_back(client, sandbox.consent(start_sign_in(client), "maya_reads", "cancel"))
    assert response.status_code == 400
    assert b"You cancelled the sign-in" in response.content
    assert b'href="/auth/login/"' in response.content
    assert "_auth_user_id" not in client.session


def test_a_forged_callback_with_another_state_is_refused(client, sandbox):
    start_sign_in(client)
    response = client.get("/auth/callback/", {"state": "forged-state", "code": "abc"})
    assert response.status_code == 400
    assert b"could not be verified" in response.content
    assert "_auth_user_id" not in client.session


def test_a_callback_nobody_started_is_refused(client, sandbox):
    response = client.get("/auth/callback/", {"state": "x", "code": "y"})
    assert response.status_code == 400
    assert b"expired" in response.content


def test_a_replayed_code_is_refused_by_x(client, sandbox):
    callback_url = sandbox.consent(start_sign_in(client), "maya_reads")
    assert follow_back(client, callback_url).status_code == 302
    other = Client()
    new_state = parse_qs(urlsplit(start_sign_in(other)).query)["state"][0]
    old_code = parse_qs(urlsplit(callback_url).query)["code"][0]
    response = other.get("/auth/callback/", {"state": new_state, "code": old_code})
    assert response.status_code == 502
    assert b"X did not accept the sign-in" in response.content
    assert b"authorization code was invalid" in response.content


def test_an_expired_code_is_refused_by_x(client, sandbox):
    callback_url = sandbox.consent(start_sign_in(client), "jonas_k")
    sandbox.admin("POST", "clock", json={"advance_seconds": 31})
    response = follow_back(client, callback_url)
    assert response.status_code == 502
    assert b"authorization code was invalid" in response.content


def test_an_unreachable_token_endpoint_ends_on_a_clear_page(client, sandbox, settings):
    callback_url = sandbox.consent(start_sign_in(client), "maya_reads")
    settings.X_TOKEN_URL = "http://127.0.0.1:9/2/oauth2/token"
    response = follow_back(client, callback_url)
    assert response.status_code == 502
    assert b"could not be reached" in response.content


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("503", "X answered 503."),
        ("429", "X&#x27;s rate limit is used up."),
        ("malformed", "X&#x27;s answer was not valid JSON."),
        ("drop", "X could not be reached (ConnectionError)."),
    ],
)
def test_x_failing_to_answer_users_me_ends_on_a_clear_page(client, sandbox, fault, said):
    sandbox.fault("quiet_quinn", fault, count=1)
    response = sign_in(client, sandbox, "quiet_quinn")
    assert response.status_code == 502
    assert "Could not read your X account" in response.content.decode()
    assert said in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not XAccount.objects.exists()


def test_a_token_without_dm_read_is_not_accepted(client, sandbox, settings):
    settings.X_SCOPES = ["tweet.read", "users.read", "offline.access"]
    response = sign_in(client, sandbox, "maya_reads")
    assert response.status_code == 400
    assert b"needs permission to read your messages" in response.content


@pytest.mark.parametrize(
    ("next_path", "landing"),
    [
        ("/admin/", "/admin/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_next_only_leads_to_local_paths(client, sandbox, next_path, landing):
    response = sign_in(client, sandbox, "maya_reads", next_path=next_path)
    assert response.status_code == 302
    assert response["Location"] == landing


def test_signing_in_again_updates_the_same_user(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    first = XAccount.objects.get(username="maya_reads")
    sign_in(Client(), sandbox, "maya_reads")
    again = XAccount.objects.get(username="maya_reads")
    assert again.user_id == first.user_id
    assert again.access_token != first.access_token
    assert XAccount.objects.count() == 1


def test_two_people_signed_in_side_by_side_stay_apart(sandbox):
    maya, jonas = Client(), Client()
    sign_in(maya, sandbox, "maya_reads")
    sign_in(jonas, sandbox, "jonas_k")
    maya_home, jonas_home = maya.get("/").content, jonas.get("/").content
    assert b"@maya_reads" in maya_home and b"@jonas_k" not in maya_home
    assert b"@jonas_k" in jonas_home and b"@maya_reads" not in jonas_home
    accounts = XAccount.objects.order_by("username")
    assert [a.username for a in accounts] == ["jonas_k", "maya_reads"]
    assert accounts[0].user_id != accounts[1].user_id
    assert accounts[0].access_token != accounts[1].access_token


def test_signing_out_revokes_the_tokens_at_x_and_forgets_them(client, sandbox):
    sign_in(client, sandbox, "jonas_k")
    before = XAccount.objects.get(username="jonas_k")
    response = client.post("/auth/logout/")
    assert response.status_code == 302
    assert b"Sign in with X" in client.get("/", follow=True).content
    account = XAccount.objects.get(username="jonas_k")
    assert account.access_token == "" and account.refresh_token == ""
    assert (
        requests.get(
            sandbox.base_url + "/2/users/me",
            headers={"Authorization": f"Bearer {before.access_token}"},
            timeout=10,
        ).status_code
        == 401
    )
    with pytest.raises(xauth.XAuthError):
        xauth.refresh(before.refresh_token)


def test_signing_out_needs_a_post(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    assert client.get("/auth/logout/").status_code == 405
    assert "_auth_user_id" in client.session


def test_a_confidential_client_signs_in_with_http_basic(client, sandbox, settings):
    settings.X_CLIENT_ID = CONFIDENTIAL_CLIENT_ID
    settings.X_CLIENT_SECRET = CONFIDENTIAL_CLIENT_SECRET
    assert sign_in(client, sandbox, "maya_reads")["Location"] == "/"
    account = XAccount.objects.get(username="maya_reads")
    assert account.refresh_token
    assert xauth.fresh_access_token(account.pk, stale=account.access_token) != account.access_token


def test_a_token_about_to_expire_is_refreshed_and_the_refresh_token_rotates(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    old_access, old_refresh = account.access_token, account.refresh_token
    XAccount.objects.filter(pk=account.pk).update(
        token_expires_at=timezone.now() + timedelta(seconds=30)
    )
    new_access = xauth.fresh_access_token(account.pk)
    account.refresh_from_db()
    assert new_access == account.access_token != old_access
    assert account.refresh_token != old_refresh
    assert account.token_expires_at > timezone.now() + timedelta(hours=1)
    # The spent refresh token is single-use at X.
    with pytest.raises(xauth.XAuthError):
        xauth.refresh(old_refresh)


def test_a_token_that_is_still_fresh_is_not_refreshed(client, sandbox):
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    assert xauth.fresh_access_token(account.pk) == account.access_token


def test_a_revoked_refresh_token_asks_the_person_to_sign_in_again(client, sandbox):
    sign_in(client, sandbox, "jonas_k")
    account = XAccount.objects.get(username="jonas_k")
    sandbox.admin("POST", "tokens", json={"username": "jonas_k", "action": "revoke_refresh"})
    with pytest.raises(xauth.XAuthError) as failure:
        xauth.fresh_access_token(account.pk, stale=account.access_token)
    assert failure.value.permanent
    account.refresh_from_db()
    assert account.needs_reauth
    assert b"Sign in again" in client.get("/").content


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_account_refresh_once(sandbox):
    client = Client()
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    stale = account.access_token
    spent_before = _spent_refresh_tokens(sandbox, "maya_reads")
    results, failures = [], []

    def refresh():
        try:
            results.append(xauth.fresh_access_token(account.pk, stale=stale))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(results)) == 1 and results[0] != stale
    account.refresh_from_db()
    assert not account.needs_reauth
    # One refresh at X, not four: a second use of the rotated token would have killed the family.
    assert _spent_refresh_tokens(sandbox, "maya_reads") == spent_before + 1
    assert xauth.fresh_access_token(account.pk) == results[0]


def _spent_refresh_tokens(sandbox, username):
    return sum(1 for g in sandbox.grants(username) if g["kind"] == "refresh" and g["used"])
