"""OAuth 2.0 Authorization Code with PKCE, as X runs it (docs/x-api.md §6), and GET /2/users/me."""

import base64
import binascii
import hashlib
import hmac
import re
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xsandbox import clock, errors, tokens
from xsandbox.models import Client, Grant, User

# Scope names and the words X's consent page uses for them (spec v2.166 securitySchemes).
SCOPES = {
    "tweet.read": "See posts from your timeline (including protected posts) and your lists.",
    "tweet.write": "Post and repost for you.",
    "tweet.moderate.write": "Hide and unhide replies to your posts.",
    "users.read": "See any account you can see, including protected accounts.",
    "follows.read": "See who follows you and who you follow.",
    "follows.write": "Follow and unfollow people for you.",
    "offline.access": "Stay connected to your account until you revoke access.",
    "space.read": "See all the Spaces you can see.",
    "mute.read": "See accounts you've muted.",
    "mute.write": "Mute and unmute accounts for you.",
    "like.read": "See posts you've liked and likes you can view.",
    "like.write": "Like and unlike posts for you.",
    "list.read": "See lists you've created, are a member of, or follow.",
    "list.write": "Create and manage lists for you.",
    "block.read": "See accounts you've blocked.",
    "block.write": "Block and unblock accounts for you.",
    "bookmark.read": "See your bookmarks.",
    "bookmark.write": "Bookmark and remove bookmarks from posts.",
    "dm.read": "See all your Direct Messages.",
    "dm.write": "Send and manage Direct Messages for you.",
    "media.write": "Upload media.",
    "timeline.read": "See your timelines.",
}
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class AuthorizeError(Exception):
    """A request X answers with its own error page: nothing trustworthy to redirect to."""


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    params = {name: source.get(name, "") for name in AUTHORIZE_PARAMS}
    try:
        client = _registered_client(params)
    except AuthorizeError as exc:
        return render(request, "xsandbox/authorize_error.html", {"reason": str(exc)}, status=400)
    problem = _authorize_problem(params)
    if problem:
        return _back_to_app(params, error=problem[0], error_description=problem[1])
    if request.method == "GET":
        return render(request, "xsandbox/consent.html", _consent_context(client, params))
    if request.POST.get("decision") != "approve":
        return _back_to_app(params, error="access_denied")
    user = User.objects.filter(pk=request.POST.get("account"), can_sign_in=True).first()
    if user is None:
        context = _consent_context(client, params)
        context["message"] = "Choose the account to sign in with."
        return render(request, "xsandbox/consent.html", context, status=400)
    code = tokens.mint(
        Grant.CODE,
        client=client,
        user=user,
        scopes=" ".join(params["scope"].split()),
        family=tokens.new_family(),
        ttl=settings.XSANDBOX_CODE_TTL,
        redirect_uri=params["redirect_uri"],
        code_challenge=params["code_challenge"],
        code_challenge_method=params["code_challenge_method"].upper(),
    )
    return _back_to_app(params, code=code)


def _registered_client(params: dict[str, str]) -> Client:
    client = Client.objects.filter(pk=params["client_id"]).first()
    if client is None:
        raise AuthorizeError("This app is not registered: its client_id is unknown.")
    # X compares the callback with the registered ones exactly: a trailing slash breaks it.
    if params["redirect_uri"] not in client.redirect_uris:
        raise AuthorizeError("The callback URL is not one this app registered.")
    return client


def _authorize_problem(params: dict[str, str]) -> tuple[str, str] | None:
    if params["response_type"] != "code":
        return "unsupported_response_type", "response_type must be code."
    scopes = params["scope"].split()
    if not scopes:
        return "invalid_request", "Missing required parameter [scope]."
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        return "invalid_scope", f"Unknown scope [{unknown[0]}]."
    if not params["state"] or len(params["state"]) > 500:
        return "invalid_request", "Missing or too long parameter [state]."
    method = params["code_challenge_method"].upper()
    if method not in ("S256", "PLAIN"):
        return "invalid_request", "code_challenge_method must be S256 or plain."
    challenge = params["code_challenge"]
    if not challenge or (method == "S256" and not _S256_CHALLENGE.match(challenge)):
        return "invalid_request", "Missing or malformed parameter [code_challenge]."
    return None


def _consent_context(client: Client, params: dict[str, str]) -> dict:
    return {
        "client": client,
        "params": params,
        "scopes": [(s, SCOPES[s]) for s in params["scope"].split()],
        "accounts": User.objects.filter(can_sign_in=True).order_by("username"),
    }


def _back_to_app(params: dict[str, str], **answer: str) -> HttpResponseRedirect:
    query = urlencode({"state": params["state"], **answer} if params["state"] else answer)
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return HttpResponseRedirect(params["redirect_uri"] + separator + query)


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    client, failure = _authenticated_client(request)
    if failure:
        return failure
    grant_type = request.POST.get("grant_type", "")
    if grant_type == "authorization_code":
        return _exchange_code(request, client)
    if grant_type == "refresh_token":
        return _refresh(request, client)
    return errors.oauth_error(
        "invalid_request",
        "Value passed for the grant type was invalid. Grant type should be one of "
        "[authorization_code, refresh_token].",
    )


def _authenticated_client(request: HttpRequest) -> tuple[Client | None, JsonResponse | None]:
    """Confidential clients by HTTP Basic, public ones by client_id in the body (§6.2)."""
    missing_header = errors.oauth_error(
        "unauthorized_client", "Missing valid authorization header", status=401
    )
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, missing_header
        client = Client.objects.filter(pk=client_id).first()
        if client is None or not client.is_confidential:
            return None, missing_header
        if not hmac.compare_digest(client.client_secret, secret):
            return None, missing_header
        body_id = request.POST.get("client_id")
        if body_id and body_id != client_id:
            return None, errors.oauth_error(
                "invalid_request", "Value passed for client_id was invalid."
            )
        return client, None
    client_id = request.POST.get("client_id")
    if not client_id:
        return None, errors.oauth_error(
            "invalid_request", "Missing required parameter [client_id]."
        )
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return None, errors.oauth_error("invalid_client", "Client authentication failed.", 401)
    if client.is_confidential:
        return None, missing_header
    return client, None


def _exchange_code(request: HttpRequest, client: Client) -> JsonResponse:
    invalid = errors.oauth_error(
        "invalid_request", "Value passed for the authorization code was invalid."
    )
    with transaction.atomic():
        code = _single_use(Grant.CODE, request.POST.get("code", ""), client)
        if code is None:
            return invalid
        if code.expires_at <= clock.now() or request.POST.get("redirect_uri") != code.redirect_uri:
            return invalid
        if not _verifier_matches(request.POST.get("code_verifier", ""), code):
            return errors.oauth_error(
                "invalid_request",
                "Value passed for the code verifier did not match the code challenge.",
            )
        code.used_at = clock.now()
        code.save(update_fields=["used_at"])
        return _token_response(client, code.user, code.scopes, code.family)


def _verifier_matches(verifier: str, code: Grant) -> bool:
    if not _VERIFIER.match(verifier):
        return False
    if code.code_challenge_method == "PLAIN":
        return hmac.compare_digest(verifier, code.code_challenge)
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return hmac.compare_digest(expected, code.code_challenge)


def _refresh(request: HttpRequest, client: Client) -> JsonResponse:
    invalid = errors.oauth_error("invalid_request", "Value passed for the token was invalid.")
    with transaction.atomic():
        old = _single_use(Grant.REFRESH, request.POST.get("refresh_token", ""), client)
        if old is None:
            return invalid
        old.used_at = clock.now()
        old.save(update_fields=["used_at"])
        return _token_response(client, old.user, old.scopes, old.family)


def _single_use(kind: str, value: str, client: Client) -> Grant | None:
    """An unspent code or refresh token of this client. Spending one twice revokes everything
    its authorization produced: a replayed code (RFC 6749 §4.1.2), a reused rotated refresh token."""
    grant = Grant.objects.filter(token_hash=tokens.digest(value), kind=kind, client=client).first()
    if grant is None or grant.revoked_at:
        return None
    if grant.used_at:
        _revoke_family(grant.family)
        return None
    return grant


def _token_response(client: Client, user: User, scopes: str, family: str) -> JsonResponse:
    ttl = settings.XSANDBOX_ACCESS_TOKEN_TTL
    body = {
        "token_type": "bearer",
        "expires_in": ttl,
        "access_token": tokens.mint(
            Grant.ACCESS, client=client, user=user, scopes=scopes, family=family, ttl=ttl
        ),
        "scope": scopes,
    }
    if "offline.access" in scopes.split():
        body["refresh_token"] = tokens.mint(
            Grant.REFRESH, client=client, user=user, scopes=scopes, family=family, ttl=None
        )
    return JsonResponse(body)


def _revoke_family(family: str) -> None:
    Grant.objects.filter(family=family, revoked_at=None).update(revoked_at=clock.now())


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> JsonResponse:
    client, failure = _authenticated_client(request)
    if failure:
        return failure
    grant = Grant.objects.filter(
        token_hash=tokens.digest(request.POST.get("token", "")),
        client=client,
        kind__in=[Grant.ACCESS, Grant.REFRESH],
    ).first()
    if grant is not None:
        if grant.kind == Grant.REFRESH:
            # Revoking the refresh token ends the authorization, access tokens included (RFC 7009 §2.1).
            _revoke_family(grant.family)
        else:
            Grant.objects.filter(pk=grant.pk).update(revoked_at=clock.now())
    # RFC 7009: unknown tokens are not an error.
    return JsonResponse({"revoked": True})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    accounts = User.objects.filter(can_sign_in=True).order_by("username")
    return render(request, "xsandbox/home.html", {"accounts": accounts})
