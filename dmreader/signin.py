"""Sign in with X: Authorization Code with PKCE (S256). The state and verifier live in the session.

Every failure ends on one page that says what happened and offers to try again; none is a 500 and
none shows a token.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dmreader import accounts, xauth

logger = logging.getLogger(__name__)

PENDING = "x_oauth_pending"


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    redirect_uri = _redirect_uri(request)
    authorization = xauth.start(redirect_uri)
    request.session[PENDING] = {
        "state": authorization.state,
        "verifier": authorization.code_verifier,
        "redirect_uri": redirect_uri,
        "next": _safe_next(request, request.GET.get("next", "")),
    }
    return HttpResponseRedirect(authorization.url)


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    # One use only: a replayed or forged callback finds nothing pending.
    pending = request.session.pop(PENDING, None)
    state = request.GET.get("state", "")
    if not pending:
        return _failed(
            request,
            "This sign-in link has expired",
            "The sign-in was already completed, or it was started in another browser or tab. "
            "Start again to sign in.",
        )
    if not state or not constant_time_compare(state, pending["state"]):
        logger.warning("Sign-in callback with a state that does not match the session")
        return _failed(
            request,
            "This sign-in could not be verified",
            "The answer that came back does not belong to the sign-in this browser started, "
            "so it was ignored. Nothing was changed.",
        )
    error = request.GET.get("error")
    if error == "access_denied":
        return _failed(
            request,
            "You cancelled the sign-in",
            "DM Reader was not given access to your X account. You can try again whenever you like.",
        )
    if error or not request.GET.get("code"):
        detail = request.GET.get("error_description") or error or "no authorization code"
        return _failed(request, "X did not complete the sign-in", f"X said: {detail}.")
    try:
        tokens = xauth.exchange_code(
            code=request.GET["code"],
            code_verifier=pending["verifier"],
            redirect_uri=pending["redirect_uri"],
        )
    except xauth.XAuthError as exc:
        return _failed(request, "X did not accept the sign-in", str(exc), status=502)
    missing = accounts.missing_scopes(tokens)
    if missing:
        xauth.revoke(tokens.access_token, hint="access_token")
        return _failed(
            request,
            "DM Reader needs permission to read your messages",
            "X granted access without: " + ", ".join(sorted(missing)) + ".",
        )
    try:
        me = xauth.get_me(tokens.access_token)
    except xauth.XAuthError as exc:
        return _failed(request, "Could not read your X account", str(exc), status=502)
    # Signing in also queues a sync (accounts.signed_in, received by the conversations app).
    user = accounts.sign_in(me=me, tokens=tokens)
    login(request, user, backend="dmreader.accounts.AccountBackend")
    return HttpResponseRedirect(pending["next"] or reverse("home"))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    account = accounts.account_of(request.user)
    if account is not None:
        accounts.sign_out(account)
    logout(request)
    messages.success(
        request, "You are signed out. DM Reader's access to your X account was revoked."
    )
    return redirect("home")


def _redirect_uri(request: HttpRequest) -> str:
    return settings.X_REDIRECT_URI or request.build_absolute_uri(reverse("oauth_callback"))


def _safe_next(request: HttpRequest, target: str) -> str:
    # Local paths only: "/inbox" yes; "//evil.example", "https://evil.example", "\\evil" no.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts=None, require_https=request.is_secure()
    ):
        return target
    return ""


def _failed(request: HttpRequest, title: str, detail: str, status: int = 400) -> HttpResponse:
    return render(request, "signin_error.html", {"title": title, "detail": detail}, status=status)
