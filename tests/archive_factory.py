"""X's "Download an archive of your data" ZIP, written as X writes it, for tests and the benchmark.

The layout and the JSON follow what conversations/archive.py documents (and the parsers it cites):
`data/manifest.js` (`window.__THAR_CONFIG = {…}`), `data/direct-messages.js` and
`data/direct-messages-group.js` split into `-part1.js`, `-part2.js`… past `part_bytes`, each
`window.YTD.direct_messages.partN = [ … ]` pretty-printed with X's `" : "`, and media files named
`<messageId>-<last segment of the mediaUrl>` in `data/direct_messages_media/` and
`data/direct_messages_group_media/`. `singular=True` writes the older spelling
(`direct-message.js`, `direct_message_media/`). Ids are snowflakes, so they rise with time.

Conversations are written as they are generated, so a 200,000-message archive never sits in memory.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

TWITTER_EPOCH_MS = 1288834974657
OWNER_ID = "1400000000000000001"
OWNER_USERNAME = "maya_reads"
REACTIONS = ("like", "funny", "surprised", "sad", "agree", "disagree", "hot")


def snowflake(when: datetime, sequence: int = 0) -> str:
    ms = int(when.timestamp() * 1000)
    return str(((ms - TWITTER_EPOCH_MS) << 22) | (sequence & 0xFFF))


def iso(when: datetime) -> str:
    """X's archive dates: "2022-01-27T15:58:52.744Z"."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Conversation:
    """One `dmConversation`: its events as X writes them (newest first), and its media files."""

    conversation_id: str
    group: bool
    messages: list[dict] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "dmConversation": {"conversationId": self.conversation_id, "messages": self.messages}
        }


def message_create(
    event_id: str,
    sender_id: str,
    when: datetime,
    text: str = "",
    *,
    recipient_id: str | None = None,
    media_urls: Iterable[str] = (),
    urls: Iterable[dict] = (),
    reactions: Iterable[dict] = (),
) -> dict:
    body: dict = {}
    if recipient_id is not None:  # absent in groups
        body["recipientId"] = recipient_id
    body.update(
        reactions=list(reactions),
        urls=list(urls),
        text=text,
        mediaUrls=list(media_urls),
        senderId=sender_id,
        id=event_id,
        createdAt=iso(when),
    )
    return {"messageCreate": body}


def reaction(sender_id: str, key: str, event_id: str, when: datetime) -> dict:
    return {"senderId": sender_id, "reactionKey": key, "eventId": event_id, "createdAt": iso(when)}


def participants_join(initiating_user_id: str, user_ids: Iterable[str], when: datetime) -> dict:
    return {
        "participantsJoin": {
            "initiatingUserId": initiating_user_id,
            "userIds": list(user_ids),
            "createdAt": iso(when),
        }
    }


def participants_leave(user_ids: Iterable[str], when: datetime) -> dict:
    return {"participantsLeave": {"userIds": list(user_ids), "createdAt": iso(when)}}


def join_conversation(initiating_user_id: str, snapshot: Iterable[str], when: datetime) -> dict:
    return {
        "joinConversation": {
            "initiatingUserId": initiating_user_id,
            "participantsSnapshot": list(snapshot),
            "createdAt": iso(when),
        }
    }


def conversation_name_update(initiating_user_id: str, name: str, when: datetime) -> dict:
    return {
        "conversationNameUpdate": {
            "initiatingUserId": initiating_user_id,
            "name": name,
            "createdAt": iso(when),
        }
    }


def photo(message_id: str, rng: random.Random) -> tuple[str, str, bytes]:
    """A DM photo: its mediaUrl, its file name in the archive, and its bytes (a tiny JPEG-ish)."""
    media_id = str(rng.getrandbits(60))
    token = "".join(
        rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=8)
    )
    url = f"https://ton.twitter.com/dm/{message_id}/{media_id}/{token}.jpg"
    return url, f"{message_id}-{token}.jpg", b"\xff\xd8\xff\xe0" + rng.randbytes(2048) + b"\xff\xd9"


def video(message_id: str, rng: random.Random) -> tuple[str, str, bytes]:
    """A DM video: its URL ends in a query string, which the file name doesn't have."""
    media_id = str(rng.getrandbits(60))
    token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789_-", k=16))
    url = f"https://video.twimg.com/dm_video/{media_id}/vid/1280x720/{token}.mp4?tag=1"
    return url, f"{message_id}-{token}.mp4", b"\x00\x00\x00\x18ftypmp42" + rng.randbytes(4096)


def tco_link(rng: random.Random) -> str:
    return "https://t.co/" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10))


# --- Writing an archive ---------------------------------------------------------------------------


@dataclass
class WrittenArchive:
    path: Path
    data_files: list[str]  # names inside the archive, in the order the manifest lists them
    media_files: list[str]
    events: int
    conversations: int


def write_archive(
    target: Path,
    one_to_one: Iterable[Conversation],
    groups: Iterable[Conversation] = (),
    *,
    account_id: str = OWNER_ID,
    username: str = OWNER_USERNAME,
    display_name: str = "Maya",
    part_bytes: int = 100 * 1024**2,
    singular: bool = False,
    as_folder: bool = False,
    manifest_lists_dms: bool = True,
    manifest_parts_reversed: bool = False,
    generated_at: datetime | None = None,
) -> WrittenArchive:
    """Write the archive as a ZIP at `target` (or as the extracted folder, `as_folder=True`),
    generated `generated_at` (now by default, as X's are: an archive covers up to its making)."""
    root = Path(tempfile.mkdtemp(prefix="archive-", dir=target.parent)) if not as_folder else target
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    stem = "direct-message" if singular else "direct-messages"
    media_stem = "direct_message" if singular else "direct_messages"
    written = WrittenArchive(target, [], [], 0, 0)
    data_types: dict = {}
    for kind, conversations, group in (
        ("directMessages", one_to_one, False),
        ("directMessagesGroup", groups, True),
    ):
        file_stem = f"{stem}-group" if group else stem
        global_stem = "direct_messages_group" if group else "direct_messages"
        media_dir = f"{media_stem}_group_media" if group else f"{media_stem}_media"
        parts = _write_parts(
            data, file_stem, global_stem, data / media_dir, conversations, part_bytes, written
        )
        if manifest_parts_reversed:
            parts.reverse()
        written.data_files += [f"data/{entry['fileName'].removeprefix('data/')}" for entry in parts]
        data_types[kind] = {"mediaDirectory": f"data/{media_dir}", "files": parts}
        data_types[kind + "Media"] = {"mediaDirectory": f"data/{media_dir}"}
    if not manifest_lists_dms:
        data_types = {}
    manifest = {
        "userInfo": {"accountId": account_id, "userName": username, "displayName": display_name},
        "archiveInfo": {
            "sizeBytes": "0",
            "generationDate": iso(generated_at or datetime.now(UTC)),
            "isPartialArchive": False,
            "maxPartSizeBytes": "53687091200",
        },
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            "account": {
                "files": [
                    {"fileName": "data/account.js", "globalName": "YTD.account.part0", "count": "1"}
                ]
            },
            **data_types,
        },
    }
    (data / "manifest.js").write_text(
        "window.__THAR_CONFIG = " + json.dumps(manifest, indent=2, separators=(",", " : ")),
        encoding="utf-8",
    )
    account = [{"account": {"accountId": account_id, "username": username}}]
    (data / "account.js").write_text(
        "window.YTD.account.part0 = " + json.dumps(account, indent=2), encoding="utf-8"
    )
    (root / "Your archive.html").write_text("<!doctype html><title>Your archive</title>")
    if not as_folder:
        zip_folder(root, target)
        shutil.rmtree(root)
    return written


def _write_parts(
    data: Path,
    file_stem: str,
    global_stem: str,
    media_dir: Path,
    conversations: Iterable[Conversation],
    part_bytes: int,
    written: WrittenArchive,
) -> list[dict]:
    """Write conversations one at a time, starting a new part file past `part_bytes`: part 0 is
    `direct-messages.js`, then `direct-messages-part1.js`… (X's naming)."""
    parts: list[dict] = []
    out = None
    count = 0

    def finish() -> None:
        out.write(b"\n]")
        out.close()
        parts[-1]["count"] = str(count)

    for conversation in conversations:
        if out is None or out.tell() > part_bytes:
            if out is not None:
                finish()
            number = len(parts)
            name = f"{file_stem}.js" if number == 0 else f"{file_stem}-part{number}.js"
            parts.append(
                {"fileName": f"data/{name}", "globalName": f"YTD.{global_stem}.part{number}"}
            )
            out = (data / name).open("wb")
            out.write(f"window.YTD.{global_stem}.part{number} = [".encode())
            count = 0
        text = json.dumps(
            conversation.as_json(), indent=2, ensure_ascii=False, separators=(",", " : ")
        )
        out.write((",\n" if count else "\n").encode() + text.encode())
        count += 1
        written.conversations += 1
        written.events += len(conversation.messages)
        if conversation.media:
            media_dir.mkdir(exist_ok=True)
        for file_name, content in conversation.media.items():
            (media_dir / file_name).write_bytes(content)
            written.media_files.append(f"data/{media_dir.name}/{file_name}")
    if out is None:
        # No conversations of this kind: X still writes the file, with an empty list.
        name = f"{file_stem}.js"
        (data / name).write_text(f"window.YTD.{global_stem}.part0 = [ ]")
        parts.append(
            {"fileName": f"data/{name}", "globalName": f"YTD.{global_stem}.part0", "count": "0"}
        )
    else:
        finish()
    return parts


def zip_folder(root: Path, target: Path) -> None:
    """Zip a folder as X does: names relative to it, deflated (media stored as they are)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                stored = path.suffix in (".jpg", ".mp4", ".png", ".gif")
                archive.write(
                    path,
                    path.relative_to(root).as_posix(),
                    compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
                )


# --- Generated history ----------------------------------------------------------------------------

# Accents, CJK, emoji, markup and escapes: text is data, kept exactly as X wrote it.
WORDS = (
    *[
        "lisbon",
        "trip",
        "tomorrow",
        "coffee",
        "☕",
        "tickets",
        "ok",
        "see",
        "you",
        "soon",
        "café",
        "naïve",
        "東京",
        "ramen",
        "🎉",
    ],
    *[
        "thanks",
        "meeting",
        "notes",
        "draft",
        "photo",
        "later",
        "call",
        "train",
        "station",
        "weekend",
        "birthday",
    ],
    "<script>alert(1)</script>",
    "&amp;",
    '"quoted"',
    "back\\slash",
)


@dataclass
class History:
    """A generated inbox, as the two streams of conversations `write_archive` takes."""

    one_to_one: Iterator[Conversation]
    groups: Iterator[Conversation]


def generate_history(
    *,
    messages: int,
    conversations: int = 40,
    group_share: float = 0.25,
    media_every: int = 40,
    owner_id: str = OWNER_ID,
    seed: int = 1,
    newest: datetime = datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
) -> History:
    """`messages` DM events over `conversations` conversations (a share of them groups, with joins,
    leaves and renames), a photo or video every `media_every` messages, reactions, links and
    hostile text. Conversations come in random order, so parts are in no time order."""
    rng = random.Random(seed)
    weights = [rng.paretovariate(1.2) for _ in range(conversations)]
    total = sum(weights)
    sizes = [max(3, int(messages * weight / total)) for weight in weights]
    sizes[0] += messages - sum(sizes)  # exactly `messages` events in all
    kinds = [rng.random() < group_share for _ in range(conversations)]
    plan = list(zip(range(conversations), sizes, kinds, strict=True))
    rng.shuffle(plan)
    return History(
        one_to_one=(
            _conversation(seed, index, size, False, owner_id, newest, media_every)
            for index, size, group in plan
            if not group
        ),
        groups=(
            _conversation(seed, index, size, True, owner_id, newest, media_every)
            for index, size, group in plan
            if group
        ),
    )


def _conversation(
    seed: int,
    index: int,
    size: int,
    group: bool,
    owner_id: str,
    newest: datetime,
    media_every: int,
) -> Conversation:
    rng = random.Random(seed * 1_000_003 + index)
    people = [str(rng.randrange(10**8, 10**12)) for _ in range(rng.randint(2, 6) if group else 1)]
    members = [owner_id, *people]
    started = newest - timedelta(days=rng.randint(40, 3000))
    step = (newest - started) / max(size, 1)
    times = [started + step * i + timedelta(milliseconds=rng.randrange(1000)) for i in range(size)]
    if group:
        conversation_id = snowflake(started - timedelta(seconds=1), index)
    else:
        conversation_id = "-".join(sorted([owner_id, people[0]], key=int))
    conversation = Conversation(conversation_id, group)
    events = []
    for position, when in enumerate(times):
        event_id = snowflake(when, index * 7 + position)
        if group and position == 0:
            events.append(join_conversation(people[0], members, when))
            continue
        if group and position % 97 == 1:
            events.append(conversation_name_update(rng.choice(members), _words(rng, 3), when))
            continue
        if group and position % 131 == 3:
            newcomer = str(rng.randrange(10**8, 10**12))
            events.append(participants_join(rng.choice(members), [newcomer], when))
            continue
        if group and position % 173 == 5:
            events.append(participants_leave([rng.choice(people)], when))
            continue
        sender = rng.choice(members)
        text = _words(rng, rng.randint(1, 14))
        media_urls: list[str] = []
        urls: list[dict] = []
        if rng.randrange(max(media_every, 1)) == 0:
            url, file_name, content = (video if rng.random() < 0.2 else photo)(event_id, rng)
            link = tco_link(rng)
            media_urls.append(url)
            urls.append(
                {
                    "url": link,
                    "expanded": f"https://twitter.com/messages/media/{event_id}",
                    "display": "pic.twitter.com/" + link.rsplit("/", 1)[1],
                }
            )
            text = f"{text} {link}"
            conversation.media[file_name] = content
        elif rng.random() < 0.05:
            link = tco_link(rng)
            urls.append(
                {
                    "url": link,
                    "expanded": "https://example.com/a?b=c",
                    "display": "example.com/a?b=…",
                }
            )
            text = f"{text} {link}"
        reactions = []
        if rng.random() < 0.05:
            reactor = rng.choice([m for m in members if m != sender] or members)
            reactions.append(
                reaction(
                    reactor,
                    rng.choice(REACTIONS),
                    snowflake(when, 4000),
                    when + timedelta(minutes=1),
                )
            )
        recipient = None if group else (people[0] if sender == owner_id else owner_id)
        events.append(
            message_create(
                event_id,
                sender,
                when,
                text,
                recipient_id=recipient,
                media_urls=media_urls,
                urls=urls,
                reactions=reactions,
            )
        )
    events.reverse()  # X writes a conversation's messages newest first
    conversation.messages = events
    return conversation


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))
