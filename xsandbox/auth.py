"""What stands in front of every /2/ API view: the bearer token, faults, the rate limit, scopes."""

import functools
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse

from xsandbox import errors, rate, tokens
from xsandbox.models import Fault, Grant, User

View = Callable[..., HttpResponse]

# The DM GET endpoints share one per-user bucket (X's 2022 integration guide, tweepy's recordings).
DM_BUCKET = "dm"


def api_view(*, scopes: set[str], bucket: str = DM_BUCKET) -> Callable[[View], View]:
    """Authenticate like X: 401 without a live user token (and no rate-limit headers, as X does),
    then account faults, then the rate limit, then scopes (403). The view gets `request.x_user`
    and `request.x_grant`."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            grant = _bearer_grant(request)
            if grant is None:
                return errors.unauthorized()
            user = grant.user
            fault = take_fault(user)
            if fault is not None:
                if fault.kind == "slow":
                    time.sleep(fault.seconds)
                elif fault.kind == "drop":
                    return _drop_connection(request)
                elif fault.kind in ("500", "503"):
                    return errors.server_error(int(fault.kind))
            limit, window = _limits(bucket)
            budget = rate.spend(user, bucket, limit, window)
            if fault is not None and fault.kind == "429":
                budget = rate.Budget(budget.limit, 0, budget.reset, allowed=False)
            if not budget.allowed:
                response = errors.too_many_requests()
            elif not scopes <= set(grant.scopes.split()):
                response = errors.forbidden()
            else:
                request.x_user, request.x_grant = user, grant
                response = view(request, *args, **kwargs)
            for name, value in budget.headers().items():
                response[name] = value
            if fault is not None and fault.kind == "malformed" and response.status_code == 200:
                response.content = response.content[: max(1, len(response.content) // 2)]
            return response

        return wrapper

    return decorate


def _bearer_grant(request: HttpRequest) -> Grant | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return tokens.live_access_grant(value.strip())


def _limits(bucket: str) -> tuple[int, int]:
    return {
        "users_me": settings.XSANDBOX_USERS_ME_RATE_LIMIT,
        "users_lookup": settings.XSANDBOX_USERS_ME_RATE_LIMIT,
        "dm_media": settings.XSANDBOX_MEDIA_RATE_LIMIT,
    }.get(bucket, settings.XSANDBOX_RATE_LIMIT)


def take_fault(user: User) -> Fault | None:
    """The oldest fault switched on for this account, counting this request against it."""
    with transaction.atomic():
        fault = user.faults.select_for_update().order_by("created_at", "id").first()
        if fault is None:
            return None
        if fault.remaining is not None:
            if fault.remaining <= 1:
                fault.delete()
            else:
                Fault.objects.filter(pk=fault.pk).update(remaining=F("remaining") - 1)
    return fault


def _drop_connection(request: HttpRequest) -> HttpResponse:
    # The sandbox server (xsandbox.server) hands views a way to cut the TCP connection mid-request,
    # so the client sees a real connection reset rather than an HTTP answer.
    drop = request.META.get("xsandbox.drop")
    if drop is None:
        raise ConnectionAbortedError("dropped by an xsandbox fault")
    drop()
    return HttpResponse(status=500)
