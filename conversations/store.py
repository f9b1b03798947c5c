"""The only writer of cached rows: DM events, X users, media, shared posts, conversations and the
links between them.

It takes parsed objects (xapi.DmPage and its parts), never X's JSON, so a sync and a later import
of an X archive write the same rows the same way. Storing is idempotent: an event already cached
is skipped; users, media and posts are upserted (newer data wins, fields left out keep what we
knew); a conversation's inbox position only moves forward.

U+0000. X's texts may contain NUL, which PostgreSQL's text and jsonb cannot hold. Both databases
store the same thing:
- text columns show it as U+2400 "␀": one code point for one, so X's entity indices still fit;
- JSON columns (raw, entities, …) keep it through a reversible encoding: U+E000 (private use) is
  an escape, NUL is written U+E000 "0" and U+E000 itself U+E000 U+E000. `as_sent(raw)` undoes it.

A page the database refuses (a DataError or IntegrityError for some value in it) is stored again
one event at a time; an event it still refuses is set aside as an UnstoredEvent, with its payload
and the reason, for operators, and the rest of the page is stored: one bad event never blocks the
history behind it. A later sync that stores the event removes it from the set-aside rows.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models import Prefetch

from conversations import rendering, search, xids
from conversations.models import (
    Conversation,
    DmEvent,
    HistoryGap,
    Media,
    SharedPost,
    UnstoredEvent,
    XUser,
    media_kinds_of,
)
from conversations.xapi import DmPage, EventData, MediaData, PostData, UserData

NUL, VISIBLE_NUL, ESCAPE = "\x00", "\u2400", "\ue000"
_ESCAPED = re.compile(ESCAPE + "(.)", re.DOTALL)
# An archive's rename of a group (importing.py keeps the name as the event's text).
CONVERSATION_NAME_UPDATE = "ConversationNameUpdate"

# What the database refuses because of a value: worth storing event by event. Anything else (a
# lost connection, a locked or full database) is not about the data and fails the sync, which is
# retried as a whole.
_REFUSED = (DataError, IntegrityError)


@dataclass
class Stored:
    new: int = 0  # events cached by this call
    oldest: datetime | None = None  # the oldest of them
    problems: list[str] = field(default_factory=list)  # events set aside, and why

    def add(self, other: "Stored") -> None:
        self.new += other.new
        if other.oldest and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest
        self.problems += other.problems


def store_page(owner_id: int, page: DmPage) -> Stored:
    """Cache a parsed page of DM events with its includes."""
    return store_events(
        owner_id,
        page.events,
        users=page.users,
        media=page.media,
        posts=page.posts,
        gone_users=page.gone("user"),
        gone_posts=page.gone("tweet"),
    )


def store_events(
    owner_id: int,
    events: list[EventData],
    *,
    users: Iterable[UserData] = (),
    media: Iterable[MediaData] = (),
    posts: Iterable[PostData] = (),
    gone_users: Iterable[str] = (),
    gone_posts: Iterable[str] = (),
) -> Stored:
    """Cache events and the users, media and posts they refer to; `gone_*` are ids X reported
    missing (deleted posts, suspended accounts), kept with what we knew and marked unavailable."""
    batch = _Batch(
        list(events), list(users), list(media), list(posts), set(gone_users), set(gone_posts)
    )
    try:
        with transaction.atomic():
            return _store(owner_id, batch)
    except _REFUSED:
        pass
    stored = Stored()
    for event in batch.events:
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    stored.add(_store(owner_id, batch.about(event)))
                break
            except _REFUSED as exc:
                # The first retry covers a race: a conversation fetch cached the same event.
                if attempt == 2:
                    stored.problems.append(_set_aside(owner_id, event, exc))
    return stored


def store_users(owner_id: int, users: Iterable[UserData], gone: Iterable[str] = ()) -> None:
    """People X described on their own (GET /2/users?ids=), and the ids it reported missing."""
    with transaction.atomic():
        found, renamed = _store_users(owner_id, list(users))
        _mark_unavailable_users(owner_id, set(gone), found)
        _render_bodies(owner_id, _events_showing(authors=renamed))


def note_archive_files(owner_id: int, files: dict[str, str]) -> None:
    """The API's media of messages an archive also has: their file, named in raw["archive_file"],
    is now in the media storage (importing.store_media_files), served from there."""
    if not files:
        return
    rows = list(Media.objects.filter(owner_id=owner_id, media_key__in=list(files)))
    for row in rows:
        row.raw = {**row.raw, "archive_file": storable_json(files[row.media_key])}
    Media.objects.bulk_update(rows, ["raw"])


def as_sent(value):
    """A JSON column's value as X sent it (the NUL encoding above undone)."""
    if isinstance(value, str):
        return (
            _ESCAPED.sub(lambda m: NUL if m[1] == "0" else m[1], value)
            if ESCAPE in value
            else value
        )
    if isinstance(value, dict):
        return {as_sent(k): as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    return value


def storable_json(value):
    """X's JSON made storable in jsonb, reversibly (see the module's docstring)."""
    if isinstance(value, str):
        if NUL in value or ESCAPE in value:
            return value.replace(ESCAPE, ESCAPE + ESCAPE).replace(NUL, ESCAPE + "0")
        return value
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value


def close_gaps(owner_id: int, covered_until: datetime) -> int:
    """An imported archive holds every DM up to `covered_until` (its generation date, or its newest
    event): the gaps it covers, the inbox's and each conversation's, are filled and go. Returns
    how many were closed."""
    deleted, _ = HistoryGap.objects.filter(owner_id=owner_id, before_at__lte=covered_until).delete()
    return deleted


def refresh_statistics() -> None:
    """Let SQLite's query planner know the cache's shape. Without statistics it walks the
    owner's events in date order probing the full-text index row by row, and a rare word takes
    seconds at a million events instead of milliseconds (bench/search_bench.py). A sampled
    ANALYZE costs a few milliseconds; PostgreSQL's autovacuum keeps its own statistics."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE conversations_dmevent")


@dataclass
class _Batch:
    events: list[EventData]
    users: list[UserData]
    media: list[MediaData]
    posts: list[PostData]
    gone_users: set[str]
    gone_posts: set[str]

    def about(self, event: EventData) -> "_Batch":
        """Only what one event refers to, so another event's bad include cannot sink it."""
        posts = [p for p in self.posts if p.id in event.post_ids]
        people = {
            event.sender_id,
            *event.participant_ids,
            *xids.one_to_one_members(event.conversation_id),
            *(p.author_id for p in posts),
        }
        return _Batch(
            [event],
            [u for u in self.users if u.id in people],
            [m for m in self.media if m.media_key in event.media_keys],
            posts,
            self.gone_users & people,
            self.gone_posts & set(event.post_ids),
        )


def _store(owner_id: int, batch: _Batch) -> Stored:
    users, renamed = _store_users(owner_id, batch.users)
    _mark_unavailable_users(owner_id, batch.gone_users, users)
    media, changed_media = _store_media(owner_id, batch.media)
    posts, changed_posts = _store_posts(owner_id, batch.posts, users)
    _mark_unavailable_posts(owner_id, batch.gone_posts, posts)
    # Messages cached before that show what just changed (a photo's alt text, a post's text, its
    # author's name) are rendered again.
    _render_bodies(owner_id, _events_showing(changed_media, changed_posts, renamed))

    ids = [e.id for e in batch.events]
    existing = set(
        DmEvent.objects.filter(owner_id=owner_id, x_id__in=ids).values_list("x_id", flat=True)
    )
    existing -= _replace_imported(owner_id, batch.events, existing)
    _add_archive_data(owner_id, batch.events, existing)
    fresh = {e.id: e for e in batch.events if e.id not in existing}
    if not fresh:
        return Stored()
    conversations = _conversations_for(owner_id, fresh.values())
    mentioned = {uid for e in fresh.values() for uid in _members(e)}
    users.update(_ensure_users(owner_id, mentioned - users.keys()))
    media, posts = _with_cached(owner_id, fresh.values(), media, posts)
    rows = {
        x_id: _event_row(owner_id, e, conversations, users, media, posts)
        for x_id, e in fresh.items()
    }
    DmEvent.objects.bulk_create(rows.values())
    UnstoredEvent.objects.filter(owner_id=owner_id, x_id__in=list(fresh)).delete()
    _link(fresh.values(), rows, media, posts)
    _update_conversations(conversations, fresh.values(), rows, users)
    return Stored(new=len(fresh), oldest=min(e.created_at for e in fresh.values()))


def _replace_imported(owner_id: int, events: list[EventData], existing: set[str]) -> set[str]:
    """Where X's API and an imported archive both have an event, the API wins (issue 10 §3): rows
    an import wrote are removed here so the API's event is stored in their place. What only the
    archive had (reactions, its own object) is kept in the new row's raw["archive"]."""
    from_api = {e.id: e for e in events if e.id in existing and e.raw.get("source") != "archive"}
    if not from_api:
        return set()
    imported = {
        row.x_id: row
        for row in DmEvent.objects.filter(
            owner_id=owner_id, x_id__in=list(from_api), raw__source="archive"
        )
    }
    for x_id, row in imported.items():
        from_api[x_id].raw["archive"] = as_sent(row.raw.get("archive"))
    DmEvent.objects.filter(pk__in=[row.pk for row in imported.values()]).delete()
    return set(imported)


def _add_archive_data(owner_id: int, events: list[EventData], existing: set[str]) -> None:
    """An archive imported after a sync: the API's row stays as X's API gave it, and what only the
    archive has (reactions, its own object) is added to it as raw["archive"], once."""
    from_archive = {
        e.id: e for e in events if e.id in existing and e.raw.get("source") == "archive"
    }
    if not from_archive:
        return
    rows = [
        row
        for row in DmEvent.objects.filter(owner_id=owner_id, x_id__in=list(from_archive)).only(
            "pk", "x_id", "raw"
        )
        if row.raw.get("source") != "archive" and "archive" not in row.raw
    ]
    for row in rows:
        row.raw = {**row.raw, "archive": storable_json(from_archive[row.x_id].raw["archive"])}
    DmEvent.objects.bulk_update(rows, ["raw"])


def _set_aside(owner_id: int, event: EventData, exc: Exception) -> str:
    reason = f"{type(exc).__name__}: {exc}".replace(NUL, VISIBLE_NUL)[:2000]
    UnstoredEvent.objects.update_or_create(
        owner_id=owner_id,
        x_id=event.id,
        defaults={
            "conversation_x_id": event.conversation_id,
            "reason": reason,
            # ASCII JSON: NUL and everything else escaped, so this row can always be written.
            "payload": json.dumps(event.raw, ensure_ascii=True, sort_keys=True),
        },
    )
    return f"Set aside event {event.id} (the database refused it): {reason[:200]}"


def _fit(model: type[models.Model], column: str, value: str) -> str:
    """A text from X as a column can hold it: NUL shown as ␀, cut to the column's length."""
    value = value.replace(NUL, VISIBLE_NUL)
    limit = model._meta.get_field(column).max_length
    return value[:limit] if limit else value


def _members(event: EventData) -> set[str]:
    return {
        event.sender_id,
        *event.participant_ids,
        *xids.one_to_one_members(event.conversation_id),
    } - {""}


def _event_row(owner_id: int, event: EventData, conversations, users, media, posts) -> DmEvent:
    text = _fit(DmEvent, "text", event.text)
    folded = search.normalize(text)
    attached = [media[k] for k in event.media_keys if k in media]
    row = DmEvent(
        owner_id=owner_id,
        conversation=conversations[event.conversation_id],
        x_id=event.id,
        sort_id=xids.sort_id(event.id),
        event_type=_fit(DmEvent, "event_type", event.event_type),
        created_at=event.created_at,
        text=text,
        search_text=folded,
        characters=search.characters_of(folded),
        has_link=event.has_own_link,
        # The media linked to it (_link): those stored with it or cached before.
        media_kinds=media_kinds_of(m.type for m in attached),
        sender=users.get(event.sender_id),
        sender_x_id=event.sender_id,
        participant_ids=event.participant_ids,
        entities=storable_json(event.entities),
        raw=storable_json(event.raw),
    )
    # Rendered before it is saved: one INSERT, no UPDATE after it (a page's worth of UPDATEs
    # was most of what storing cost).
    _render(row, attached, [posts[p] for p in event.post_ids if p in posts])
    return row


_USER_TEXT = (
    "username",
    "name",
    "profile_image_url",
    "description",
    "location",
    "url",
    "verified_type",
)


def _store_users(owner_id: int, found: list[UserData]) -> tuple[dict[str, XUser], list[int]]:
    """Upsert includes.users: newer data wins, fields X left out keep what we knew. Also returns
    the ids of the rows whose name or username changed (message bodies show them)."""
    by_id = {u.id: u for u in found}
    users = {u.x_id: u for u in XUser.objects.filter(owner_id=owner_id, x_id__in=by_id)}
    created, updated, renamed = [], [], []
    for x_id, data in by_id.items():
        raw = storable_json(data.raw)
        user = users.get(x_id) or XUser(owner_id=owner_id, x_id=x_id)
        if user.pk and not user.unavailable and _unchanged(user.raw, raw):
            continue  # most pages repeat the same people: skip rewriting them
        named = (user.name, user.username)
        for column in _USER_TEXT:
            value = getattr(data, column)
            if value is not None:
                setattr(user, column, _fit(XUser, column, value))
        for column in ("protected", "verified"):
            if getattr(data, column) is not None:
                setattr(user, column, getattr(data, column))
        if data.public_metrics is not None:
            user.public_metrics = storable_json(data.public_metrics)
        user.created_at = data.created_at or user.created_at
        user.unavailable = False
        user.raw = {**user.raw, **raw}
        (updated if user.pk else created).append(user)
        if user.pk and (user.name, user.username) != named:
            renamed.append(user.pk)
        users[x_id] = user
    XUser.objects.bulk_create(created)
    if updated:
        XUser.objects.bulk_update(
            updated,
            [*_USER_TEXT, "protected", "verified", "public_metrics", "created_at", "unavailable",
             "raw", "updated_at"],
        )  # fmt: skip
    return users, renamed


def _unchanged(stored: dict, raw: dict) -> bool:
    return all(stored.get(key) == value for key, value in raw.items())


def _ensure_users(owner_id: int, x_ids: set[str]) -> dict[str, XUser]:
    """Rows for ids X named without an includes object (so events can point at someone)."""
    users = {u.x_id: u for u in XUser.objects.filter(owner_id=owner_id, x_id__in=x_ids)}
    missing = [XUser(owner_id=owner_id, x_id=x) for x in x_ids if x not in users]
    XUser.objects.bulk_create(missing)
    return {**users, **{u.x_id: u for u in missing}}


def _mark_unavailable_users(owner_id: int, gone: set[str], users: dict[str, XUser]) -> None:
    if gone:
        users.update(_ensure_users(owner_id, gone))
        XUser.objects.filter(owner_id=owner_id, x_id__in=gone).update(unavailable=True)


def _store_media(owner_id: int, found: list[MediaData]) -> tuple[dict[str, Media], list[int]]:
    by_key = {m.media_key: m for m in found}
    media = {m.media_key: m for m in Media.objects.filter(owner_id=owner_id, media_key__in=by_key)}
    created, updated = [], []
    for key, data in by_key.items():
        raw = storable_json(data.raw)
        item = media.get(key) or Media(owner_id=owner_id, media_key=key)
        if item.pk and _unchanged(item.raw, raw):
            continue
        for column in ("type", "url", "preview_image_url", "alt_text"):
            value = getattr(data, column)
            if value is not None:
                setattr(item, column, _fit(Media, column, value))
        for column in ("width", "height", "duration_ms"):
            if getattr(data, column) is not None:
                setattr(item, column, getattr(data, column))
        if data.variants is not None:
            item.variants = storable_json(data.variants)
        if data.public_metrics is not None:
            item.public_metrics = storable_json(data.public_metrics)
        item.raw = {**item.raw, **raw}
        (updated if item.pk else created).append(item)
        media[key] = item
    Media.objects.bulk_create(created)
    if updated:
        Media.objects.bulk_update(
            updated,
            ["type", "url", "preview_image_url", "alt_text", "width", "height", "duration_ms",
             "variants", "public_metrics", "raw"],
        )  # fmt: skip
    return media, [item.pk for item in updated]


def _store_posts(
    owner_id: int, found: list[PostData], users: dict[str, XUser]
) -> tuple[dict[str, SharedPost], list[int]]:
    by_id = {p.id: p for p in found}
    known = SharedPost.objects.select_related("author").filter(owner_id=owner_id, x_id__in=by_id)
    posts = {p.x_id: p for p in known}
    authors = {p.author_id for p in by_id.values()} - users.keys() - {""}
    users.update(_ensure_users(owner_id, authors))
    created, updated = [], []
    for x_id, data in by_id.items():
        raw = storable_json(data.raw)
        post = posts.get(x_id) or SharedPost(owner_id=owner_id, x_id=x_id)
        if post.pk and not post.unavailable and _unchanged(post.raw, raw):
            continue
        post.author_x_id = data.author_id or post.author_x_id
        post.author = users.get(post.author_x_id)
        if data.text is not None:
            post.text = _fit(SharedPost, "text", data.text)
        post.created_at = data.created_at or post.created_at
        if data.lang is not None:
            post.lang = _fit(SharedPost, "lang", data.lang)
        for column in ("entities", "referenced_tweets", "public_metrics"):
            if getattr(data, column) is not None:
                setattr(post, column, storable_json(getattr(data, column)))
        post.unavailable = False
        post.raw = {**post.raw, **raw}
        (updated if post.pk else created).append(post)
        posts[x_id] = post
    SharedPost.objects.bulk_create(created)
    if updated:
        SharedPost.objects.bulk_update(
            updated,
            ["author_x_id", "author", "text", "created_at", "lang", "entities",
             "referenced_tweets", "public_metrics", "unavailable", "raw"],
        )  # fmt: skip
    return posts, [post.pk for post in updated]


def _mark_unavailable_posts(owner_id: int, gone: set[str], posts: dict[str, SharedPost]) -> None:
    if not gone:
        return
    cached = SharedPost.objects.select_related("author").filter(owner_id=owner_id, x_id__in=gone)
    known = {p.x_id: p for p in cached}
    missing = [SharedPost(owner_id=owner_id, x_id=x, unavailable=True) for x in gone - known.keys()]
    SharedPost.objects.bulk_create(missing)
    # A post we had before keeps its text: it was deleted on X, not in our cache.
    SharedPost.objects.filter(owner_id=owner_id, x_id__in=known).update(unavailable=True)
    posts.update(known)
    posts.update({p.x_id: p for p in missing})


def _conversations_for(owner_id: int, events: Iterable[EventData]) -> dict[str, Conversation]:
    x_ids = {e.conversation_id for e in events}
    found = {c.x_id: c for c in Conversation.objects.filter(owner_id=owner_id, x_id__in=x_ids)}
    missing = [
        Conversation(owner_id=owner_id, x_id=x, is_group=xids.is_group(x))
        for x in x_ids - found.keys()
    ]
    Conversation.objects.bulk_create(missing)
    return {**found, **{c.x_id: c for c in missing}}


def _name_groups(conversations: dict[str, Conversation], events) -> None:
    """A group's latest rename in X's archive (conversationNameUpdate: its text is the name)
    becomes the name it is shown by, unless the row knows a later one: imports in any order end
    on the newest name."""
    renamed = []
    for event in sorted(events, key=lambda e: e.created_at):
        row = conversations[event.conversation_id]
        if event.event_type != CONVERSATION_NAME_UPDATE or not row.is_group:
            continue
        if row.archive_name_at is None or event.created_at >= row.archive_name_at:
            row.archive_name = _fit(Conversation, "archive_name", event.text.strip())
            row.archive_name_at = event.created_at
            renamed.append(row)
    if renamed:
        Conversation.objects.bulk_update(set(renamed), ["archive_name", "archive_name_at"])


GROUP_NAME_MAX = Conversation._meta.get_field("name").max_length


def name_group(owner_id: int, x_id: str, name: str) -> Conversation:
    """The owner's own name for one of their groups ("" to go back to the archive's name or the
    participants'). The caller has checked it (views.rename_group); a one-to-one has no name."""
    name = " ".join(name.split())
    if len(name) > GROUP_NAME_MAX:
        raise ValueError(f"a group name is at most {GROUP_NAME_MAX} characters")
    updated = Conversation.objects.filter(owner_id=owner_id, x_id=x_id, is_group=True).update(
        name=name.replace(NUL, VISIBLE_NUL)
    )
    if not updated:
        raise Conversation.DoesNotExist(x_id)
    return Conversation.objects.get(owner_id=owner_id, x_id=x_id)


def conversation(owner_id: int, x_id: str) -> Conversation:
    """The owner's row for a conversation, made if it is not cached yet (before its events)."""
    row, _ = Conversation.objects.get_or_create(
        owner_id=owner_id, x_id=x_id, defaults={"is_group": xids.is_group(x_id)}
    )
    return row


def _with_cached(owner_id: int, events: Iterable[EventData], media, posts) -> tuple[dict, dict]:
    """The events' attachments and shared posts: those stored with them, or cached before (a
    restore stores a backup's media and posts first, then its events in batches)."""
    wanted_media = {k for e in events for k in e.media_keys} - media.keys()
    if wanted_media:
        media = {**media, **_cached(Media.objects, owner_id, "media_key", wanted_media)}
    wanted_posts = {p for e in events for p in e.post_ids} - posts.keys()
    if wanted_posts:
        found = _cached(SharedPost.objects.select_related("author"), owner_id, "x_id", wanted_posts)
        posts = {**posts, **found}
    return media, posts


def _link(events: Iterable[EventData], rows: dict[str, DmEvent], media, posts) -> None:
    media_links, post_links = [], []
    for event in events:
        pk = rows[event.id].pk
        media_links += [
            DmEvent.media.through(dmevent_id=pk, media_id=media[k].pk)
            for k in event.media_keys
            if k in media
        ]
        post_links += [
            DmEvent.shared_posts.through(dmevent_id=pk, sharedpost_id=posts[p].pk)
            for p in event.post_ids
            if p in posts
        ]
    DmEvent.media.through.objects.bulk_create(media_links, ignore_conflicts=True)
    DmEvent.shared_posts.through.objects.bulk_create(post_links, ignore_conflicts=True)


def _events_showing(media=(), posts=(), authors=()) -> set[int]:
    """The events whose body shows any of these media, shared posts or posts' authors (pks)."""
    found: set[int] = set()
    if media:
        links = DmEvent.media.through.objects.filter(media_id__in=list(media))
        found.update(links.values_list("dmevent_id", flat=True))
    post_links = DmEvent.shared_posts.through.objects
    if posts:
        found.update(
            post_links.filter(sharedpost_id__in=list(posts)).values_list("dmevent_id", flat=True)
        )
    if authors:
        by_author = post_links.filter(sharedpost__author_id__in=list(authors))
        found.update(by_author.values_list("dmevent_id", flat=True))
    return found


_RENDER_BATCH = 500


def _render(row: DmEvent, media=None, posts=None) -> None:
    row.body_html = rendering.render_body(row, media, posts)
    row.preview_html = rendering.render_preview(row, media, posts)
    row.body_version = rendering.body_version()


def _render_bodies(owner_id: int, event_pks: Iterable[int]) -> None:
    """Render again and keep the bodies and inbox lines of these cached events, and their
    media_kinds: a medium stored again may have changed type (an archive's file named a photo by
    its suffix, then X's API says which it is)."""
    pks = sorted(event_pks)
    for start in range(0, len(pks), _RENDER_BATCH):
        rows = list(
            DmEvent.objects.filter(owner_id=owner_id, pk__in=pks[start : start + _RENDER_BATCH])
            .only("pk", "x_id", "text", "entities")
            .prefetch_related(
                "media",
                Prefetch("shared_posts", queryset=SharedPost.objects.select_related("author")),
            )
        )
        for row in rows:
            _render(row)
            row.media_kinds = media_kinds_of(m.type for m in row.media.all())
        # Small batches: bulk_update's CASE WHEN grows with the batch on every row it updates.
        DmEvent.objects.bulk_update(
            rows, ["body_html", "preview_html", "body_version", "media_kinds"], batch_size=50
        )


def render_stale_bodies(owner_id: int | None = None, batch: int = 2000) -> int:
    """Render again every body other code made (after the rendering changed); how many."""
    rows = DmEvent.objects.exclude(body_version=rendering.body_version())
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    done, last = 0, 0
    while chunk := list(
        rows.filter(pk__gt=last).order_by("pk").values_list("owner_id", "pk")[:batch]
    ):
        with transaction.atomic():
            for owner in {o for o, _ in chunk}:
                _render_bodies(owner, [pk for o, pk in chunk if o == owner])
        done, last = done + len(chunk), chunk[-1][1]
    return done


def _cached(rows, owner_id: int, key: str, values: set[str]) -> dict:
    rows = rows.filter(owner_id=owner_id, **{f"{key}__in": values})
    return {getattr(row, key): row for row in rows}


def keep_conversations(owner_id: int, conversations: Iterable[tuple[str, list[str], bool]]) -> None:
    """Conversations as a backup describes them, `(x_id, participant ids, history complete)`:
    made if not cached, their participants added, and marked complete when the backup says X
    had nothing older (never unmarked: a sync may know better since)."""
    found = {x_id: (members, complete) for x_id, members, complete in conversations}
    rows = {c.x_id: c for c in Conversation.objects.filter(owner_id=owner_id, x_id__in=found)}
    missing = [
        Conversation(owner_id=owner_id, x_id=x, is_group=xids.is_group(x))
        for x in found.keys() - rows.keys()
    ]
    Conversation.objects.bulk_create(missing)
    rows.update({c.x_id: c for c in missing})
    people = {uid for members, _ in found.values() for uid in members}
    users = _ensure_users(owner_id, people)
    through = Conversation.participants.through
    through.objects.bulk_create(
        [
            through(conversation_id=rows[x_id].pk, xuser_id=users[uid].pk)
            for x_id, (members, _) in found.items()
            for uid in members
        ],
        ignore_conflicts=True,
    )
    complete = [rows[x_id].pk for x_id, (_, done) in found.items() if done]
    Conversation.objects.filter(pk__in=complete, history_complete=False).update(
        history_complete=True
    )


def _update_conversations(
    conversations: dict[str, Conversation], events, rows: dict[str, DmEvent], users
) -> None:
    latest: dict[str, EventData] = {}
    members: dict[str, set[str]] = {}
    for event in events:
        key = event.conversation_id
        if key not in latest or (event.created_at, xids.sort_id(event.id)) > (
            latest[key].created_at,
            xids.sort_id(latest[key].id),
        ):
            latest[key] = event
        members.setdefault(key, set()).update(_members(event))
    changed = []
    for key, event in latest.items():
        row = conversations[key]
        if row.last_event_at is None or event.created_at >= row.last_event_at:
            row.last_event_id, row.last_event_at = rows[event.id].pk, event.created_at
            changed.append(row)
    Conversation.objects.bulk_update(changed, ["last_event", "last_event_at"])
    _name_groups(conversations, events)
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
