"""Importing X's archive, or restoring a DM Reader backup, into the cache: `ArchiveEvent`s (archive.py) mapped to the store's parsed
objects and written by store.py, the one writer, in batches.

Merging rules (issue 10 §3):
- One row per event by event id, whatever the order of import and sync: the store skips an id it
  holds, so importing the same archive twice changes nothing, and an event a sync cached first
  keeps what X's API said.
- The archive's membership events (joins, leaves, renames) have no id. Each gets a stable one made
  from its natural key: the snowflake of its time (so it sorts where it happened) with a hash of
  the rest in the low 22 bits, where X keeps its worker and sequence numbers. A second import
  makes the same id. One that a sync cached from the API (with X's own id, same type, time and
  conversation) is recognised by those and not stored again.
- What only the archive has is kept in `raw["archive"]` (reactions among it), nothing dropped.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from django.db import transaction
from django.db.models import Prefetch, Q

from conversations import media, store
from conversations.archive import (
    JOIN_CONVERSATION,
    MESSAGE_CREATE,
    PARTICIPANTS_JOIN,
    Archive,
    ArchiveError,
    ArchiveEvent,
    ArchiveFile,
    ArchiveProgress,
)
from conversations.backup import Backup
from conversations.models import DmEvent, Media, XUser
from conversations.xapi import EventData, MediaData

BATCH = 1000
TWITTER_EPOCH_MS = 1288834974657  # X's snowflake epoch (docs/x-api.md §3.3)
_VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v"}
# The link X appends to a DM's text for its photo or video.
_MEDIA_LINK = re.compile(r"https?://(?:www\.)?(?:x|twitter)\.com/messages/media/[0-9]+")
# The archive's joinConversation (the account was added) is the API's ParticipantsJoin.
_SAME_AS_API = {JOIN_CONVERSATION: PARTICIPANTS_JOIN}


@dataclass
class Imported:
    events: int = 0  # events read from the archive
    new: int = 0  # events the cache did not hold before
    newest: datetime | None = None  # the newest event read
    media_files: int = 0  # photos, videos and GIFs copied into the media storage
    problems: list[str] = field(default_factory=list)


Progress = Callable[[ArchiveProgress, Imported], None]


def import_archive(
    owner_id: int,
    archive: Archive,
    *,
    files: Iterable[ArchiveFile] | None = None,
    on_progress: Progress | None = None,
    batch_size: int = BATCH,
) -> Imported:
    """Store every DM event of the archive (or of `files`) for the owner. The caller checks the
    account first (`check_account`) and decides the transaction: the shell command imports in one,
    so a bad archive leaves the cache as it was."""
    imported = Imported()
    for data_file in files if files is not None else archive.files:
        import_file(owner_id, archive, data_file, imported, on_progress, batch_size)
    return imported


def import_file(
    owner_id: int,
    archive: Archive,
    data_file: ArchiveFile,
    imported: Imported,
    on_progress: Progress | None = None,
    batch_size: int = BATCH,
) -> None:
    batch: list[ArchiveEvent] = []
    for event in archive.events_of(data_file):
        batch.append(event)
        if len(batch) >= batch_size:
            store_batch(owner_id, batch, imported, archive=archive)
            batch = []
            if on_progress:
                on_progress(archive.progress, imported)
    if batch:
        store_batch(owner_id, batch, imported, archive=archive)
    if on_progress:
        on_progress(archive.progress, imported)


def store_batch(
    owner_id: int, batch: list[ArchiveEvent], imported: Imported, *, archive: Archive | None = None
) -> None:
    """Write a batch of the archive's events through the store (the Import page's worker commits
    each batch with its progress: import_jobs.py). With `archive`, the batch's media files are
    first copied into the media storage (media.store_archive_file), so imported photos show
    without X; a file already stored is skipped, so a resumed batch costs nothing twice."""
    synced = store_media_files(owner_id, archive, batch, imported) if archive is not None else set()
    batch = _without_known_membership(owner_id, batch)
    events = [event_data(e) for e in batch]
    # A message a sync cached keeps the API's media (the archive's file is stored under its key).
    media = [m for e in batch if e.id not in synced for m in media_data(e)]
    with transaction.atomic():
        stored = store.store_events(owner_id, events, media=media)
    imported.events += len(events)
    imported.new += stored.new
    newest = max((e.created_at for e in batch), default=None)
    if newest is not None and (imported.newest is None or newest > imported.newest):
        imported.newest = newest
    imported.problems += stored.problems


def store_media_files(
    owner_id: int, archive: Archive, batch: list[ArchiveEvent], imported: Imported
) -> set[str]:
    """Copy the batch's media files into the media storage. A message a sync cached already has
    the API's Media rows: its file is stored under the API's media key (and the row told so), so
    that photo too shows without X. Returns the ids of those messages."""
    with_media = [e.id for e in batch if e.media and e.id]
    synced: dict[str, list[str]] = {}
    if with_media:
        rows = (
            # Rows the API gave: no raw["source"] (a missing key is NULL, which exclude() drops).
            DmEvent.objects.filter(owner_id=owner_id, x_id__in=with_media)
            .filter(Q(raw__source__isnull=True) | ~Q(raw__source="archive"))
            .prefetch_related(Prefetch("media", queryset=Media.objects.order_by("pk")))
        )
        synced = {row.x_id: [m.media_key for m in row.media.all()] for row in rows}
    noted: dict[str, str] = {}
    for event in batch:
        x_id = archive_id(event)
        keys = synced.get(x_id) or [_media_key(x_id, i) for i in range(len(event.media))]
        for item, key in zip(event.media, keys, strict=False):
            try:
                with archive.open_media(item.name) as source:
                    stored = media.store_archive_file(owner_id, key, source, size=item.size)
            except ArchiveError as damaged:
                # One damaged photo costs that photo, not the import (its message is kept).
                imported.problems.append(str(damaged))
                continue
            if not stored:
                imported.problems.append(
                    f"{item.name} was not imported: larger than "
                    f"{media.MAX_MEDIA_BYTES // 1_000_000} MB, or not a photo or video."
                )
                continue
            imported.media_files += 1
            if x_id in synced:
                noted[key] = item.name
    store.note_archive_files(owner_id, noted)
    return set(synced)


def archive_id(event: ArchiveEvent) -> str:
    """The event's id: X's for a message, a stable one from its natural key otherwise."""
    if event.id:
        return event.id
    ms = int(event.created_at.timestamp() * 1000)
    key = repr(event.natural_key()).encode()
    return str(((ms - TWITTER_EPOCH_MS) << 22) | (zlib.crc32(key) & 0x3FFFFF))


def event_data(event: ArchiveEvent) -> EventData:
    x_id = archive_id(event)
    return EventData(
        id=x_id,
        conversation_id=event.conversation_id,
        event_type=event.event_type,
        created_at=event.created_at,
        text=event.name if not event.id and event.name else event.text,
        sender_id=event.sender_id,
        participant_ids=list(event.participant_ids),
        entities=_entities(event),
        media_keys=[_media_key(x_id, i) for i in range(len(event.media))],
        post_ids=[],
        raw={"archive": event.raw, "source": "archive"},
    )


def media_data(event: ArchiveEvent) -> list[MediaData]:
    x_id = archive_id(event)
    return [
        MediaData(
            media_key=_media_key(x_id, i),
            raw={"archive_file": item.name, "url": item.url},
            type="video" if PurePosixPath(item.name).suffix.lower() in _VIDEO_SUFFIXES else "photo",
            url=item.url or None,
        )
        for i, item in enumerate(event.media)
    ]


def _media_key(x_id: str, index: int) -> str:
    # X's media keys are "<type>_<id>"; "a" marks one an archive named, which X never spells.
    return f"a_{x_id}_{index}"


def _entities(event: ArchiveEvent) -> dict:
    """The archive's urls as the API's entities, with the indices the renderer needs (the archive
    gives none: each t.co link is found in the text, in order). The link X adds for a photo or
    video (to x.com/messages/media/<id>) gets the media's key, as the API's entity has it, so it
    is shown as the attachment rather than as a link."""
    urls, start = [], 0
    x_id = archive_id(event)
    for url in event.urls:
        at = event.text.find(url.url, start) if url.url else -1
        if at < 0:
            continue
        end = at + len(url.url)
        entity = {
            "start": at,
            "end": end,
            "url": url.url,
            "expanded_url": url.expanded,
            "display_url": url.display,
        }
        if event.media and _MEDIA_LINK.match(url.expanded):
            entity["media_key"] = _media_key(x_id, 0)
        urls.append(entity)
        start = end
    return {"urls": urls} if urls else {}


def _without_known_membership(owner_id: int, batch: list[ArchiveEvent]) -> list[ArchiveEvent]:
    """Drop membership events a sync already cached under X's id (same conversation, type and
    time; the archive's joinConversation is the API's ParticipantsJoin), so they are not shown
    twice."""
    idless = [e for e in batch if not e.id and e.event_type != MESSAGE_CREATE]
    if not idless:
        return batch
    types = {_SAME_AS_API.get(e.event_type, e.event_type) for e in idless}
    known = set(
        DmEvent.objects.filter(
            owner_id=owner_id,
            conversation__x_id__in={e.conversation_id for e in idless},
            event_type__in=types | {e.event_type for e in idless},
            created_at__in={e.created_at for e in idless},
        )
        .exclude(x_id__in=[archive_id(e) for e in idless])
        .values_list("conversation__x_id", "event_type", "created_at")
    )
    known = {(c, _SAME_AS_API.get(t, t), at) for c, t, at in known}
    return [
        e
        for e in batch
        if e.id
        or e.event_type == MESSAGE_CREATE
        or (e.conversation_id, _SAME_AS_API.get(e.event_type, e.event_type), e.created_at)
        not in known
    ]


# DM Reader's own backups -------------------------------------------------------------------------


def restore_backup(
    owner_id: int,
    backup: Backup,
    *,
    skip_events: int = 0,
    on_batch: Callable[[int, int], None] | None = None,
    batch_size: int | None = None,
) -> Imported:
    """Store a backup's users, media, posts and conversations, then its events in batches, all
    through the store: what the events refer to is there before them, and every write is keyed by
    X's ids, so restoring twice stores nothing twice. `skip_events` are already stored (a resumed
    run); `on_batch(events, new)` runs inside each batch's transaction (the job's progress). The
    caller has checked the whole backup first (`check_backup`) and chosen the account."""
    batch_size = batch_size or BATCH
    for chunk in itertools.batched(backup.users(), batch_size):
        with transaction.atomic():
            store.store_events(
                owner_id,
                [],
                users=[user for user, _ in chunk],
                gone_users=[user.id for user, gone in chunk if gone],
            )
    for chunk in itertools.batched(backup.media(), batch_size):
        with transaction.atomic():
            store.store_events(owner_id, [], media=chunk)
    for chunk in itertools.batched(backup.posts(), batch_size):
        with transaction.atomic():
            store.store_events(
                owner_id,
                [],
                posts=[post for post, _ in chunk],
                gone_posts=[post.id for post, gone in chunk if gone],
            )
    for chunk in itertools.batched(backup.conversations(), batch_size):
        with transaction.atomic():
            store.keep_conversations(
                owner_id, [(c.id, c.participant_ids, c.history_complete) for c in chunk]
            )
    imported = Imported()
    events = backup.events()
    for _ in itertools.islice(events, skip_events):
        pass
    while batch := list(itertools.islice(events, batch_size)):
        with transaction.atomic():
            stored = store.store_events(owner_id, batch)
            imported.events += len(batch)
            imported.new += stored.new
            imported.problems += stored.problems
            if on_batch:
                on_batch(len(batch), stored.new)
    return imported


@dataclass
class Checked:
    events: int = 0
    conversations: int = 0


def check_backup(backup: Backup, on_progress: Callable[[], None] | None = None) -> Checked:
    """Read every section of the backup, storing nothing: a damaged one raises its BackupError
    here, with the cache as it was. Counts what the progress bar needs."""
    checked = Checked()
    backup.check_shape()
    for _ in backup.conversations():
        checked.conversations += 1
    for section in (backup.users(), backup.media(), backup.posts()):
        for _ in section:
            pass
    for _ in backup.events():
        checked.events += 1
        if on_progress and checked.events % BATCH == 0:
            on_progress()
    return checked


def restore_files(owner_id: int, backup: Backup) -> int:
    """A backup ZIP's photos, videos and avatars back into the owner's media cache, found by
    what the restored rows say their URLs are (media.keep_file). Returns how many were kept."""
    kept = 0
    for item in backup.files:
        if item.media_key:
            row = Media.objects.filter(owner_id=owner_id, media_key=item.media_key).first()
            url = media.source_of(row, item.kind) if row else ""
            limit = media.MAX_MEDIA_BYTES
        else:
            user = XUser.objects.filter(owner_id=owner_id, x_id=item.user_id).first()
            url = user.profile_image_url if user else ""
            limit = media.MAX_AVATAR_BYTES
        if not url:
            continue
        with backup.open_file(item.name) as file:
            kept += media.keep_file(owner_id, url, item.content_type, file, max_bytes=limit)
    return kept
