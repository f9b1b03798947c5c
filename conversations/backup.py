"""Reading a DM Reader backup to restore it: a JSON export as exports/writers.py writes it
(docs/export-json.md), or the backup ZIP of one (`<folder>/export.json` beside the `media/` and
`avatars/` files it refers to).

This module only reads, as archive.py does for X's archive. It turns the document into the
store's own parsed objects (xapi.EventData, UserData, MediaData, PostData) for store.py, the one
writer, to store (importing.restore_backup). Nothing the file says is taken on trust: every id,
time, type and list is checked, and anything wrong is a BackupError naming the place, in words the
person who uploaded it can act on. It is an ArchiveError, so the Import page and `importarchive`
say it as they say an archive's, and their checking pass (which reads the whole file before
anything is stored) leaves the cache as it was.

Whose: the document's `account.id` must be the X account restoring it (check_account).

The file is read as a stream (ijson), one section at a time, so a million events take no more
memory than a thousand: the key order is part of the format (head, conversations, events, users,
media, posts), and each section is read by a pass of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import ijson

from conversations import xids
from conversations.archive import LIMITS as ARCHIVE_LIMITS
from conversations.archive import ArchiveError, ArchiveLimits, ArchiveProgress, _Zip
from conversations.xapi import EventData, MediaData, PostData, UserData

FORMAT = "dmreader-export"
VERSION = 1
JSON_NAME = "export.json"
# A media file of a backup ZIP: media/<media key>[-preview].<ext>, avatars/<user id>.<ext>.
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
}
_HEAD_BYTES = 64 * 1024  # the head (format, version, account, scope) comes first, and is short
_MAX_TEXT = 100_000
# A ZIP is checked as X's archive is (names, sizes, ratios), but its export.json may be larger than
# any one file of X's: a million events are about 650 MB of JSON.
LIMITS = dataclasses.replace(ARCHIVE_LIMITS, max_member_bytes=ARCHIVE_LIMITS.max_total_bytes)
# DM Reader's exports nest a few levels (an event's raw payload, its entities); X's payloads a few
# more. Far deeper is a hostile file.
MAX_DEPTH = 64


class BackupError(ArchiveError):
    """The backup can't be restored. The message says why."""


@dataclass(frozen=True)
class Head:
    version: int
    generated_at: datetime
    account_id: str
    username: str
    scope: dict


@dataclass(frozen=True)
class ConversationData:
    id: str
    participant_ids: list[str]
    history_complete: bool


@dataclass(frozen=True)
class MediaFile:
    """A file of a backup ZIP: a photo, video or preview of `media_key`, or `user_id`'s avatar."""

    name: str
    content_type: str
    media_key: str = ""
    kind: str = ""  # "full", "video" or "preview", as media.file_response names them
    user_id: str = ""


def is_backup(path: str | Path) -> bool:
    """Whether an upload is a DM Reader backup rather than X's archive, by its content (names
    can be anything): a JSON document, or a ZIP whose files include an export.json at its top or
    in its one folder. X's archive is a ZIP of `data/*.js` files, or those files themselves."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as file:
        head = file.read(512)
    if head.startswith(b"PK"):
        try:
            source = _Zip(path, LIMITS)
        except ArchiveError:
            return False  # opened again as an archive, which says what is wrong with it
        try:
            return _json_member(source.names()) is not None
        finally:
            source.close()
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _json_member(names: dict[str, int]) -> str | None:
    found = [n for n in names if n == JSON_NAME or PurePosixPath(n).parts[1:] == (JSON_NAME,)]
    return found[0] if len(found) == 1 else None


def open_backup(
    path: str | Path,
    *,
    expected_x_user_id: str = "",
    expected_username: str = "",
    limits: ArchiveLimits = LIMITS,
) -> Backup:
    """Open a backup (JSON or ZIP) and check its head: the format, the version and, with
    `expected_x_user_id`, whose it is. Use it as a context manager."""
    backup = Backup(Path(path), limits)
    try:
        if expected_x_user_id:
            check_account(backup.head, expected_x_user_id, expected_username)
    except BaseException:
        backup.close()
        raise
    return backup


def check_account(head: Head, expected_x_user_id: str, expected_username: str = "") -> None:
    if head.account_id == expected_x_user_id:
        return
    theirs = f"@{head.username} (X id {head.account_id})" if head.username else "another account"
    ours = f"X id {expected_x_user_id}"
    if expected_username:
        ours = f"@{expected_username.lstrip('@')} ({ours})"
    raise BackupError(
        f"This backup is of {theirs}, not of {ours}, the account you are signed in with. A "
        "backup goes back only into the account it was made from: sign in as that account to "
        "restore it."
    )


class Backup:
    """An open backup: its head, then each section as a stream of checked objects."""

    def __init__(self, path: Path, limits: ArchiveLimits):
        self._zip: _Zip | None = None
        self.files: list[MediaFile] = []
        if not path.is_file():
            raise BackupError(f"There is no backup at {path}.")
        with path.open("rb") as file:
            is_zip = file.read(2) == b"PK"
        if is_zip:
            self._zip = _Zip(path, limits)
            try:
                member = _json_member(self._zip.names())
                if member is None:
                    raise BackupError(
                        f"The ZIP holds no {JSON_NAME}: it is not a backup that DM Reader made."
                    )
                self._member = member
                self._size = self._zip.size(member)
                self.files = _media_files(self._zip.names(), member)
            except BaseException:
                self._zip.close()
                raise
        else:
            self._path = path
            self._size = path.stat().st_size
        self.progress = ArchiveProgress(bytes_total=self._size, files_total=1)
        self.head = self._read_head()

    def __enter__(self) -> Backup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def _open(self) -> BinaryIO:
        if self._zip is not None:
            return self._zip.open(self._member)
        return self._path.open("rb")

    def open_file(self, name: str) -> BinaryIO:
        if self._zip is None:
            raise BackupError(f"The backup has no {name}.")
        return self._zip.open(name)

    # The head -----------------------------------------------------------------------------------

    def _read_head(self) -> Head:
        """format, version, generated_at, account, scope: the keys before `conversations`."""
        found: dict[str, Any] = {}
        with self._open() as raw:
            stream = io.BufferedReader(_Limited(raw, _HEAD_BYTES))
            try:
                found = _head_fields(ijson.basic_parse(stream, use_float=True))
            except (ijson.JSONError, UnicodeDecodeError, _TooLong):
                raise BackupError(_NOT_A_BACKUP) from None
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise BackupError(f"The backup can't be read ({error}).") from None
        if found.get("format") != FORMAT:
            raise BackupError(_NOT_A_BACKUP)
        version = found.get("version")
        if type(version) is not int or version < 1:
            raise BackupError("The backup's version is missing: it is damaged.")
        if version > VERSION:
            raise BackupError(
                f"This backup is of version {version}, made by a newer DM Reader than this one "
                f"(which reads version {VERSION}): update DM Reader, then restore it."
            )
        account = _mapping(found.get("account"), "its account")
        account_id = account.get("id")
        if not xids.is_x_id(account_id):
            raise BackupError(
                "The backup names no X account (it was made by a staff user without one): "
                "there is no account to restore it into."
            )
        username = account.get("username")
        return Head(
            version=version,
            generated_at=_time(found.get("generated_at"), "its generated_at"),
            account_id=account_id,
            username=username if isinstance(username, str) else "",
            scope=found.get("scope") if isinstance(found.get("scope"), dict) else {},
        )

    # The sections -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _json(self) -> Iterator[io.BufferedReader]:
        """The document for one pass over it, counted for the progress bar; what the JSON parser
        or the ZIP can't read becomes the BackupError the person sees."""
        try:
            with self._open() as raw:
                yield io.BufferedReader(_Counted(raw, self.progress), 256 * 1024)
        except ijson.JSONError:
            raise BackupError(
                f"The backup is damaged or cut short (near byte {self.progress.bytes_read:,} "
                "of its JSON): make it again, or download it again from DM Reader."
            ) from None
        except UnicodeDecodeError:
            raise BackupError("The backup is not UTF-8 text: it is damaged.") from None
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise BackupError(f"The backup can't be read from its ZIP ({error}).") from None

    def _items(self, section: str, parse: Callable[[Any, str], Any]) -> Iterator[Any]:
        """One section's items, checked, read by a pass of their own over the document."""
        with self._json() as stream:
            for position, item in enumerate(ijson.items(stream, f"{section}.item", use_float=True)):
                yield parse(item, f"{section}[{position}]")

    def check_shape(self) -> None:
        """A pass over the whole document that builds nothing: it must be one JSON object, whole,
        nested no deeper than DM Reader's exports are. (ijson's item builder slows down with the
        square of the depth: a few hundred KB of "[[[[…" would hold a worker for hours.)"""
        depth = 0
        with self._json() as stream:
            for event, _ in ijson.basic_parse(stream):
                if event in ("start_map", "start_array"):
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise BackupError(
                            f"The backup nests its data more than {MAX_DEPTH} levels deep (near "
                            f"byte {self.progress.bytes_read:,}): it was not made by DM Reader."
                        )
                elif event in ("end_map", "end_array"):
                    depth -= 1

    def conversations(self) -> Iterator[ConversationData]:
        return self._items("conversations", _conversation)

    def events(self) -> Iterator[EventData]:
        return self._items("events", _event)

    def users(self) -> Iterator[tuple[UserData, bool]]:
        """Each user, with whether X reported it gone."""
        return self._items("users", _user)

    def media(self) -> Iterator[MediaData]:
        return self._items("media", _media)

    def posts(self) -> Iterator[tuple[PostData, bool]]:
        """Each post, with whether X reported it gone."""
        return self._items("posts", _post)


_NOT_A_BACKUP = (
    "This file is not a backup that DM Reader made (a JSON export or its backup ZIP), nor X's "
    "archive: choose the file DM Reader's Export page gave you, as it came."
)


_SECTIONS = ("conversations", "events", "users", "media", "posts")


def _head_fields(parser: Iterator[tuple[str, Any]]) -> dict[str, Any]:
    """The document's keys before its first section, each value built whole (they are small).
    From ijson's basic events, which carry no prefix: building prefixes costs the square of the
    depth, and this runs before the depth is checked."""
    if next(parser, None) != ("start_map", None):
        raise BackupError(_NOT_A_BACKUP)
    found: dict[str, Any] = {}
    key, depth = "", 0
    builder: ijson.ObjectBuilder | None = None
    for event, value in parser:
        if builder is None:
            if event != "map_key" or value in _SECTIONS:
                break  # the end of the document, or its first section
            key, builder = value, ijson.ObjectBuilder()
            continue
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_DEPTH:
                raise BackupError(_NOT_A_BACKUP)
        elif event in ("end_map", "end_array"):
            depth -= 1
        builder.event(event, value)
        if depth == 0:
            found[key] = builder.value
            if key == "format" and builder.value != FORMAT:
                raise BackupError(_NOT_A_BACKUP)
            builder = None
    return found


class _TooLong(Exception):
    pass


class _Limited(io.RawIOBase):
    """At most `limit` bytes of `raw`, then an error: the head must be near the start."""

    def __init__(self, raw: BinaryIO, limit: int):
        self._raw, self._left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            raise _TooLong
        data = self._raw.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


class _Counted(io.RawIOBase):
    """`raw`, counting what is read into `progress` (one pass at a time)."""

    def __init__(self, raw: BinaryIO, progress: ArchiveProgress):
        self._raw, self._progress = raw, progress
        progress.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._progress.bytes_read += len(data)
        return len(data)


def _media_files(names: dict[str, int], json_member: str) -> list[MediaFile]:
    """The ZIP's photos, videos and avatars, by what they are of (their names say it)."""
    root = PurePosixPath(json_member).parent
    found = []
    for name in names:
        path = PurePosixPath(name)
        content_type = MEDIA_TYPES.get(path.suffix.lower())
        if content_type is None or path.parent.parent != root:
            continue
        stem = path.stem
        if path.parent.name == "media":
            kind = "preview" if stem.endswith("-preview") else "full"
            key = stem.removesuffix("-preview")
            if kind == "full" and content_type == "video/mp4":
                kind = "video"
            found.append(MediaFile(name, content_type, media_key=key, kind=kind))
        elif path.parent.name == "avatars" and xids.is_x_id(stem):
            found.append(MediaFile(name, content_type, user_id=stem))
    return found


# Checking each object ----------------------------------------------------------------------------


def _damaged(where: str, what: str) -> BackupError:
    return BackupError(f"The backup is damaged: {where} {what}.")


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _damaged(where, "is not an object")
    return value


def _id(value: object, where: str, key: str) -> str:
    if not xids.is_x_id(value):
        raise _damaged(where, f"has no valid {key}")
    return value


def _optional_id(value: object, where: str, key: str) -> str:
    return "" if value is None or value == "" else _id(value, where, key)


def _ids(value: object, where: str, key: str) -> list[str]:
    return [_id(item, where, key) for item in _list(value, where, key)]


def _list(value: object, where: str, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _damaged(where, f"has a {key} that is not a list")
    return value


def _object(value: object, where: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _damaged(where, f"has a {key} that is not an object")
    return value


def _text(value: object, where: str, key: str, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _damaged(where, f"has a {key} that is not a text")
    return value


def _flag(value: object, where: str, key: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _damaged(where, f"has a {key} that is not true or false")
    return value


def _count(value: object, where: str, key: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value < 2**31:
        raise _damaged(where, f"has a {key} that is not a count")
    return value


def _time(value: object, where: str) -> datetime:
    parsed = _optional_time(value, where)
    if parsed is None:
        raise _damaged(where, "has no time")
    return parsed


def _optional_time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _damaged(where, f"has a time that is not ISO 8601 in UTC ({str(value)[:40]!r})")
    return parsed.astimezone(UTC)


def _conversation(item: object, where: str) -> ConversationData:
    data = _mapping(item, where)
    x_id = data.get("id")
    if not xids.is_conversation_id(x_id):
        raise _damaged(where, "has no valid conversation id")
    return ConversationData(
        id=x_id,
        participant_ids=_ids(data.get("participant_ids"), where, "participant id"),
        history_complete=_flag(data.get("history_complete"), where, "history_complete"),
    )


def _event(item: object, where: str) -> EventData:
    data = _mapping(item, where)
    x_id = _id(data.get("id"), where, "id")
    where = f"event {x_id}"
    conversation_id = data.get("conversation_id")
    if not xids.is_conversation_id(conversation_id):
        raise _damaged(where, "has no valid conversation_id")
    event_type = _text(data.get("event_type"), where, "event_type", 40)
    if not event_type:
        raise _damaged(where, "has no event_type")
    media_keys = [
        _text(k, where, "media key", 40) for k in _list(data.get("media_keys"), where, "media_keys")
    ]
    if not all(media_keys):
        raise _damaged(where, "has an empty media key")
    return EventData(
        id=x_id,
        conversation_id=conversation_id,
        event_type=event_type,
        created_at=_time(data.get("created_at"), where),
        text=_text(data.get("text"), where, "text") or "",
        sender_id=_optional_id(data.get("sender_id"), where, "sender_id"),
        participant_ids=_ids(data.get("participant_ids"), where, "participant id"),
        entities=_object(data.get("entities"), where, "entities"),
        media_keys=media_keys,
        post_ids=_ids(data.get("post_ids"), where, "post id"),
        raw=_object(data.get("raw"), where, "raw"),
    )


def _user(item: object, where: str) -> tuple[UserData, bool]:
    data = _mapping(item, where)
    x_id = _id(data.get("id"), where, "id")
    where = f"user {x_id}"
    text = {
        key: _text(data.get(key), where, key)
        for key in ("username", "name", "profile_image_url", "description", "location", "url",
                    "verified_type")
    }  # fmt: skip
    user = UserData(
        id=x_id,
        raw=_object(data.get("raw"), where, "raw"),
        protected=_flag(data.get("protected"), where, "protected"),
        verified=_flag(data.get("verified"), where, "verified"),
        public_metrics=_object(data.get("public_metrics"), where, "public_metrics"),
        created_at=_optional_time(data.get("created_at"), where),
        **text,
    )
    return user, _flag(data.get("unavailable"), where, "unavailable")


def _media(item: object, where: str) -> MediaData:
    data = _mapping(item, where)
    key = _text(data.get("media_key"), where, "media_key", 40)
    if not key:
        raise _damaged(where, "has no media_key")
    where = f"media {key}"
    return MediaData(
        media_key=key,
        raw=_object(data.get("raw"), where, "raw"),
        type=_text(data.get("type"), where, "type", 20),
        url=_text(data.get("url"), where, "url", 1000),
        preview_image_url=_text(data.get("preview_image_url"), where, "preview_image_url", 1000),
        alt_text=_text(data.get("alt_text"), where, "alt_text"),
        width=_count(data.get("width"), where, "width"),
        height=_count(data.get("height"), where, "height"),
        duration_ms=_count(data.get("duration_ms"), where, "duration_ms"),
        variants=_list(data.get("variants"), where, "variants"),
        public_metrics=_object(data.get("public_metrics"), where, "public_metrics"),
    )


def _post(item: object, where: str) -> tuple[PostData, bool]:
    data = _mapping(item, where)
    x_id = _id(data.get("id"), where, "id")
    where = f"post {x_id}"
    post = PostData(
        id=x_id,
        raw=_object(data.get("raw"), where, "raw"),
        author_id=_optional_id(data.get("author_id"), where, "author_id"),
        text=_text(data.get("text"), where, "text"),
        created_at=_optional_time(data.get("created_at"), where),
        lang=_text(data.get("lang"), where, "lang", 10),
        entities=_object(data.get("entities"), where, "entities"),
        referenced_tweets=_list(data.get("referenced_tweets"), where, "referenced_tweets"),
        public_metrics=_object(data.get("public_metrics"), where, "public_metrics"),
    )
    return post, _flag(data.get("unavailable"), where, "unavailable")
