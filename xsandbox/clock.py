"""The sandbox's notion of now, which tests can move forward (tokens expire, the 30-day window slides)."""

from datetime import datetime, timedelta

from django.utils import timezone

from xsandbox.models import SandboxState


def state() -> SandboxState:
    obj, _ = SandboxState.objects.get_or_create(pk=1)
    return obj


def now() -> datetime:
    offset = (
        SandboxState.objects.filter(pk=1).values_list("clock_offset_seconds", flat=True).first()
    )
    return timezone.now() + timedelta(seconds=offset or 0)


def advance(seconds: float) -> datetime:
    SandboxState.objects.update_or_create(pk=1, defaults={})
    s = state()
    s.clock_offset_seconds += seconds
    s.save(update_fields=["clock_offset_seconds"])
    return now()
