"""Reading X's "Download an archive of your data" ZIP (or its extracted folder): the DM half.

This module only reads. It turns the archive's Direct Message files into `ArchiveEvent`s, one at a
time, for the store to merge by event id; it writes nothing, anywhere.

What an archive holds (checked against timhutton/twitter-archive-parser `parser.py`,
alkihis/twitter-archive-reader `ts/types/GDPRDMs.ts`, `GDPRManifest.ts`, `TwitterArchive.ts`,
`MediaArchive.ts` and toBeOfUse/Twitter-Archive-Browser `ArchiveAccess/JSONStream.py`, `DBWrite.py`):

- `data/manifest.js` is `window.__THAR_CONFIG = {…}`: `userInfo.accountId`/`userName`/`displayName`,
  `archiveInfo.generationDate`, and `dataTypes.<camelCaseType>.files[]` of
  `{fileName: "data/direct-messages-part1.js", globalName: "YTD.direct_messages.part1", count}`
  (`count` is the number of conversations in the file, as a string) plus `mediaDirectory`.
- Every data file is `window.YTD.<type>.partN = [ … ]`. The robust rule (alkihis) is "JSON starts
  after the first `=` of the first line"; the global name changed between archive versions, so it
  is not matched.
- DMs: `direct-messages.js` (one-to-one) and `direct-messages-group.js`, then `-part1.js`, `-part2.js`…
  when big. Older archives spell them `direct-message.js`, `direct-message-part1.js`,
  `direct-message-group.js` and the media folders `direct_message_media`/`direct_message_group_media`
  (alkihis `TwitterArchive.ts`, `MediaArchive.ts`). A part's conversations are in no time order.
- Each item is `{"dmConversation": {"conversationId", "messages": […]}}`, messages newest first;
  a message is one of `messageCreate`, `joinConversation`, `participantsJoin`, `participantsLeave`,
  `conversationNameUpdate`. Only `messageCreate` carries an `id` (X documents DM event ids as the same
  in the archive, the API and the app); the membership events carry only `createdAt`.
  In groups `recipientId` is absent, or `"0"` in some archives (alkihis `GDPRDMs.ts`).
- `createdAt` is ISO 8601 in UTC with milliseconds: `2022-01-27T15:58:52.744Z` (timhutton parses it
  with `%Y-%m-%dT%X.%fZ`).
- A DM's media file is `<messageId>-<last segment of its mediaUrl>` in the media folder of its kind
  (alkihis `fromDmMediaUrl`). Video URLs end in a query string (`….mp4?tag=1`), and when the name
  doesn't match, timhutton falls back to any file starting with `<messageId>-`: so do we.

Bad input never gets further than an `ArchiveError` whose message a person can act on: the ZIP's
names, sizes and compression ratios are checked when it is opened, before anything is inflated.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import ijson

from conversations import xids


class ArchiveError(Exception):
    """The archive can't be read. The message says why, in words the person who uploaded it can use."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What "far beyond sense" means for a ZIP we are about to inflate (zip bombs).

    X splits data files at about 100 MB and a DM video is at most a few hundred MB; JSON deflates
    about 5-15 to 1 and media hardly at all, while a bomb deflates 1000 to 1.
    """

    # Each file costs zipfile about 500 bytes of memory while the archive is open; a busy
    # account's archive holds some 100,000 (mostly its posts' media).
    max_members: int = 1_000_000
    max_member_bytes: int = 4 * 1024**3
    max_total_bytes: int = 200 * 1024**3
    max_ratio: int = 100
    # Below this size a high ratio is harmless (a small run of spaces compresses 1000 to 1).
    ratio_floor_bytes: int = 1024**2
    max_manifest_bytes: int = 16 * 1024**2


LIMITS = ArchiveLimits()

MESSAGE_CREATE = "MessageCreate"
PARTICIPANTS_JOIN = "ParticipantsJoin"
PARTICIPANTS_LEAVE = "ParticipantsLeave"
CONVERSATION_NAME_UPDATE = "ConversationNameUpdate"
JOIN_CONVERSATION = "JoinConversation"

# The archive's key for each kind of event -> the API's event_type (docs/x-api.md §3.2), or our name
# where the API has none.
EVENT_TYPES = {
    "messageCreate": MESSAGE_CREATE,
    "participantsJoin": PARTICIPANTS_JOIN,
    "participantsLeave": PARTICIPANTS_LEAVE,
    "conversationNameUpdate": CONVERSATION_NAME_UPDATE,
    "joinConversation": JOIN_CONVERSATION,
}


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One DM data file: `name` is its path inside the archive."""

    name: str
    group: bool
    size: int
    global_name: str = ""
    conversations: int | None = None


@dataclass(frozen=True)
class ArchiveManifest:
    account_id: str
    username: str
    display_name: str
    generated_at: datetime | None
    files: tuple[ArchiveFile, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ArchiveUrl:
    url: str
    expanded: str
    display: str


@dataclass(frozen=True, slots=True)
class ArchiveReaction:
    sender_id: str
    reaction_key: str
    # X's README calls it reactionEventID; kept as given, since archives disagree on what it names.
    event_id: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArchiveMedia:
    """A media file of the archive: `name` is its path inside the archive, for `open_media`."""

    name: str
    size: int
    # The mediaUrl it was found for; empty when it was found only by its message id.
    url: str = ""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made building
# the events the slowest step of reading. Treat it as read-only all the same.
@dataclass(slots=True)
class ArchiveEvent:
    """One DM event as the archive has it, with X's field names already gone."""

    # The DM event id: the same as the API's. Empty for membership events, which have none here.
    id: str
    conversation_id: str
    event_type: str
    group: bool
    created_at: datetime
    # The author: senderId of a message, initiatingUserId of a join or rename.
    sender_id: str = ""
    recipient_id: str = ""
    text: str = ""
    urls: tuple[ArchiveUrl, ...] = ()
    media_urls: tuple[str, ...] = ()
    media: tuple[ArchiveMedia, ...] = ()
    reactions: tuple[ArchiveReaction, ...] = ()
    # userIds of a join or leave; participantsSnapshot of a joinConversation.
    participant_ids: tuple[str, ...] = ()
    name: str = ""
    # The object as the archive has it (inside its one-key wrapper), so nothing X wrote is lost.
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Where it came from: the data file, and its place among that file's events (from 0).
    source: str = ""
    position: int = 0

    def natural_key(self) -> tuple[object, ...]:
        """What tells this event from any other when it has no id (the membership events), so a
        second import of the same archive can recognise it. For a message, its id."""
        if self.id:
            return (self.id,)
        return (
            self.conversation_id,
            self.event_type,
            self.created_at,
            self.sender_id,
            self.participant_ids,
            self.name,
        )


@dataclass
class ArchiveProgress:
    """How far the reading has come, in bytes of the DM data files (uncompressed)."""

    bytes_total: int = 0
    bytes_read: int = 0
    files_total: int = 0
    files_done: int = 0
    conversations: int = 0
    events: int = 0
    # Events of a kind this reader doesn't know (e.g. welcomeMessageCreate), by kind: not lost
    # silently, so an import can say so.
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.bytes_read / self.bytes_total if self.bytes_total else 1.0


def check_account(
    manifest: ArchiveManifest, expected_x_user_id: str, expected_username: str = ""
) -> None:
    """Refuse an archive of another X account, naming both. Call it before reading any further."""
    if not xids.is_x_id(expected_x_user_id):
        raise ValueError(f"not an X user id: {expected_x_user_id!r}")
    if int(manifest.account_id) == int(expected_x_user_id):
        return
    theirs = f"@{manifest.username} (X id {manifest.account_id})"
    ours = f"X id {expected_x_user_id}"
    if expected_username:
        ours = f"@{expected_username.lstrip('@')} ({ours})"
    raise ArchiveError(
        f"This archive belongs to {theirs}, not to {ours}, the account you are signed in with. "
        f"Import the archive of {ours}, or sign in as @{manifest.username} to import this one."
    )


def open_archive(
    path: str | os.PathLike[str],
    *,
    expected_x_user_id: str = "",
    expected_username: str = "",
    limits: ArchiveLimits = LIMITS,
) -> Archive:
    """Open X's archive ZIP, or a folder of it (the archive's root, or its `data` folder).

    Reads the ZIP's directory and the manifest and checks them (names, sizes, compression ratios,
    and the account when `expected_x_user_id` is given); nothing else is read until `events()` or
    `open_media()`. Use it as a context manager, or call `close()`.
    """
    path = Path(path)
    if path.is_dir():
        source: _Source = _Folder(path, limits)
    elif path.is_file():
        source = _Zip(path, limits)
    else:
        raise ArchiveError(f"There is no archive at {path}.")
    try:
        archive = Archive(source)
        if expected_x_user_id:
            check_account(archive.manifest, expected_x_user_id, expected_username)
    except BaseException:
        source.close()
        raise
    return archive


class Archive:
    """An open archive: its manifest, its DM events as a stream, and its DM media files."""

    def __init__(self, source: _Source):
        self._source = source
        self._data_dir = _find_data_dir(source)
        raw = _read_manifest(source, self._data_dir + "manifest.js")
        files = _dm_files(source, self._data_dir, raw)
        self.manifest = _parse_manifest(raw, files)
        self._media = _index_media(source, _media_dirs(self._data_dir, raw))
        self.progress = ArchiveProgress(
            bytes_total=sum(f.size for f in files), files_total=len(files)
        )

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._source.close()

    @property
    def files(self) -> tuple[ArchiveFile, ...]:
        return self.manifest.files

    @property
    def media_names(self) -> list[str]:
        return sorted(name for names in self._media.values() for name in names)

    def events(self) -> Iterator[ArchiveEvent]:
        """Every DM event of every data file, one at a time, in file order (not time order).
        `progress` counts one pass."""
        for data_file in self.manifest.files:
            yield from self.events_of(data_file)

    def events_of(self, data_file: ArchiveFile) -> Iterator[ArchiveEvent]:
        """The events of one data file, so that an import can resume file by file."""
        with self._source.open(data_file.name) as raw:
            stream = _DataStream(raw, data_file.name, data_file.size, self.progress)
            yield from _parse_data_file(stream, data_file, self._media_of, self.progress)
            # Whatever follows the list (a newline, a ";") counts as read, so the bar ends full.
            self.progress.bytes_read += max(stream.left, 0)
        self.progress.files_done += 1

    def open_media(self, name: str) -> BinaryIO:
        """One DM media file (a name from `ArchiveEvent.media`) as a stream of bytes."""
        message_id = name.rpartition("/")[2].partition("-")[0]
        if name not in self._media.get(message_id, ()):
            raise ArchiveError(f"{name} is not a Direct Message media file of this archive.")
        return _DataStream(self._source.open(name), name, self._source.size(name), None)

    def _media_of(self, message_id: str, media_urls: tuple[str, ...]) -> tuple[ArchiveMedia, ...]:
        names = self._media.get(message_id, ())
        if not names:
            return ()
        found = []
        for url in media_urls:
            last = urlsplit(url).path.rpartition("/")[2]
            found += [
                ArchiveMedia(name=name, size=self._source.size(name), url=url)
                for name in names
                if last and name.endswith(f"/{message_id}-{last}")
            ]
        # No name matched its URL (videos, older archives): every file of the message, as
        # timhutton's parser globs for "<messageId>*".
        return tuple(found) or tuple(
            ArchiveMedia(name=name, size=self._source.size(name)) for name in names
        )


# --- Where things are in the archive ------------------------------------------------------------

_DM_FILE = re.compile(r"direct-messages?(?P<group>-group)?(?:-part(?P<part>[0-9]{1,6}))?\.js")
_MEDIA_DIRS = (
    "direct_messages_media",
    "direct_message_media",
    "direct_messages_group_media",
    "direct_message_group_media",
)
_MANIFEST = "manifest.js"


def _find_data_dir(source: _Source) -> str:
    """The folder holding manifest.js: `data/` in X's ZIP, or under one more folder when the
    archive was unpacked and zipped again, or the root when its data folder itself was given."""
    names = source.names()
    for data_dir in ("data/", ""):
        if data_dir + _MANIFEST in names:
            return data_dir
    nested = [
        name[: -len(_MANIFEST)]
        for name in names
        if name.endswith("/data/" + _MANIFEST) and name.count("/") == 2
    ]
    if len(nested) == 1:
        return nested[0]
    raise ArchiveError(
        "This is not X's archive of your data: it has no data/manifest.js (nor is it a backup "
        "that DM Reader made: it has no export.json). Upload the ZIP that X sent you, or the "
        "backup DM Reader gave you, as it came."
    )


def _resolve(data_dir: str, name_in_manifest: object) -> str:
    """A name the manifest gives ("data/direct-messages.js") -> its name in this archive."""
    if (
        not isinstance(name_in_manifest, str)
        or not name_in_manifest
        or _unsafe_name(name_in_manifest)
    ):
        raise ArchiveError(
            f"The archive's manifest names a file outside the archive: {name_in_manifest!r}."
        )
    return data_dir + name_in_manifest.removeprefix("data/")


def _read_manifest(source: _Source, name: str) -> dict[str, Any]:
    size = source.size(name)
    if size > source.limits.max_manifest_bytes:
        raise ArchiveError("The archive's manifest.js is far too large to be X's.")
    with _DataStream(source.open(name), name, size, None) as stream:
        data = stream.read()
    # `window.__THAR_CONFIG = {…}`: JSON after the first "=".
    head, equals, body = data.decode("utf-8-sig", errors="replace").partition("=")
    if not equals or "\n" in head.strip():
        raise ArchiveError("The archive's manifest.js is damaged: it doesn't begin as X's does.")
    try:
        manifest = json.loads(body.strip().removesuffix(";"))
    except ValueError:
        raise ArchiveError("The archive's manifest.js is damaged or cut short.") from None
    if not isinstance(manifest, dict):
        raise ArchiveError("The archive's manifest.js is damaged: it describes nothing.")
    return manifest


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _data_type(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return _mapping(_mapping(raw.get("dataTypes")).get(key))


def _parse_manifest(raw: dict[str, Any], files: tuple[ArchiveFile, ...]) -> ArchiveManifest:
    user = _mapping(raw.get("userInfo"))
    account_id = user.get("accountId")
    if not xids.is_x_id(account_id):
        raise ArchiveError("The archive's manifest.js doesn't say whose archive it is.")
    return ArchiveManifest(
        account_id=account_id,
        username=str(user.get("userName") or ""),
        display_name=str(user.get("displayName") or ""),
        generated_at=_parse_datetime(_mapping(raw.get("archiveInfo")).get("generationDate")),
        files=files,
        raw=raw,
    )


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value) else None


def _dm_files(source: _Source, data_dir: str, raw: dict[str, Any]) -> tuple[ArchiveFile, ...]:
    """The DM data files: every file the manifest lists, each of which must be there (a missing
    part would lose conversations without a word), then any DM file it doesn't list (some
    manifests list no DMs), parts in number order."""
    files: list[ArchiveFile] = []
    for key, group in (("directMessages", False), ("directMessagesGroup", True)):
        listed = _data_type(raw, key).get("files")
        for entry in listed if isinstance(listed, list) else ():
            entry = _mapping(entry)
            name = _resolve(data_dir, entry.get("fileName"))
            if any(f.name == name for f in files):
                continue
            if not source.exists(name):
                raise ArchiveError(
                    f"The archive is missing {name}, which its manifest lists: it may have been "
                    "cut short while downloading. Download it again from X."
                )
            files.append(
                ArchiveFile(
                    name=name,
                    group=group,
                    size=source.size(name),
                    global_name=str(entry.get("globalName") or ""),
                    conversations=_count(entry.get("count")),
                )
            )
    listed_names = {f.name for f in files}
    unlisted = []
    for name in source.names():
        match = (
            _DM_FILE.fullmatch(name.removeprefix(data_dir)) if name.startswith(data_dir) else None
        )
        if match and name not in listed_names:
            unlisted.append((bool(match["group"]), int(match["part"] or 0), name))
    files += [
        ArchiveFile(name=name, group=group, size=source.size(name))
        for group, _part, name in sorted(unlisted)
    ]
    if not files:
        raise ArchiveError(
            "The archive has no Direct Message files (data/direct-messages.js). "
            "Upload the whole ZIP that X sent you."
        )
    return tuple(files)


def _media_dirs(data_dir: str, raw: dict[str, Any]) -> set[str]:
    dirs = {data_dir + name + "/" for name in _MEDIA_DIRS}
    for key in ("directMessagesMedia", "directMessagesGroupMedia"):
        folder = _data_type(raw, key).get("mediaDirectory")
        if isinstance(folder, str) and folder.strip("/"):
            dirs.add(_resolve(data_dir, folder.strip("/")) + "/")
    return dirs


def _index_media(source: _Source, media_dirs: set[str]) -> dict[str, tuple[str, ...]]:
    """Media file names by message id. Names only: the ZIP's directory is in memory already."""
    index: dict[str, list[str]] = {}
    for name in source.names():
        folder, _, file_name = name.rpartition("/")
        message_id, dash, _ = file_name.partition("-")
        if folder + "/" in media_dirs and dash and xids.is_x_id(message_id):
            index.setdefault(message_id, []).append(name)
    return {message_id: tuple(sorted(names)) for message_id, names in index.items()}


# --- Reading a data file as a stream ------------------------------------------------------------

_MESSAGE = "item.dmConversation.messages.item"
_CONVERSATION_ID = "item.dmConversation.conversationId"
# The "window.YTD.direct_messages.part0 =" line is short; more than this before "=" isn't X's.
_MAX_ASSIGNMENT = 1024


class _DataStream(io.RawIOBase):
    """A member's bytes for ijson: past the `window.YTD… =` assignment when asked, counted for
    progress, and cut off at the size the archive declared (so inflating can't run away)."""

    def __init__(
        self, raw: BinaryIO, name: str, size: int, progress: ArchiveProgress | None
    ) -> None:
        self._raw = raw
        self.name = name
        self.left = size
        self._progress = progress
        self._pending = b""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def skip_assignment(self) -> None:
        head = self.read(_MAX_ASSIGNMENT).removeprefix(b"\xef\xbb\xbf")
        start = head.lstrip()
        if start[:1] in (b"[", b"{"):
            self._pending = start  # already plain JSON
            return
        assignment, equals, rest = head.partition(b"=")
        if (
            not equals
            or b"\n" in assignment.strip()
            or not assignment.strip().startswith(b"window.")
        ):
            raise ArchiveError(
                f"{self.name} is not one of X's archive data files: it doesn't begin with "
                "window.YTD…= as X's do."
            )
        self._pending = rest

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            data = self._pending if size < 0 else self._pending[:size]
            self._pending = self._pending[len(data) :]
            return data + self._counted(-1) if size < 0 else data
        return self._counted(size)

    def _counted(self, size: int) -> bytes:
        data = self._read(size)
        self.left -= len(data)
        if self.left < 0:
            raise ArchiveError(f"{self.name} holds more than the archive says it does: refused.")
        if self._progress is not None:
            self._progress.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        try:
            return self._raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise ArchiveError(
                f"{self.name} is damaged in the archive ({_why(error)}). Download it again from X."
            ) from None


def _why(error: Exception) -> str:
    text = str(error)
    return (
        "checksum mismatch"
        if "CRC" in text
        else "cut short"
        if isinstance(error, EOFError)
        else text
    )


MediaOf = Callable[[str, tuple[str, ...]], tuple[ArchiveMedia, ...]]


def _parse_data_file(
    stream: _DataStream, data_file: ArchiveFile, media_of: MediaOf, progress: ArchiveProgress
) -> Iterator[ArchiveEvent]:
    stream.skip_assignment()
    conversation_id = ""
    # Messages seen before their conversation's id (X writes the id first; JSON doesn't promise it).
    waiting: list[tuple[int, Any]] = []
    builder: ijson.ObjectBuilder | None = None
    position = 0
    events = ijson.parse(stream)
    try:
        first = next(events, None)
        if first is None or first[:2] != ("", "start_array"):
            raise ArchiveError(
                f"{data_file.name} is damaged: it doesn't hold a list of conversations."
            )
        for prefix, event, value in events:
            if builder is not None:
                builder.event(event, value)
                if prefix == _MESSAGE and event == "end_map":
                    if conversation_id:
                        archive_event = _event_of(
                            builder.value, conversation_id, data_file, position, media_of, progress
                        )
                        if archive_event is not None:
                            yield archive_event
                    else:
                        waiting.append((position, builder.value))
                    position += 1
                    builder = None
            elif prefix == _MESSAGE and event == "start_map":
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
            elif prefix == _CONVERSATION_ID:
                if not xids.is_conversation_id(value):
                    raise ArchiveError(
                        f"{data_file.name} is damaged: {str(value)[:40]!r} is not a conversation id."
                    )
                conversation_id = value
                for waited_position, message in waiting:
                    archive_event = _event_of(
                        message, conversation_id, data_file, waited_position, media_of, progress
                    )
                    if archive_event is not None:
                        yield archive_event
                waiting = []
            elif prefix == "item" and event == "end_map":
                if waiting or not conversation_id:
                    raise ArchiveError(
                        f"{data_file.name} is damaged: a conversation has no conversationId."
                    )
                progress.conversations += 1
                conversation_id = ""
            elif prefix == "" and event == "end_array":
                # The list is complete; anything after it (a ";") is no business of ours.
                return
        raise ArchiveError(f"{data_file.name} is cut short: download the archive again from X.")
    except ijson.JSONError:
        raise ArchiveError(
            f"{data_file.name} is damaged or cut short (near byte "
            f"{data_file.size - stream.left:,}): download the archive again from X."
        ) from None


def _event_of(
    wrapper: object,
    conversation_id: str,
    data_file: ArchiveFile,
    position: int,
    media_of: MediaOf,
    progress: ArchiveProgress,
) -> ArchiveEvent | None:
    """The event of one `{"messageCreate": {…}}` item (none if its kind is unknown to us)."""
    where = f"{data_file.name}, conversation {conversation_id}"
    if not isinstance(wrapper, dict) or len(wrapper) != 1:
        raise ArchiveError(f"{where} is damaged: an event is not one of X's.")
    ((kind, body),) = wrapper.items()
    event_type = EVENT_TYPES.get(kind)
    if event_type is None:
        progress.skipped[kind] = progress.skipped.get(kind, 0) + 1
        return None
    if not isinstance(body, dict):
        raise ArchiveError(f"{where} is damaged: a {kind} event is empty.")
    created_at = _parse_datetime(body.get("createdAt"))
    if created_at is None:
        raise ArchiveError(f"{where} is damaged: a {kind} event has no date.")
    fields: dict[str, Any] = {"id": ""}
    if kind == "messageCreate":
        event_id = body.get("id")
        if not xids.is_x_id(event_id):
            raise ArchiveError(f"{where} is damaged: a message has no valid id.")
        where = f"{where}, message {event_id}"
        media_urls = _strings(body.get("mediaUrls"), where, "mediaUrls")
        text = body.get("text")
        fields.update(
            id=event_id,
            sender_id=_user_id(body.get("senderId"), where, "senderId"),
            recipient_id=_recipient_id(body.get("recipientId")),
            text=text if isinstance(text, str) else "",
            urls=tuple(_url(item, where) for item in _list(body.get("urls"), where, "urls")),
            media_urls=media_urls,
            media=media_of(event_id, media_urls),
            reactions=tuple(
                _reaction(item, where) for item in _list(body.get("reactions"), where, "reactions")
            ),
        )
    elif kind == "participantsLeave":
        fields.update(participant_ids=_user_ids(body.get("userIds"), where))
    else:
        fields["sender_id"] = _user_id(body.get("initiatingUserId"), where, "initiatingUserId")
        if kind == "participantsJoin":
            fields["participant_ids"] = _user_ids(body.get("userIds"), where)
        elif kind == "joinConversation":
            fields["participant_ids"] = _user_ids(body.get("participantsSnapshot"), where)
        else:
            name = body.get("name")
            fields["name"] = name if isinstance(name, str) else ""
    progress.events += 1
    return ArchiveEvent(
        conversation_id=conversation_id,
        event_type=event_type,
        group=data_file.group,
        created_at=created_at,
        raw=wrapper,
        source=data_file.name,
        position=position,
        **fields,
    )


def _recipient_id(value: object) -> str:
    """Absent in groups, or "0" in some older archives (alkihis GDPRDMs.ts)."""
    recipient = xids.x_id_or_empty(value)
    return recipient if recipient.strip("0") else ""


def _list(value: object, where: str, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ArchiveError(f"{where} is damaged: its {key} is not a list.")
    return value


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    items = _list(value, where, key)
    if not all(isinstance(item, str) for item in items):
        raise ArchiveError(f"{where} is damaged: its {key} are not text.")
    return tuple(items)


def _user_id(value: object, where: str, key: str) -> str:
    if not xids.is_x_id(value):
        raise ArchiveError(f"{where} is damaged: {key} is not an X user id.")
    return value


def _user_ids(value: object, where: str) -> tuple[str, ...]:
    return tuple(_user_id(item, where, "a participant") for item in _list(value, where, "userIds"))


def _url(item: object, where: str) -> ArchiveUrl:
    if not isinstance(item, dict):
        raise ArchiveError(f"{where} is damaged: a link is not one of X's.")
    return ArchiveUrl(
        url=str(item.get("url") or ""),
        expanded=str(item.get("expanded") or ""),
        display=str(item.get("display") or ""),
    )


def _reaction(item: object, where: str) -> ArchiveReaction:
    if not isinstance(item, dict):
        raise ArchiveError(f"{where} is damaged: a reaction is not one of X's.")
    return ArchiveReaction(
        sender_id=_user_id(item.get("senderId"), where, "a reaction's senderId"),
        reaction_key=str(item.get("reactionKey") or ""),
        event_id=xids.x_id_or_empty(item.get("eventId")),
        created_at=_parse_datetime(item.get("createdAt")),
    )


def _parse_datetime(value: object) -> datetime | None:
    """X's archive dates: ISO 8601 in UTC ("2022-01-27T15:58:52.744Z"); a naive one is UTC too.
    Tweets use "Wed Oct 10 20:19:24 +0000 2018", accepted here in case a DM ever does."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- The archive's files: a ZIP, or a folder -----------------------------------------------------


def _declared_members(path: Path) -> int:
    """How many files the ZIP's end record says it holds, read before zipfile builds an object for
    each (a few MB of ZIP can declare millions). zipfile's own reader of that record is private;
    without it the count is checked after zipfile has read them all."""
    try:
        with path.open("rb") as file:
            end = zipfile._EndRecData(file)  # type: ignore[attr-defined]
        return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else 0  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError, ValueError, OSError):
        return 0


def _unsafe_name(name: str) -> bool:
    """A name that could climb out of a folder when someone extracts it: absolute, a drive,
    backslashes (a separator on Windows), "..", or control characters (NUL hides a suffix)."""
    return (
        name.startswith("/")
        or "\\" in name
        or re.match(r"[A-Za-z]:", name) is not None
        or any(part == ".." for part in name.split("/"))
        or any(ord(char) < 32 or ord(char) == 127 for char in name)
    )


class _Source:
    """The files of an archive by their names (POSIX, relative), with their sizes."""

    limits: ArchiveLimits
    _sizes: dict[str, int]

    def names(self) -> dict[str, int]:
        return self._sizes

    def exists(self, name: str) -> bool:
        return name in self._sizes

    def size(self, name: str) -> int:
        try:
            return self._sizes[name]
        except KeyError:
            raise ArchiveError(f"The archive has no {name}.") from None

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Zip(_Source):
    def __init__(self, path: Path, limits: ArchiveLimits):
        self.limits = limits
        if _declared_members(path) > limits.max_members:
            raise ArchiveError("The ZIP holds far more files than X's archives do: refused.")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            raise ArchiveError(
                f"{path.name} is not a ZIP file, or it was cut short while downloading. "
                "Upload the ZIP that X sent you, as it came."
            ) from None
        try:
            self._sizes = self._check(self._zip.infolist())
        except BaseException:
            self._zip.close()
            raise

    def _check(self, members: list[zipfile.ZipInfo]) -> dict[str, int]:
        """Every name and size, before anything is inflated: a ZIP may hold anything."""
        limits = self.limits
        if len(members) > limits.max_members:
            raise ArchiveError("The ZIP holds far more files than X's archives do: refused.")
        sizes: dict[str, int] = {}
        total = 0
        for info in members:
            name = info.filename
            if _unsafe_name(name) or _unsafe_name(info.orig_filename):
                raise ArchiveError(
                    "The ZIP holds a file whose name could lead out of its folder when "
                    f"unpacked ({info.orig_filename[:80]!r}): refused. Upload the ZIP that X "
                    "sent you, as it came."
                )
            if info.is_dir():
                continue
            if name in sizes:
                raise ArchiveError(f"The ZIP holds {name} twice: refused.")
            total += info.file_size
            too_big = info.file_size > limits.max_member_bytes or total > limits.max_total_bytes
            too_dense = (
                info.file_size > limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            )
            if too_big or too_dense:
                raise ArchiveError(
                    f"The ZIP would inflate to far more than X's archives do ({name}: "
                    f"{info.file_size:,} bytes from {info.compress_size:,}): refused."
                )
            sizes[name] = info.file_size
        return sizes

    def open(self, name: str) -> BinaryIO:
        if name not in self._sizes:
            raise ArchiveError(f"The archive has no {name}.")
        try:
            return self._zip.open(name)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
            raise ArchiveError(
                f"{name} can't be read from the ZIP ({_why(error)}). Download it again from X."
            ) from None

    def close(self) -> None:
        self._zip.close()


class _Folder(_Source):
    """An extracted archive. Names are checked as in a ZIP, and links may not lead out of it."""

    def __init__(self, root: Path, limits: ArchiveLimits):
        self.limits = limits
        self._root = root.resolve()
        self._sizes = {}
        for folder, dirs, files in os.walk(self._root):
            dirs.sort()
            for file_name in sorted(files):
                path = Path(folder, file_name)
                name = path.relative_to(self._root).as_posix()
                if _unsafe_name(name):
                    continue
                self._sizes[name] = self._stat(path).st_size

    def _stat(self, path: Path) -> os.stat_result:
        real = path.resolve()
        if not real.is_relative_to(self._root):
            raise ArchiveError(
                f"The folder holds a link that leads out of it ({path.name}): refused."
            )
        try:
            return real.stat()
        except OSError as error:
            raise ArchiveError(f"{path.name} can't be read ({error.strerror}).") from None

    def open(self, name: str) -> BinaryIO:
        if name not in self._sizes:
            raise ArchiveError(f"The archive has no {name}.")
        path = self._root / name
        self._stat(path)
        if not stat.S_ISREG(path.stat().st_mode):
            raise ArchiveError(f"{name} is not a file.")
        return path.open("rb")
