"""Sync: the only writer of the DM cache.

An account's inbox is filled by passes over /2/dm_events, newest first, 100 events a page. A pass
ends at the first page that reaches an event cached before it began (so a sync with nothing new
costs one request) or where X has nothing older (the 30-day window). The pass's cursor is saved in
the same transaction as each page's rows, so a crash or restart resumes where it stopped, with no
event lost or stored twice. Nothing cached is ever deleted because X stopped returning it.

A conversation a person opens is filled through /2/dm_conversations/{id}/dm_events with its own
cursor, and may spend the requests a background pass leaves in reserve.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import search, xapi
from conversations.models import (
    Conversation,
    DmEvent,
    Media,
    SharedPost,
    SyncRun,
    SyncState,
    XUser,
    sort_id,
)
from dmreader import xauth
from dmreader.models import XAccount

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)


@dataclass
class Progress:
    pages: int = 0
    events: int = 0
    requests: int = 0
    oldest: datetime | None = None
    waiting_until: datetime | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    status: str  # one of SyncState's statuses, or "busy" when another sync holds the account
    progress: Progress
    retry_at: datetime | None = None
    error: str = ""


OnProgress = Callable[[Progress], None]


def sync_account(
    owner_id: int, *, full: bool = False, max_wait: float = 0, on_progress: OnProgress | None = None
) -> Outcome:
    """Bring an account's cache up to date (or walk X's whole window again with `full`)."""
    return _run(
        owner_id, "full" if full else "inbox", max_wait, on_progress, _inbox_pass, full=full
    )


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
        conversation_x_id="-".join(sorted([participant_id, me], key=int)),
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


def _run(
    owner_id, kind, max_wait, on_progress, sync_pass, *, interactive=False, **kwargs
) -> Outcome:
    """Run one pass and record how it ended. Inbox passes hold the account's lease, so two never
    run at once; a conversation a person is reading is fetched beside them (its rows are written
    idempotently), which is how it jumps the queue."""
    state, _ = SyncState.objects.get_or_create(owner_id=owner_id)
    progress = Progress()
    if not interactive:
        if not _take_lease(owner_id):
            return Outcome("busy", progress)
        SyncState.objects.filter(pk=state.pk).update(
            status=SyncState.RUNNING, last_started_at=timezone.now(), last_error=""
        )
        state.refresh_from_db()
    run = SyncRun.objects.create(owner_id=owner_id, kind=kind)
    reader = _reader(owner_id, state, max_wait, progress, on_progress, interactive)
    outcome = Outcome(SyncState.IDLE, progress)
    try:
        sync_pass(owner_id, state, reader, progress, on_progress or (lambda _: None), **kwargs)
    except xapi.RateLimited as exc:
        outcome = Outcome(SyncState.WAITING, progress, retry_at=exc.reset_at, error=str(exc))
    except (xauth.XAuthError, xapi.Unauthorized, xapi.Forbidden) as exc:
        permanent = not isinstance(exc, xauth.XAuthError) or exc.permanent
        status = SyncState.NEEDS_REAUTH if permanent else SyncState.FAILED
        outcome = Outcome(status, progress, error=str(exc))
    except xapi.XApiError as exc:
        outcome = Outcome(SyncState.FAILED, progress, error=str(exc))
    finally:
        _finish(owner_id, run, outcome, reader, exclusive=not interactive)
    return outcome


def _reader(owner_id, state, max_wait, progress, on_progress, interactive) -> xapi.Reader:
    account_id = XAccount.objects.values_list("pk", flat=True).get(user_id=owner_id)
    budget = xapi.Budget(
        limit=state.rate_limit,
        remaining=state.rate_remaining,
        reset_at=state.rate_reset_at,
        interactive=interactive,
    )

    def remember(rate_limit: xapi.RateLimit | None) -> None:
        progress.requests += 1
        fields = {"requests_made": F("requests_made") + 1}
        if not interactive:
            fields["lease_until"] = timezone.now() + LEASE
        if rate_limit is not None:
            fields.update(
                rate_limit=rate_limit.limit,
                rate_remaining=rate_limit.remaining,
                rate_reset_at=rate_limit.reset_at,
            )
        else:
            fields.update(rate_remaining=0, rate_reset_at=budget.reset_at)
        SyncState.objects.filter(owner_id=owner_id).update(**fields)

    def waiting(until: datetime) -> None:
        progress.waiting_until = until
        fields = {"rate_reset_at": until}
        if not interactive:
            fields.update(status=SyncState.WAITING, lease_until=until + LEASE)
        SyncState.objects.filter(owner_id=owner_id).update(**fields)
        if on_progress:
            on_progress(progress)

    return xapi.Reader(
        token=lambda stale: xauth.fresh_access_token(account_id, stale=stale),
        budget=budget,
        max_wait=max_wait,
        on_request=remember,
        on_wait=waiting,
    )


def _take_lease(owner_id: int) -> bool:
    """Claim the account for one sync. A lease that ran out (a worker killed mid-sync) is free."""
    SyncState.objects.get_or_create(owner_id=owner_id)
    now = timezone.now()
    claimed = SyncState.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), owner_id=owner_id
    ).update(lease_until=now + LEASE)
    return claimed == 1


def refresh_statistics() -> None:
    """Let SQLite's query planner know the cache's shape. Without statistics it walks the
    owner's events in date order probing the full-text index row by row, and a rare word takes
    seconds at a million events instead of milliseconds (bench/search_bench.py). A sampled
    ANALYZE costs a few milliseconds; PostgreSQL's autovacuum keeps its own statistics."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE conversations_dmevent")


def _finish(
    owner_id: int, run: SyncRun, outcome: Outcome, reader: xapi.Reader, *, exclusive: bool
) -> None:
    now = timezone.now()
    if exclusive:
        fields = {"status": outcome.status, "lease_until": None, "last_error": outcome.error[:2000]}
        if outcome.status == SyncState.IDLE:
            fields["last_success_at"] = now
        if outcome.retry_at:
            fields["rate_reset_at"] = outcome.retry_at
        SyncState.objects.filter(owner_id=owner_id).update(**fields)
    elif outcome.status == SyncState.NEEDS_REAUTH:
        SyncState.objects.filter(owner_id=owner_id).update(status=SyncState.NEEDS_REAUTH)
    run.finished_at = now
    run.requests_made = reader.requests_made
    run.pages = outcome.progress.pages
    run.events_stored = outcome.progress.events
    run.outcome = outcome.status
    run.error = "\n".join([outcome.error, *outcome.progress.problems]).strip()[:10000]
    run.save()
    if outcome.progress.events:
        refresh_statistics()
    if outcome.error:
        logger.info("Sync of user %s ended %s: %s", owner_id, outcome.status, outcome.error)


def _inbox_pass(owner_id, state, reader, progress, on_progress, *, full: bool) -> None:
    if not state.pass_token:
        newest = "" if full else _newest_cached(owner_id)
        SyncState.objects.filter(pk=state.pk).update(
            pass_stop_id=newest, pass_started_at=timezone.now()
        )
        state.refresh_from_db()
    while True:
        try:
            answer = reader.get(xapi.all_events_path(), xapi.dm_events_params(state.pass_token))
        except xapi.InvalidRequest:
            if not state.pass_token:
                raise
            # X no longer knows the saved cursor: start the pass again from the newest page.
            state.pass_token = ""
            continue
        next_token = _next_token(answer.body)

        def write(body=answer.body, next_token=next_token) -> bool:
            new, reached = store_page(owner_id, body, stop_id=state.pass_stop_id, progress=progress)
            done = reached or not next_token
            fields = {
                "pass_token": "" if done else next_token,
                "pages": F("pages") + 1,
                "events_stored": F("events_stored") + new,
            }
            if done:
                fields["pass_stop_id"] = ""
            if not next_token:
                fields["backfill_complete"] = True
            SyncState.objects.filter(pk=state.pk).update(**fields)
            return done

        done = _atomically(write)
        state.pass_token = "" if done else next_token
        progress.pages += 1
        on_progress(progress)
        if done:
            return


def _conversation_pass(
    owner_id,
    state,
    reader,
    progress,
    on_progress,
    *,
    conversation_x_id: str,
    pages: int | None,
    path: str = "",
) -> None:
    conversation = _conversation(owner_id, conversation_x_id)
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
        next_token = _next_token(answer.body)

        def write(body=answer.body, next_token=next_token) -> None:
            store_page(owner_id, body, progress=progress, conversation_x_id=conversation.x_id)
            Conversation.objects.filter(pk=conversation.pk).update(
                history_token=next_token, history_complete=not next_token
            )
            SyncState.objects.filter(pk=state.pk).update(pages=F("pages") + 1)

        _atomically(write)
        conversation.history_token = next_token
        conversation.history_complete = not next_token
        progress.pages += 1
        on_progress(progress)


def _atomically(write: Callable[[], object]) -> object:
    """A page's rows and its cursor commit together. On PostgreSQL a conversation fetch and the
    inbox pass may insert the same event at once; the loser runs again and finds it cached."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        with transaction.atomic():
            return write()


def _next_token(body: dict) -> str:
    meta = body.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) else ""


def _newest_cached(owner_id: int) -> str:
    newest = (
        DmEvent.objects.filter(owner_id=owner_id).order_by("-sort_id").values("sort_id").first()
    )
    return newest["sort_id"] if newest else ""


def _conversation(owner_id: int, x_id: str) -> Conversation:
    conversation, _ = Conversation.objects.get_or_create(
        owner_id=owner_id, x_id=x_id, defaults={"is_group": "-" not in x_id}
    )
    return conversation


# Storing one page -----------------------------------------------------------------------------


def store_page(
    owner_id: int,
    body: dict,
    *,
    progress: Progress,
    stop_id: str = "",
    conversation_x_id: str = "",
) -> tuple[int, bool]:
    """Cache one page of DM events with its includes. Returns how many events were new and
    whether the page reached `stop_id` (an event cached before the pass began).

    Anything odd is stored as it came (unknown event types and fields stay in `raw`) or reported
    in progress.problems; nothing in a page can stop the sync."""
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    _record_errors(body.get("errors"), progress)
    users = _store_users(owner_id, _objects(includes.get("users")))
    _mark_unavailable_users(owner_id, body.get("errors"), users)
    media = _store_media(owner_id, _objects(includes.get("media")))
    posts = _store_posts(owner_id, _objects(includes.get("tweets")), users)
    _mark_unavailable_posts(owner_id, body.get("errors"), posts)

    events = []
    for raw in _objects(body.get("data")):
        event = _parse_event(owner_id, raw, conversation_x_id, progress)
        if event is not None:
            events.append(event)
    reached = bool(stop_id) and any(e.sort_id <= stop_id for e in events)
    existing = set(
        DmEvent.objects.filter(owner_id=owner_id, x_id__in=[e.x_id for e in events]).values_list(
            "x_id", flat=True
        )
    )
    fresh = {e.x_id: e for e in events if e.x_id not in existing}
    if not fresh:
        return 0, reached

    conversations = _conversations_for(owner_id, fresh.values())
    mentioned = {
        uid
        for e in fresh.values()
        for uid in [e.sender_x_id, *e.participant_ids, *_one_to_one_ids(e.conversation_x_id)]
        if uid
    }
    users.update(_ensure_users(owner_id, mentioned - users.keys()))
    for event in fresh.values():
        event.conversation = conversations[event.conversation_x_id]
        event.sender = users.get(event.sender_x_id)
    DmEvent.objects.bulk_create(fresh.values())
    _link(fresh.values(), media, posts)
    _update_conversations(conversations, fresh.values(), users)
    progress.events += len(fresh)
    oldest = min(e.created_at for e in fresh.values())
    progress.oldest = min(progress.oldest, oldest) if progress.oldest else oldest
    return len(fresh), reached


def _record_errors(errors, progress: Progress) -> None:
    """X's partial errors (a sender or post it could not return) go on the run's record, once."""
    for error in _objects(errors):
        what = f"{error.get('resource_type', 'object')} {error.get('resource_id') or error.get('value')}"
        note = f"X did not return {what}: {error.get('title') or error.get('detail') or 'no reason given'}"
        if note not in progress.problems:
            progress.problems.append(note[:300])


def _objects(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _parse_event(owner_id, raw: dict, conversation_x_id: str, progress: Progress) -> DmEvent | None:
    x_id = raw.get("id")
    conversation = raw.get("dm_conversation_id") or conversation_x_id
    created_at = _datetime(raw.get("created_at"))
    if not isinstance(x_id, str) or not x_id.isdigit() or len(x_id) > 19:
        progress.problems.append(f"Skipped an event with an unusable id: {str(x_id)[:40]!r}")
        return None
    if not isinstance(conversation, str) or not conversation or created_at is None:
        progress.problems.append(f"Skipped event {x_id}: no conversation id or creation time")
        return None
    event = DmEvent(
        owner_id=owner_id,
        x_id=x_id,
        sort_id=sort_id(x_id),
        event_type=str(raw.get("event_type", ""))[:40],
        created_at=created_at,
        text=raw.get("text") if isinstance(raw.get("text"), str) else "",
        sender_x_id=_id(raw.get("sender_id")),
        participant_ids=[p for p in raw.get("participant_ids") or [] if isinstance(p, str)],
        entities=raw.get("entities") if isinstance(raw.get("entities"), dict) else {},
        raw=raw,
    )
    event.conversation_x_id = conversation
    attachments = raw.get("attachments") if isinstance(raw.get("attachments"), dict) else {}
    event.media_keys = [k for k in attachments.get("media_keys") or [] if isinstance(k, str)]
    event.post_ids = [
        r["id"]
        for r in raw.get("referenced_tweets") or []
        if isinstance(r, dict) and _id(r.get("id"))
    ]
    event.search_text = search.normalize(event.text)
    event.has_link = _has_own_link(event.entities, event.post_ids)
    return event


def _has_own_link(entities: dict, post_ids: list[str]) -> bool:
    """A link the sender wrote, not the one X appends for an attachment or a shared post."""
    for url in entities.get("urls") or []:
        if not isinstance(url, dict) or url.get("media_key"):
            continue
        target = str(url.get("unwound_url") or url.get("expanded_url") or "")
        if not any(target.rstrip("/").endswith(f"/status/{post}") for post in post_ids):
            return True
    return False


def _id(value) -> str:
    return value if isinstance(value, str) and value.isdigit() and len(value) <= 19 else ""


def _datetime(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _one_to_one_ids(conversation_x_id: str) -> list[str]:
    return conversation_x_id.split("-") if "-" in conversation_x_id else []


_USER_COLUMNS = {
    "username": "",
    "name": "",
    "profile_image_url": "",
    "description": "",
    "location": "",
    "url": "",
    "protected": False,
    "verified": False,
    "verified_type": "",
    "public_metrics": {},
}


def _unchanged(raw: dict, data: dict) -> bool:
    return all(raw.get(key) == value for key, value in data.items())


def _store_users(owner_id: int, objects: list[dict]) -> dict[str, XUser]:
    """Upsert includes.users: newer data wins, fields X left out keep what we knew."""
    found = {o["id"]: o for o in objects if _id(o.get("id"))}
    users = {u.x_id: u for u in XUser.objects.filter(owner_id=owner_id, x_id__in=found)}
    created, updated = [], []
    for x_id, data in found.items():
        user = users.get(x_id) or XUser(owner_id=owner_id, x_id=x_id)
        if user.pk and not user.unavailable and _unchanged(user.raw, data):
            continue  # most pages repeat the same people: skip rewriting them
        for column, empty in _USER_COLUMNS.items():
            value = data.get(column, getattr(user, column) if user.pk else empty)
            if isinstance(value, type(empty)):
                setattr(user, column, value[:500] if isinstance(value, str) else value)
        user.created_at = _datetime(data.get("created_at")) or user.created_at
        user.unavailable = False
        user.raw = {**user.raw, **data}
        (updated if user.pk else created).append(user)
        users[x_id] = user
    XUser.objects.bulk_create(created)
    if updated:
        XUser.objects.bulk_update(
            updated, [*_USER_COLUMNS, "created_at", "unavailable", "raw", "updated_at"]
        )
    return users


def _ensure_users(owner_id: int, x_ids: set[str]) -> dict[str, XUser]:
    """Rows for ids X named without an includes object (so events can point at someone)."""
    users = {u.x_id: u for u in XUser.objects.filter(owner_id=owner_id, x_id__in=x_ids)}
    missing = [XUser(owner_id=owner_id, x_id=x) for x in x_ids if x not in users]
    XUser.objects.bulk_create(missing)
    return {**users, **{u.x_id: u for u in missing}}


def _not_found_ids(errors, resource_type: str) -> set[str]:
    return {
        e.get("resource_id") or e.get("value")
        for e in _objects(errors)
        if e.get("resource_type") == resource_type and _id(e.get("resource_id") or e.get("value"))
    }


def _mark_unavailable_users(owner_id: int, errors, users: dict[str, XUser]) -> None:
    gone = _not_found_ids(errors, "user")
    if gone:
        users.update(_ensure_users(owner_id, gone))
        XUser.objects.filter(owner_id=owner_id, x_id__in=gone).update(unavailable=True)


def _store_media(owner_id: int, objects: list[dict]) -> dict[str, Media]:
    found = {o["media_key"]: o for o in objects if isinstance(o.get("media_key"), str)}
    media = {m.media_key: m for m in Media.objects.filter(owner_id=owner_id, media_key__in=found)}
    created, updated = [], []
    for key, data in found.items():
        item = media.get(key) or Media(owner_id=owner_id, media_key=key)
        if item.pk and _unchanged(item.raw, data):
            continue
        item.type = str(data.get("type", item.type))[:20]
        for column in ("url", "preview_image_url", "alt_text"):
            value = data.get(column)
            if isinstance(value, str):
                setattr(item, column, value)
        for column in ("width", "height", "duration_ms"):
            value = data.get(column)
            if isinstance(value, int) and value >= 0:
                setattr(item, column, value)
        item.variants = (
            data["variants"] if isinstance(data.get("variants"), list) else item.variants
        )
        item.public_metrics = data.get("public_metrics") or item.public_metrics
        item.raw = {**item.raw, **data}
        (updated if item.pk else created).append(item)
        media[key] = item
    Media.objects.bulk_create(created)
    if updated:
        Media.objects.bulk_update(
            updated,
            ["type", "url", "preview_image_url", "alt_text", "width", "height", "duration_ms",
             "variants", "public_metrics", "raw"],
        )  # fmt: skip
    return media


def _store_posts(
    owner_id: int, objects: list[dict], users: dict[str, XUser]
) -> dict[str, SharedPost]:
    found = {o["id"]: o for o in objects if _id(o.get("id"))}
    posts = {p.x_id: p for p in SharedPost.objects.filter(owner_id=owner_id, x_id__in=found)}
    authors = {_id(o.get("author_id")) for o in found.values()} - users.keys() - {""}
    users.update(_ensure_users(owner_id, authors))
    created, updated = [], []
    for x_id, data in found.items():
        post = posts.get(x_id) or SharedPost(owner_id=owner_id, x_id=x_id)
        if post.pk and not post.unavailable and _unchanged(post.raw, data):
            continue
        post.author_x_id = _id(data.get("author_id")) or post.author_x_id
        post.author = users.get(post.author_x_id)
        post.text = data["text"] if isinstance(data.get("text"), str) else post.text
        post.created_at = _datetime(data.get("created_at")) or post.created_at
        post.lang = str(data.get("lang") or post.lang)[:10]
        post.entities = (
            data.get("entities") if isinstance(data.get("entities"), dict) else post.entities
        )
        refs = data.get("referenced_tweets")
        post.referenced_tweets = refs if isinstance(refs, list) else post.referenced_tweets
        post.public_metrics = data.get("public_metrics") or post.public_metrics
        post.unavailable = False
        post.raw = {**post.raw, **data}
        (updated if post.pk else created).append(post)
        posts[x_id] = post
    SharedPost.objects.bulk_create(created)
    if updated:
        SharedPost.objects.bulk_update(
            updated,
            ["author_x_id", "author", "text", "created_at", "lang", "entities",
             "referenced_tweets", "public_metrics", "unavailable", "raw"],
        )  # fmt: skip
    return posts


def _mark_unavailable_posts(owner_id: int, errors, posts: dict[str, SharedPost]) -> None:
    gone = _not_found_ids(errors, "tweet")
    if not gone:
        return
    known = {p.x_id: p for p in SharedPost.objects.filter(owner_id=owner_id, x_id__in=gone)}
    missing = [SharedPost(owner_id=owner_id, x_id=x, unavailable=True) for x in gone - known.keys()]
    SharedPost.objects.bulk_create(missing)
    # A post we had before keeps its text: it was deleted on X, not in our cache.
    SharedPost.objects.filter(owner_id=owner_id, x_id__in=known).update(unavailable=True)
    posts.update(known)
    posts.update({p.x_id: p for p in missing})


def _conversations_for(owner_id: int, events) -> dict[str, Conversation]:
    x_ids = {e.conversation_x_id for e in events}
    found = {c.x_id: c for c in Conversation.objects.filter(owner_id=owner_id, x_id__in=x_ids)}
    missing = [
        Conversation(owner_id=owner_id, x_id=x, is_group="-" not in x) for x in x_ids - found.keys()
    ]
    Conversation.objects.bulk_create(missing)
    return {**found, **{c.x_id: c for c in missing}}


def _link(events, media: dict[str, Media], posts: dict[str, SharedPost]) -> None:
    media_links, post_links = [], []
    for event in events:
        media_links += [
            DmEvent.media.through(dmevent_id=event.pk, media_id=media[k].pk)
            for k in event.media_keys
            if k in media
        ]
        post_links += [
            DmEvent.shared_posts.through(dmevent_id=event.pk, sharedpost_id=posts[p].pk)
            for p in event.post_ids
            if p in posts
        ]
    DmEvent.media.through.objects.bulk_create(media_links, ignore_conflicts=True)
    DmEvent.shared_posts.through.objects.bulk_create(post_links, ignore_conflicts=True)


def _update_conversations(conversations: dict[str, Conversation], events, users) -> None:
    latest: dict[str, DmEvent] = {}
    members: dict[str, set[str]] = {}
    for event in events:
        key = event.conversation_x_id
        if key not in latest or (event.created_at, event.sort_id) > (
            latest[key].created_at,
            latest[key].sort_id,
        ):
            latest[key] = event
        ids = {event.sender_x_id, *event.participant_ids, *_one_to_one_ids(key)} - {""}
        members.setdefault(key, set()).update(ids)
    changed = []
    for key, event in latest.items():
        conversation = conversations[key]
        current = conversation.last_event_at
        if current is None or event.created_at >= current:
            conversation.last_event_id, conversation.last_event_at = event.pk, event.created_at
            changed.append(conversation)
    Conversation.objects.bulk_update(changed, ["last_event", "last_event_at"])
    through = Conversation.participants.through
    through.objects.bulk_create(
        [
            through(conversation_id=conversations[key].pk, xuser_id=users[uid].pk)
            for key, ids in members.items()
            for uid in ids
            if uid in users
        ],
        ignore_conflicts=True,
    )
