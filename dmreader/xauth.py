"""OAuth 2.0 Authorization Code with PKCE against X, through requests-oauthlib, and who signed in.

One function per step of the flow (and get_me for /2/users/me), each with timeouts and one typed
exception, XAuthError, whose message is safe to show and to log (it never contains a token).
"""

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from dmreader.models import XAccount

logger = logging.getLogger(__name__)

# X may list granted scopes in any order (docs/x-api.md §6.2); we check them ourselves after sign-in
# rather than have oauthlib raise on a reordering.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
if settings.X_TOKEN_URL.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
    # oauthlib insists on HTTPS; the local sandbox speaks plain HTTP on loopback only.
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

# Refresh this long before X's expiry, so a token never dies in the middle of a sync page.
REFRESH_MARGIN_SECONDS = 120


class XAuthError(Exception):
    """X refused or could not be reached. `permanent` means the tokens are dead for good."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: str


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    code_verifier: str


def _session(**kwargs) -> OAuth2Session:
    return OAuth2Session(settings.X_CLIENT_ID, scope=settings.X_SCOPES, **kwargs)


def _client_auth() -> HTTPBasicAuth | None:
    # Confidential clients authenticate with HTTP Basic; public ones only name themselves in the
    # body. X wants client_id in the body either way (docs/x-api.md §6.2, as tweepy does).
    if settings.X_CLIENT_SECRET:
        return HTTPBasicAuth(settings.X_CLIENT_ID, settings.X_CLIENT_SECRET)
    return None


def start(redirect_uri: str) -> Authorization:
    """The authorize URL with a fresh state and an S256 PKCE challenge."""
    pkce = WebApplicationClient(settings.X_CLIENT_ID)
    verifier = pkce.create_code_verifier(length=96)
    challenge = pkce.create_code_challenge(verifier, "S256")
    url, state = _session(redirect_uri=redirect_uri).authorization_url(
        settings.X_AUTHORIZE_URL, code_challenge=challenge, code_challenge_method="S256"
    )
    return Authorization(url=url, state=state, code_verifier=verifier)


def exchange_code(*, code: str, code_verifier: str, redirect_uri: str) -> Tokens:
    oauth = _session(redirect_uri=redirect_uri)
    try:
        token = oauth.fetch_token(
            settings.X_TOKEN_URL,
            code=code,
            code_verifier=code_verifier,
            include_client_id=True,
            auth=_client_auth(),
            timeout=settings.X_TIMEOUT,
        )
    except OAuth2Error as exc:
        raise XAuthError(_describe(exc)) from None
    except (requests.RequestException, ValueError) as exc:
        raise XAuthError(f"X could not be reached ({type(exc).__name__}).") from None
    return _tokens(token)


def refresh(refresh_token: str) -> Tokens:
    if not refresh_token:
        raise XAuthError("There is no refresh token; sign in again.", permanent=True)
    try:
        token = _session().refresh_token(
            settings.X_TOKEN_URL,
            refresh_token=refresh_token,
            auth=_client_auth(),
            timeout=settings.X_TIMEOUT,
            client_id=settings.X_CLIENT_ID,
        )
    except OAuth2Error as exc:
        # X answers a spent, revoked or unknown refresh token with invalid_request (§6.2).
        raise XAuthError(_describe(exc), permanent=True) from None
    except (requests.RequestException, ValueError) as exc:
        raise XAuthError(f"X could not be reached ({type(exc).__name__}).") from None
    return _tokens(token, previous_refresh=refresh_token)


def revoke(token: str, *, hint: str) -> None:
    """Best effort: sign-out must succeed locally even when X cannot be reached."""
    try:
        response = requests.post(
            settings.X_REVOKE_URL,
            data={"token": token, "token_type_hint": hint, "client_id": settings.X_CLIENT_ID},
            auth=_client_auth(),
            timeout=settings.X_TIMEOUT,
        )
        if response.status_code >= 400:
            logger.warning("X answered %s to a token revocation", response.status_code)
    except requests.RequestException as exc:
        logger.warning("Could not revoke a token at X: %s", type(exc).__name__)


def get_me(access_token: str) -> dict:
    """GET /2/users/me: the account that just signed in, as X describes it (docs/x-api.md §2.3)."""
    # id, name and username always come; the avatar has to be asked for.
    http = OAuth2Session(
        settings.X_CLIENT_ID, token={"access_token": access_token, "token_type": "Bearer"}
    )
    try:
        response = http.get(
            settings.X_API_BASE_URL + "/2/users/me",
            params={"user.fields": "profile_image_url"},
            timeout=settings.X_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise XAuthError(f"X could not be reached ({type(exc).__name__}).") from None
    except OAuth2Error as exc:  # e.g. X_API_BASE_URL without https: the token is not sent
        raise XAuthError(f"The request to X was not sent: {exc.description}") from None
    status = response.status_code
    if status == 401:
        raise XAuthError("X no longer accepts this sign-in.")
    if status == 403:
        raise XAuthError("X refused access: " + _answer_detail(response))
    if status == 429:
        raise XAuthError("X's rate limit is used up.")
    if status >= 500:
        raise XAuthError(f"X answered {status}.")
    try:
        body = response.json()
    except ValueError:
        raise XAuthError("X's answer was not valid JSON.") from None
    if not isinstance(body, dict):
        raise XAuthError("X's answer was not a JSON object.")
    if status >= 400:
        raise XAuthError("X refused the request: " + _answer_detail(response))
    me = body.get("data")
    if not isinstance(me, dict) or not me.get("id") or not me.get("username"):
        raise XAuthError("X's answer about the account was incomplete.")
    return me


def fresh_access_token(account_id: int, *, stale: str = "") -> str:
    """A usable access token for the account, refreshed first when it is about to expire or when
    the caller just had `stale` rejected with a 401.

    X's refresh tokens are single-use and rotate, so two refreshes racing would lose the account:
    the row lock serialises them, and whoever waited re-reads the token the winner stored."""
    with transaction.atomic():
        account = XAccount.objects.select_for_update().get(pk=account_id)
        if account.needs_reauth or not account.access_token:
            raise XAuthError("Sign in with X again.", permanent=True)
        rejected = stale and account.access_token == stale
        if not rejected and not account.token_expires_within(REFRESH_MARGIN_SECONDS):
            return account.access_token
        try:
            tokens = refresh(account.refresh_token)
        except XAuthError as exc:
            failure = exc
        else:
            store(account, tokens)
            return tokens.access_token
    # Outside the transaction, so that raising does not roll the mark back.
    if failure.permanent:
        XAccount.objects.filter(pk=account_id).update(needs_reauth=True, updated_at=timezone.now())
    raise failure


def store(account: XAccount, tokens: Tokens) -> None:
    account.access_token = tokens.access_token
    account.refresh_token = tokens.refresh_token
    account.token_expires_at = tokens.expires_at
    account.scopes = tokens.scopes
    account.needs_reauth = False
    account.save()


def _tokens(token: dict, previous_refresh: str = "") -> Tokens:
    if not token.get("access_token"):
        raise XAuthError("X's token answer had no access token.")
    scope = token.get("scope", "")
    scopes = " ".join(scope) if isinstance(scope, list) else str(scope)
    try:
        lifetime = int(token.get("expires_in", 7200))
    except (TypeError, ValueError):
        lifetime = 7200
    return Tokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or previous_refresh,
        expires_at=timezone.now() + timedelta(seconds=lifetime),
        scopes=scopes,
    )


def _describe(exc: OAuth2Error) -> str:
    # oauthlib keeps X's error_description; it names the problem, never the token.
    detail = exc.description or exc.error or "unknown error"
    return f"X refused the request: {detail}"


def _answer_detail(response: requests.Response) -> str:
    # X's error bodies are Problems: `detail` says what went wrong, `title` what kind (§5.1).
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"
