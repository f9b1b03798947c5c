"""Per-user rate-limit windows, reported in x-rate-limit-* headers like X does."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from xsandbox import clock
from xsandbox.models import RateWindow, User


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset: int  # Unix epoch seconds
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset),
        }


def spend(user: User, bucket: str, limit: int, window_seconds: int) -> Budget:
    now = clock.now()
    window = timedelta(seconds=window_seconds)
    with transaction.atomic():
        rw, _ = RateWindow.objects.select_for_update().get_or_create(
            user=user, bucket=bucket, defaults={"window_start": now}
        )
        if now >= rw.window_start + window:
            rw.window_start, rw.used = now, 0
        allowed = rw.used < limit
        if allowed:
            rw.used += 1
        rw.save()
    reset = int((rw.window_start + window).timestamp())
    return Budget(limit, limit - rw.used, reset, allowed)
