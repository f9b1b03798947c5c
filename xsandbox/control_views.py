"""/_sandbox/: switches for tests and demos (faults, the clock, clients, tokens, new events) and the
ground truth a full sync should reproduce. Guarded by the admin bearer token; not part of X's API."""

import functools
import hmac
import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from xsandbox import clock
from xsandbox.models import Client, Fault, Grant, User


def admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.encode(), settings.XSANDBOX_ADMIN_TOKEN.encode()
        ):
            return JsonResponse({"error": "the sandbox admin token is required"}, status=401)
        try:
            request.json = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "the body must be JSON"}, status=400)
        try:
            return view(request, *args, **kwargs)
        except (KeyError, ValueError, User.DoesNotExist) as exc:
            return JsonResponse({"error": f"bad request: {exc!r}"}, status=400)

    return wrapper


def _user(username: str) -> User:
    return User.objects.get(username=username)


@admin_only
def faults(request: HttpRequest) -> JsonResponse:
    """POST {"username", "kind": 429|500|503|slow|malformed|drop, "count"?: n, "seconds"?: s}
    switches a fault on for that account's next `count` API calls (all, if absent);
    DELETE ?username= clears them."""
    if request.method == "DELETE":
        deleted, _ = Fault.objects.filter(user=_user(request.GET["username"])).delete()
        return JsonResponse({"cleared": deleted})
    kind = str(request.json["kind"])
    if kind not in Fault.KINDS:
        raise ValueError(f"kind must be one of {Fault.KINDS}")
    fault = Fault.objects.create(
        user=_user(request.json["username"]),
        kind=kind,
        remaining=request.json.get("count"),
        seconds=float(request.json.get("seconds", 0)),
    )
    return JsonResponse({"id": fault.pk, "kind": fault.kind, "remaining": fault.remaining})


@admin_only
def clock_view(request: HttpRequest) -> JsonResponse:
    """POST {"advance_seconds": n} moves the sandbox clock forward; GET reads it."""
    if request.method == "POST":
        clock.advance(float(request.json["advance_seconds"]))
    return JsonResponse({"now": clock.now().isoformat()})


@admin_only
def clients(request: HttpRequest) -> JsonResponse:
    """POST {"client_id", "client_secret"?, "name", "redirect_uris": [...]} registers an app."""
    client, _ = Client.objects.update_or_create(
        client_id=request.json["client_id"],
        defaults={
            "client_secret": request.json.get("client_secret", ""),
            "name": request.json.get("name", "Test app"),
            "redirect_uris": list(request.json["redirect_uris"]),
        },
    )
    return JsonResponse({"client_id": client.client_id, "redirect_uris": client.redirect_uris})


@admin_only
def tokens_view(request: HttpRequest) -> JsonResponse:
    """POST {"username", "action": "expire_access"|"revoke_refresh"} spoils that account's tokens;
    GET ?username= lists its grants (never their values)."""
    if request.method == "POST":
        user, action = _user(request.json["username"]), request.json["action"]
        now = clock.now()
        if action == "expire_access":
            changed = Grant.objects.filter(user=user, kind=Grant.ACCESS).update(expires_at=now)
        elif action == "revoke_refresh":
            changed = Grant.objects.filter(user=user, kind=Grant.REFRESH, revoked_at=None).update(
                revoked_at=now
            )
        else:
            raise ValueError("action must be expire_access or revoke_refresh")
        return JsonResponse({"changed": changed})
    grants = Grant.objects.filter(user=_user(request.GET["username"])).order_by("created_at")
    now = clock.now()
    return JsonResponse(
        {
            "grants": [
                {
                    "kind": g.kind,
                    "scopes": g.scopes,
                    "client_id": g.client_id,
                    "live": g.revoked_at is None
                    and g.used_at is None
                    and (g.expires_at is None or g.expires_at > now),
                    "revoked": g.revoked_at is not None,
                    "used": g.used_at is not None,
                }
                for g in grants
            ]
        }
    )


@admin_only
def events(request: HttpRequest) -> JsonResponse:
    """POST {"conversation_id"? | "with"?: [a, b], "sender", "text", "event_type"?, "participants"?,
    "media_type"?, "card"?} adds an event now, as if someone had just sent it."""
    from xsandbox import seed

    body = request.json
    conversation_id = body.get("conversation_id")
    if not conversation_id:
        conversation_id = seed.ensure_one_to_one(*body["with"]).id
    event = seed.add_event(
        conversation_id=conversation_id,
        sender=body.get("sender"),
        text=body.get("text", ""),
        event_type=body.get("event_type", "MessageCreate"),
        participants=body.get("participants", []),
        media_type=body.get("media_type"),
        card=body.get("card"),
    )
    return JsonResponse({"id": str(event.id), "conversation_id": event.conversation_id})


@admin_only
def truth(request: HttpRequest, username: str) -> JsonResponse:
    """Everything a complete sync of this account should have cached."""
    from xsandbox import render

    truth = render.ground_truth(_user(username), base_url=request.build_absolute_uri("/"))
    return JsonResponse(truth, json_dumps_params={"ensure_ascii": False})
