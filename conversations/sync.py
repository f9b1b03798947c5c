"""Sync: fetching an account's DMs from X into the cache, one pass at a time.

An account's inbox is filled by passes over /2/dm_events, newest first, 100 events a page. A pass
ends where X has nothing older (the 30-day window) or at the first page that reaches the account's
watermark: the newest event below which an earlier inbox pass cached everything (SyncState).
Events a conversation fetch cached prove nothing about the rest of the inbox, so they never end a
pass. The pass's cursor is saved in the same transaction as each page's rows, so a crash or
restart resumes where it stopped, with no event lost or stored twice. Nothing cached is ever
deleted because X stopped returning it.

A conversation a person opens is filled through /2/dm_conversations/{id}/dm_events with its own
cursor, and may spend the requests a background pass leaves in reserve.

Inbox passes hold the account's lease, renewed with every request and page and every few seconds
of a wait, so a worker that dies lets go within LEASE_SECONDS and the sync resumes (tasks.py).
Every ending is recorded (SyncState, SyncRun): an unexpected error is a failure with its reason,
retried by itself after a backoff. Rows are written by store.py, X's JSON is read by xapi.py.
"""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from conversations import store, xapi, xids
from conversations.models import (
    Conversation,
    DmEvent,
    HistoryGap,
    SyncRun,
    SyncState,
    XUser,
)
from conversations.store import refresh_statistics
from dmreader import xauth
from dmreader.models import XAccount

logger = logging.getLogger(__name__)

# A lease outlives its holder by at most this; the holder renews it far more often than that.
LEASE_SECONDS = 60
# A failed sync is retried after 1, 2, 4 … minutes, at most an hour apart.
RETRY_SECONDS, RETRY_MAX_SECONDS = 60, 3600
# How far back /2/dm_events reaches: https://docs.x.com/x-api/direct-messages (events of the last
# 30 days only).
X_WINDOW = timedelta(days=30)

__all__ = ["Outcome", "Progress", "refresh_statistics", "store_page", "sync_account"]


def _lease() -> timedelta:
    # Tests shorten these through settings (a killed worker's lease runs out in seconds).
    return timedelta(seconds=getattr(settings, "SYNC_LEASE_SECONDS", LEASE_SECONDS))


def _retry_delay(failures: int) -> timedelta:
    base = getattr(settings, "SYNC_RETRY_SECONDS", RETRY_SECONDS)
    return timedelta(seconds=min(base * 2 ** max(failures - 1, 0), RETRY_MAX_SECONDS))


@dataclass
class Progress:
    pages: int = 0
    events: int = 0
    requests: int = 0
    oldest: datetime | None = None
    waiting_until: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def record(self, page: xapi.DmPage, stored: store.Stored) -> None:
        self.events += stored.new
        if stored.oldest and (self.oldest is None or stored.oldest < self.oldest):
            self.oldest = stored.oldest
        self.problems += page.problems
        # X's partial errors (a sender or post it could not return) go on the run's record once.
        for note in (e.note for e in page.errors):
            if note not in self.problems:
                self.problems.append(note)
        self.problems += stored.problems


@dataclass(frozen=True)
class Outcome:
    status: str  # one of SyncState's statuses, or "busy" when another sync holds the account
    progress: Progress
    retry_at: datetime | None = None  # when a waiting or failed sync continues by itself
    error: str = ""


OnProgress = Callable[[Progress], None]


def sync_account(
    owner_id: int, *, full: bool = False, max_wait: float = 0, on_progress: OnProgress | None = None
) -> Outcome:
    """Bring an account's cache up to date (or walk X's whole window again with `full`). People
    an archive named by id only and X could not be asked about at the import (its rate limit, a
    failure) are asked about after a sync that went well: one query when there are none."""
    outcome = _run(
        owner_id, "full" if full else "inbox", max_wait, on_progress, _inbox_pass, full=full
    )
    if outcome.status == SyncState.IDLE and _unknown_users(owner_id).exists():
        resolve_unknown_users(owner_id)
    return outcome


def sync_conversation(
    owner_id: int,
    conversation_x_id: str,
    *,
    pages: int | None = None,
    max_wait: float = 0,
    on_progress: OnProgress | None = None,
) -> Outcome:
    """Fill one conversation back through its history, `pages` pages at most."""
    return _run(
        owner_id,
        "conversation",
        max_wait,
        on_progress,
        _conversation_pass,
        conversation_x_id=conversation_x_id,
        pages=pages,
        interactive=True,
    )


def sync_conversation_with(
    owner_id: int, participant_id: str, *, pages: int | None = None, max_wait: float = 0
) -> Outcome:
    """Fill the one-to-one with `participant_id` through /with/{participant_id}/dm_events, for a
    conversation opened by who it is with rather than by its id."""
    me = XAccount.objects.values_list("x_user_id", flat=True).get(user_id=owner_id)
    return _run(
        owner_id,
        "conversation",
        max_wait,
        None,
        _conversation_pass,
        conversation_x_id=xids.one_to_one_id(participant_id, me),
        path=xapi.participant_events_path(participant_id),
        pages=pages,
        interactive=True,
    )


def find_user_id(owner_id: int, username: str) -> str | None:
    """Who a @username belongs to on X (GET /2/users/by/username), for someone not cached yet;
    None if X knows no such account or could not be asked."""
    account_id = XAccount.objects.values_list("pk", flat=True).get(user_id=owner_id)
    try:
        token = xauth.fresh_access_token(account_id)
        found = xapi.get_user_by_username(token=token, username=username)
    except (xauth.XAuthError, xapi.XApiError):
        return None
    return found["id"] if found else None


# A run looks up at most this many people (10 requests); the rest wait for the next one.
RESOLVE_MAX = 1000


@dataclass
class Resolved:
    found: int = 0
    gone: int = 0
    left: int = 0  # still known by id only
    error: str = ""


def unknown_user_ids(owner_id: int) -> list[str]:
    """People the cache knows by id only (an archive names senders and members by id): no
    username, and X has not said they are gone."""
    return list(_unknown_users(owner_id).order_by("x_id").values_list("x_id", flat=True))


def _unknown_users(owner_id: int):
    return XUser.objects.filter(owner_id=owner_id, username="", unavailable=False)


def resolve_unknown_users(owner_id: int, *, limit: int = RESOLVE_MAX) -> Resolved:
    """Ask X who they are, 100 ids a request (GET /2/users?ids=); they are shown by id until
    then. X's users lookup has its own rate limit, apart from the DM endpoints' budget: a 429
    stops here and what is left waits for the next import or call, as any failure does."""
    ids = unknown_user_ids(owner_id)
    resolved = Resolved(left=len(ids))
    if not ids:
        return resolved
    account_id = XAccount.objects.values_list("pk", flat=True).get(user_id=owner_id)
    http = xapi.session()
    try:
        for start in range(0, min(len(ids), limit), xapi.USERS_PER_REQUEST):
            chunk = ids[start : start + xapi.USERS_PER_REQUEST]
            token = xauth.fresh_access_token(account_id)
            answer = xapi.get_users(token=token, ids=chunk, http=http)
            store.store_users(owner_id, answer.users, answer.gone)
            resolved.found += len(answer.users)
            resolved.gone += len(answer.gone)
    except (xauth.XAuthError, xapi.XApiError) as exc:
        resolved.error = str(exc)
        logger.info("Looking up users of user %s stopped: %s", owner_id, exc)
    resolved.left = len(unknown_user_ids(owner_id))
    return resolved


def store_page(
    owner_id: int,
    body: dict,
    *,
    progress: Progress,
    stop_id: str = "",
    conversation_x_id: str = "",
) -> tuple[int, bool]:
    """Parse and cache one page of X's JSON (for tests and tools that hold a page). Returns how
    many events were new and whether the page reached `stop_id` (a sort_id)."""
    page = xapi.parse_dm_page(body, conversation_id=conversation_x_id)
    stored = store.store_page(owner_id, page)
    progress.record(page, stored)
    return stored.new, _reaches(page, stop_id)


# Runs and the lease -----------------------------------------------------------------------------


class LeaseLost(Exception):
    """The account's lease ran out and another worker took the sync over."""


class Lease:
    """The right to run an account's inbox sync, held by one worker and renewed while it works.
    Every renewal is a conditional UPDATE on the holder, so a worker that lost the lease (it
    stalled past LEASE_SECONDS and another took over) finds out and stops."""

    def __init__(self, owner_id: int, holder: str):
        self.owner_id = owner_id
        self.holder = holder

    @classmethod
    def take(cls, owner_id: int) -> "Lease | None":
        SyncState.objects.get_or_create(owner_id=owner_id)
        now, holder = timezone.now(), secrets.token_hex(16)
        claimed = SyncState.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now), owner_id=owner_id
        ).update(lease_until=now + _lease(), lease_holder=holder)
        return cls(owner_id, holder) if claimed else None

    def renew(self, **fields) -> None:
        """Extend the lease, writing `fields` to SyncState with it; LeaseLost if it is gone."""
        renewed = SyncState.objects.filter(owner_id=self.owner_id, lease_holder=self.holder).update(
            lease_until=timezone.now() + _lease(), **fields
        )
        if not renewed:
            raise LeaseLost("Another worker took this sync over after its lease ran out.")

    def sleep(self, seconds: float) -> None:
        """Wait (for X's rate limit, or before a retry) without letting the lease run out."""
        beat = _lease().total_seconds() / 6
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, beat))
            self.renew()


def _take_lease(owner_id: int) -> str | None:
    """Claim the account for one sync (its holder id), or None if a live lease holds it."""
    lease = Lease.take(owner_id)
    return lease.holder if lease else None


def _run(
    owner_id, kind, max_wait, on_progress, sync_pass, *, interactive=False, **kwargs
) -> Outcome:
    """Run one pass and record how it ended, however it ended. Inbox passes hold the account's
    lease, so two never run at once; a conversation a person is reading is fetched beside them
    (its rows are written idempotently), which is how it jumps the queue."""
    state, _ = SyncState.objects.get_or_create(owner_id=owner_id)
    progress = Progress()
    lease = None
    if not interactive:
        lease = Lease.take(owner_id)
        if lease is None:
            return Outcome("busy", progress)
        lease.renew(
            status=SyncState.RUNNING, last_started_at=timezone.now(), last_error="", retry_at=None
        )
        state.refresh_from_db()
        # An inbox run left unfinished now had a worker that died holding the account.
        SyncRun.objects.filter(owner_id=owner_id, finished_at__isnull=True).exclude(
            kind="conversation"
        ).update(
            finished_at=timezone.now(),
            outcome="interrupted",
            error="Its worker stopped before the sync ended; the next sync resumed it.",
        )
    run = SyncRun.objects.create(owner_id=owner_id, kind=kind)
    reader = None
    try:
        reader = _reader(owner_id, state, max_wait, progress, on_progress, lease)
        on_progress = on_progress or (lambda _: None)
        sync_pass(owner_id, state, reader, progress, on_progress, lease, **kwargs)
        outcome = Outcome(SyncState.IDLE, progress)
    except LeaseLost as exc:
        outcome = Outcome("busy", progress, error=str(exc))
    except xapi.RateLimited as exc:
        retry_at = exc.reset_at or timezone.now() + _retry_delay(1)
        outcome = Outcome(SyncState.WAITING, progress, retry_at=retry_at, error=str(exc))
    except (xauth.XAuthError, xapi.Unauthorized, xapi.Forbidden) as exc:
        permanent = not isinstance(exc, xauth.XAuthError) or exc.permanent
        status = SyncState.NEEDS_REAUTH if permanent else SyncState.FAILED
        outcome = Outcome(status, progress, error=str(exc))
    except xapi.XApiError as exc:
        outcome = Outcome(SyncState.FAILED, progress, error=str(exc))
    except Exception as exc:  # a bug, the database: recorded as a failure, never as a success
        logger.exception("Sync of user %s failed", owner_id)
        outcome = Outcome(SyncState.FAILED, progress, error=f"{type(exc).__name__}: {exc}")
    return _finish(owner_id, run, outcome, reader, lease)


def _reader(owner_id, state, max_wait, progress, on_progress, lease) -> xapi.Reader:
    account_id = XAccount.objects.values_list("pk", flat=True).get(user_id=owner_id)
    budget = xapi.Budget(
        limit=state.rate_limit,
        remaining=state.rate_remaining,
        reset_at=state.rate_reset_at,
        interactive=lease is None,
    )

    def write(**fields) -> None:
        if lease is not None:
            lease.renew(**fields)
        else:
            SyncState.objects.filter(owner_id=owner_id).update(**fields)

    def remember(rate_limit: xapi.RateLimit | None) -> None:
        progress.requests += 1
        fields = {"requests_made": F("requests_made") + 1}
        if rate_limit is not None:
            fields.update(
                rate_limit=rate_limit.limit,
                rate_remaining=rate_limit.remaining,
                rate_reset_at=rate_limit.reset_at,
            )
        else:
            fields.update(rate_remaining=0, rate_reset_at=budget.reset_at)
        write(**fields)

    def waiting(until: datetime) -> None:
        progress.waiting_until = until
        if lease is not None:
            write(rate_reset_at=until, status=SyncState.WAITING, retry_at=until)
        else:
            write(rate_reset_at=until)
        if on_progress:
            on_progress(progress)

    return xapi.Reader(
        token=lambda stale: xauth.fresh_access_token(account_id, stale=stale),
        budget=budget,
        max_wait=max_wait,
        sleep=lease.sleep if lease is not None else time.sleep,
        on_request=remember,
        on_wait=waiting,
    )


def _finish(owner_id: int, run: SyncRun, outcome: Outcome, reader, lease) -> Outcome:
    now = timezone.now()
    if lease is not None and outcome.status != "busy":
        fields = {
            "status": outcome.status,
            "lease_until": None,
            "lease_holder": "",
            "last_error": outcome.error[:2000],
            "retry_at": None,
        }
        if outcome.status == SyncState.IDLE:
            fields.update(last_success_at=now, failures=0)
        elif outcome.status == SyncState.WAITING:
            fields.update(rate_reset_at=outcome.retry_at, retry_at=outcome.retry_at)
        elif outcome.status == SyncState.FAILED:
            failures = SyncState.objects.values_list("failures", flat=True).get(owner_id=owner_id)
            retry_at = now + _retry_delay(failures + 1)
            outcome = Outcome(outcome.status, outcome.progress, retry_at, outcome.error)
            fields.update(failures=failures + 1, retry_at=retry_at)
        SyncState.objects.filter(owner_id=owner_id, lease_holder=lease.holder).update(**fields)
    elif lease is None and outcome.status == SyncState.NEEDS_REAUTH:
        SyncState.objects.filter(owner_id=owner_id).update(status=SyncState.NEEDS_REAUTH)
    run.finished_at = now
    run.requests_made = reader.requests_made if reader else 0
    run.pages = outcome.progress.pages
    run.events_stored = outcome.progress.events
    run.outcome = "interrupted" if outcome.status == "busy" else outcome.status
    run.error = "\n".join([outcome.error, *outcome.progress.problems]).strip()[:10000]
    run.save()
    if outcome.progress.events:
        refresh_statistics()
    if outcome.error:
        logger.info("Sync of user %s ended %s: %s", owner_id, outcome.status, outcome.error)
    return outcome


# Passes -----------------------------------------------------------------------------------------


def _inbox_pass(owner_id, state, reader, progress, on_progress, lease, *, full: bool) -> None:
    if not state.pass_token:
        stop = "" if full else state.inbox_watermark
        lease.renew(pass_stop_id=stop, pass_top_id="", pass_started_at=timezone.now())
        state.refresh_from_db()
    while True:
        first = not state.pass_token
        try:
            answer = reader.get(xapi.all_events_path(), xapi.dm_events_params(state.pass_token))
        except xapi.InvalidRequest:
            if first:
                raise
            # X no longer knows the saved cursor: walk again from the newest page, to the same stop.
            state.pass_token = ""
            continue
        page = xapi.parse_dm_page(answer.body)
        if first:
            # Everything from here down will be cached when the pass ends: its new watermark.
            newest = max((xids.sort_id(e.id) for e in page.events), default="")
            state.pass_top_id = max(state.pass_top_id, newest)
        done = _reaches(page, state.pass_stop_id) or not page.next_token

        def write(page=page, done=done) -> store.Stored:
            stored = store.store_page(owner_id, page)
            fields = {
                "pass_token": "" if done else page.next_token,
                "pass_top_id": state.pass_top_id,
                "pages": F("pages") + 1,
                "events_stored": F("events_stored") + stored.new,
            }
            if done and not page.next_token and not _reaches(page, state.pass_stop_id):
                _record_gaps(owner_id, state)
            if done:
                watermark = max(state.inbox_watermark, state.pass_top_id)
                fields.update(pass_stop_id="", pass_top_id="", inbox_watermark=watermark)
            if not page.next_token:
                fields["backfill_complete"] = True
            lease.renew(**fields)  # the page commits only while this worker holds the account
            return stored

        with transaction.atomic():
            stored = write()
        state.pass_token = "" if done else page.next_token
        progress.pages += 1
        progress.record(page, stored)
        on_progress(progress)
        if done:
            return


def _conversation_pass(
    owner_id,
    state,
    reader,
    progress,
    on_progress,
    lease,
    *,
    conversation_x_id: str,
    pages: int | None,
    path: str = "",
) -> None:
    conversation = store.conversation(owner_id, conversation_x_id)
    path = path or xapi.conversation_events_path(conversation.x_id)
    while pages is None or progress.pages < pages:
        if conversation.history_complete:
            return
        params = xapi.dm_events_params(conversation.history_token)
        try:
            answer = reader.get(path, params)
        except xapi.InvalidRequest:
            if not conversation.history_token:
                raise
            conversation.history_token = ""
            continue
        page = xapi.parse_dm_page(answer.body, conversation_id=conversation.x_id)

        with transaction.atomic():
            stored = store.store_page(owner_id, page)
            Conversation.objects.filter(pk=conversation.pk).update(
                history_token=page.next_token, history_complete=not page.next_token
            )
            SyncState.objects.filter(pk=state.pk).update(pages=F("pages") + 1)
        conversation.history_token = page.next_token
        conversation.history_complete = not page.next_token
        progress.pages += 1
        progress.record(page, stored)
        on_progress(progress)


def _record_gaps(owner_id: int, state: SyncState) -> None:
    """The pass walked to the end of X's window without meeting the watermark: what X held
    between the two is gone and was never cached, unless the last sync that ended well is recent
    enough for X's window to still reach back to it (a quiet inbox whose newest event merely
    aged out). Recorded for the inbox and for each conversation with cached events on both sides:
    from the newest event cached before the gap to the oldest one fetched after it."""
    stop = state.pass_stop_id
    if not stop:
        return  # the account's first pass, or a full one: there was nothing to meet
    if state.last_success_at and timezone.now() - state.last_success_at < X_WINDOW:
        return
    events = DmEvent.objects.filter(owner_id=owner_id).order_by()
    before, after = events.filter(sort_id__lte=stop), events.filter(sort_id__gt=stop)
    newest_before = before.aggregate(at=Max("created_at"))["at"]
    oldest_after = after.aggregate(at=Min("created_at"))["at"]
    if newest_before is None or oldest_after is None:
        return
    gaps = [HistoryGap(owner_id=owner_id, after_at=newest_before, before_at=oldest_after)]
    ends = dict(
        before.values("conversation_id")
        .annotate(at=Max("created_at"))
        .values_list("conversation_id", "at")
    )
    starts = after.values("conversation_id").annotate(at=Min("created_at"))
    for conversation_id, at in starts.values_list("conversation_id", "at"):
        if conversation_id in ends and ends[conversation_id] < at:
            gaps.append(
                HistoryGap(
                    owner_id=owner_id,
                    conversation_id=conversation_id,
                    after_at=ends[conversation_id],
                    before_at=at,
                )
            )
    HistoryGap.objects.bulk_create(gaps)
    logger.info("Sync of user %s found a gap X no longer holds: %d recorded", owner_id, len(gaps))


def _reaches(page: xapi.DmPage, stop_id: str) -> bool:
    return bool(stop_id) and any(xids.sort_id(e.id) <= stop_id for e in page.events)
