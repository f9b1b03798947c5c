"""Always-on sync: every signed-in account is synced every SYNC_INTERVAL_SECONDS with nobody
visiting (one request when nothing is new), so the cache keeps what X's 30-day window lets go.

Each account's slot is SyncState.next_sync_at, spread by jitter so accounts don't all fire at
once. `claim_due` claims a due account by moving its slot forward with a conditional UPDATE
(healthchecks' `sendalerts` style): of several schedulers that see the same due row, exactly one
updates it and enqueues the sync, and the others move on. Nothing is held between claims, so a
scheduler killed at any point leaves nothing locked. Accounts whose tokens are gone (signed out)
or refused for good (needs_reauth) are not scheduled: the person signs in again.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations import tasks
from conversations.models import SyncState
from dmreader.models import XAccount

# Each slot lands within ±JITTER of the interval, so accounts that signed in together drift apart.
JITTER = 0.1


def interval() -> timedelta:
    return timedelta(seconds=settings.SYNC_INTERVAL_SECONDS)


def next_slot(now: datetime) -> datetime:
    return now + interval() * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (spread, not secrecy)


def _syncable() -> Q:
    """SyncState rows of accounts we may sync: tokens held and not refused by X."""
    return Q(owner__x_account__needs_reauth=False) & ~Q(owner__x_account__access_token="")


def claim_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Enqueue a sync of each account whose slot has come (up to `limit`); the owners enqueued."""
    now = now or timezone.now()
    _give_slots(now)
    due = (
        SyncState.objects.filter(_syncable(), next_sync_at__lte=now)
        .exclude(status=SyncState.NEEDS_REAUTH)
        .order_by("next_sync_at")
        .values_list("pk", "owner_id", "next_sync_at")[:limit]
    )
    claimed = []
    for pk, owner_id, slot in due:
        with transaction.atomic():
            # The claim and the task row commit together: a slot is never taken without its sync.
            if SyncState.objects.filter(pk=pk, next_sync_at=slot).update(
                next_sync_at=next_slot(now)
            ):
                tasks.request_sync(owner_id)
                claimed.append(owner_id)
    return claimed


def _give_slots(now: datetime) -> None:
    """A first slot, anywhere within one interval, for accounts that have none yet (new sign-ins,
    and every account once after an upgrade: they must not all fire at the first tick)."""
    unscheduled = XAccount.objects.filter(needs_reauth=False, user__sync_state__isnull=True)
    SyncState.objects.bulk_create(
        [
            SyncState(owner_id=user_id, next_sync_at=_first_slot(now))
            for user_id in unscheduled.exclude(access_token="").values_list("user_id", flat=True)
        ],
        ignore_conflicts=True,
    )
    for pk in SyncState.objects.filter(next_sync_at__isnull=True).values_list("pk", flat=True):
        SyncState.objects.filter(pk=pk, next_sync_at__isnull=True).update(
            next_sync_at=_first_slot(now)
        )


def _first_slot(now: datetime) -> datetime:
    return now + interval() * random.random()  # noqa: S311 (spread, not secrecy)


def sync_if_stale(owner_id: int, state: SyncState | None) -> bool:
    """A person opening the inbox after more than an interval away gets a sync at once rather
    than at the account's next slot. True if one was requested."""
    now = timezone.now()
    if state is None or state.status != SyncState.IDLE:
        return False  # under way, or due again by itself (rate limit, backoff), or refused
    last = state.last_success_at or state.last_started_at
    if last is not None and now - last < interval():
        return False
    tasks.request_sync(owner_id)
    return True
