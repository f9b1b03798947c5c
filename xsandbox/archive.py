"""Each seeded account's "Download an archive of your data" ZIP, as X writes it, at
GET /archives/<username>.zip: the whole history of its DMs, not only the 30 days the API returns.
It is the demo's other half: sign in (the API gives 30 days), download this, upload it on DM
Reader's Import page, and the older history is there.

The layout (X's archives, and the parsers DM Reader's conversations/archive.py cites):
- `data/manifest.js`: `window.__THAR_CONFIG = {…}` with `userInfo`, `archiveInfo` and
  `dataTypes.directMessages` / `directMessagesGroup` (`files[]` of fileName, globalName, count as a
  string, and `mediaDirectory`).
- `data/direct-messages.js` and `data/direct-messages-group.js`: `window.YTD.<type>.part0 = [ … ]`,
  pretty-printed with X's `" : "`, one `{"dmConversation": {"conversationId", "messages"}}` per
  conversation, messages newest first.
- `messageCreate` (`recipientId` in one-to-ones only, `reactions`, `urls`, `text`, `mediaUrls`,
  `senderId`, `id`, `createdAt`); `joinConversation` (the account itself was added:
  `initiatingUserId`, `participantsSnapshot`), `participantsJoin`, `participantsLeave`,
  `conversationNameUpdate` (`initiatingUserId`, `name`). Membership events carry no id.
- Media in `data/direct_messages_media/` and `data/direct_messages_group_media/`, each named
  `<messageId>-<last segment of its mediaUrl>` (a video's without its `?tag=1`).

X's API has neither reactions nor group names, so the sandbox's world has none: they are made here,
from fixed seeds (the same archive every time for the same world), so the archive has what real
ones have. Photos are drawn at a modest size and every video and GIF shares one short clip, so
building maya's archive (about 6,000 messages, 480 media) takes seconds, not minutes; the ZIP is
kept under XSANDBOX_MEDIA_DIR until the account's history changes.
"""

# Seeded randomness on purpose (S311).
# ruff: noqa: S311

import hashlib
import json
import os
import random
import tempfile
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Max
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from xsandbox import clock, imagery, seed
from xsandbox.ids import SEED, snowflake
from xsandbox.models import Conversation, Event, Media, User
from xsandbox.people import JONAS, MAYA, THEO

CDN_TON = "https://ton.twitter.com"
CDN_VIDEO = "https://video.twimg.com"
# The largest side of an archive's photo (X's own are full size; a demo needs no more).
PHOTO_SIDE = 640
REACTION_KEYS = ("like", "funny", "surprised", "sad", "agree", "disagree", "hot")
REACTION_SHARE = 0.06  # of messages with a reaction or more
ARCHIVE_VERSION = "v2"  # part of the cached ZIP's name: bump when the format changes

# Group names, by the seeded group's key: (fraction of the way through its events, who, name).
# Renames after the first show as "… named the group" lines; groups left out stay unnamed, so the
# demo has both. One name is hostile on purpose: it must stay text wherever it is shown.
GROUP_NAMES = {
    "lisbon_trip": ((0.02, MAYA, "Lisbon 🇵🇹"), (0.45, THEO, "Lisbon trip 🇵🇹")),
    "book_club": ((0.03, "layla_haddad", "Book club 📚"),),
    "family": ((0.05, "ngozi_okafor", "Okafor family 💛"),),
    "climbing": ((0.2, "hannah_berg", "Tuesday climbing 🧗"),),
    "old_flatmates": ((0.1, "rosie_clarke", '<b>Flat 4B</b> & "friends" <script>x</script>'),),
    "kickers": ((0.05, JONAS, "Sunday kickers ⚽"),),
}

_LOCK = threading.Lock()


@require_http_methods(["GET", "HEAD"])
def archive_download(request: HttpRequest, username: str) -> HttpResponse:
    """The account's archive ZIP. The sandbox has no passwords (its consent page lets anyone pick
    an account), so neither has this: any account that can sign in can be downloaded, as a local
    demo needs. `?media=0` leaves the media files out (tests that need only the messages)."""
    user = User.objects.filter(username__iexact=username, can_sign_in=True, gone=False).first()
    if user is None:
        raise Http404("No such account to download")
    with_media = request.GET.get("media", "1") != "0"
    path = cached_archive(user, with_media=with_media)
    now = clock.now()
    name = f"twitter-{now:%Y-%m-%d}-{hashlib.sha256(path.name.encode()).hexdigest()[:40]}.zip"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


def cached_archive(user: User, *, with_media: bool = True) -> Path:
    """The ZIP for the account's history as it is now, built once and kept while nothing changes
    (a new event, the clock moving past one, another seed: each makes another file)."""
    now = clock.now()
    shape = Event.objects.filter(conversation__participants=user, created_at__lte=now).aggregate(
        newest=Max("id"), count=Count("id")
    )
    key = hashlib.sha256(
        f"{ARCHIVE_VERSION}:{user.id}:{shape['newest']}:{shape['count']}:{with_media}".encode()
    ).hexdigest()[:24]
    folder = Path(settings.XSANDBOX_MEDIA_DIR) / "archives"
    path = folder / f"{user.username}-{key}.zip"
    with _LOCK:
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            # A name of its own: sandboxes of one test run share this folder.
            fd, partial = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".zip")
            try:
                with os.fdopen(fd, "wb") as out:
                    write_archive(user, _events(user, now), out, now=now, with_media=with_media)
                os.replace(partial, path)
            finally:
                Path(partial).unlink(missing_ok=True)
    return path


def _events(user: User, now: datetime) -> list[Event]:
    """Every event of the account's conversations up to now, newest first: no 30-day window."""
    return list(
        Event.objects.filter(conversation__participants=user, created_at__lte=now)
        .select_related("sender")
        .prefetch_related("media")
        .order_by("-id")
    )


def write_archive(user: User, events: list[Event], out, *, now: datetime, with_media: bool) -> None:
    users = {u.id: u for u in User.objects.all()}
    conversations = {
        c.id: c
        for c in Conversation.objects.filter(participants=user).prefetch_related("participants")
    }
    by_conversation: dict[str, list[Event]] = {}
    for event in events:
        by_conversation.setdefault(event.conversation_id, []).append(event)
    groups = _group_keys(conversations, users)
    files: dict[bool, list[dict]] = {False: [], True: []}
    media_files: list[tuple[str, Media, str]] = []  # (name in the ZIP, media, kind)
    for conversation_id in sorted(by_conversation, key=lambda c: (len(c), c)):
        conversation = conversations[conversation_id]
        rows = by_conversation[conversation_id]
        messages = _messages(user, conversation, rows, groups.get(conversation_id), users)
        folder = "direct_messages_group_media" if conversation.is_group else "direct_messages_media"
        for event in rows:
            for item in event.media.all():
                url = media_url(item)
                last = urlsplit(url).path.rpartition("/")[2]
                media_files.append((f"data/{folder}/{event.id}-{last}", item, item.type))
        files[conversation.is_group].append(
            {"dmConversation": {"conversationId": conversation_id, "messages": messages}}
        )
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        one, group = files[False], files[True]
        archive.writestr(
            "data/manifest.js",
            "window.__THAR_CONFIG = " + _json(_manifest(user, now, len(one), len(group))),
        )
        archive.writestr(
            "data/direct-messages.js", "window.YTD.direct_messages.part0 = " + _json(one)
        )
        archive.writestr(
            "data/direct-messages-group.js",
            "window.YTD.direct_messages_group.part0 = " + _json(group),
        )
        archive.writestr("data/README.txt", README)
        if with_media:
            clip = None
            for name, item, kind in media_files:
                if kind == Media.PHOTO:
                    archive.writestr(name, _photo(item), compress_type=zipfile.ZIP_STORED)
                else:
                    clip = clip or _clip()
                    archive.writestr(name, clip, compress_type=zipfile.ZIP_STORED)


def _json(value) -> str:
    # X's own layout: two-space indents and " : " between a key and its value.
    return json.dumps(value, ensure_ascii=False, indent=2, separators=(",", " : "))


def _manifest(user: User, now: datetime, one_count: int, group_count: int) -> dict:
    return {
        "userInfo": {
            "accountId": str(user.id),
            "userName": user.username,
            "displayName": user.name,
        },
        "archiveInfo": {
            "sizeBytes": "0",
            "generationDate": _iso(now),
            "isPartialArchive": False,
            "maxPartSizeBytes": "53687091200",
        },
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            "directMessages": {
                "mediaDirectory": "data/direct_messages_media",
                "files": [
                    {
                        "fileName": "data/direct-messages.js",
                        "globalName": "YTD.direct_messages.part0",
                        "count": str(one_count),
                    }
                ],
            },
            "directMessagesGroup": {
                "mediaDirectory": "data/direct_messages_group_media",
                "files": [
                    {
                        "fileName": "data/direct-messages-group.js",
                        "globalName": "YTD.direct_messages_group.part0",
                        "count": str(group_count),
                    }
                ],
            },
            "directMessagesMedia": {"mediaDirectory": "data/direct_messages_media", "files": []},
            "directMessagesGroupMedia": {
                "mediaDirectory": "data/direct_messages_group_media",
                "files": [],
            },
        },
    }


def _iso(moment: datetime) -> str:
    """X's archive dates: "2022-01-27T15:58:52.744Z"."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _group_keys(conversations: dict[str, Conversation], users: dict[int, User]) -> dict[str, str]:
    """The seeded group each conversation is (its key in seed.GROUPS), by everyone ever in it."""
    by_members = {}
    for spec in seed.GROUPS:
        everyone = {spec.creator, *spec.initial}
        for change in spec.changes:
            everyone.update(change.who)
        by_members[frozenset(everyone)] = spec.key
    found = {}
    for conversation in conversations.values():
        if conversation.is_group:
            members = frozenset(p.username for p in conversation.participants.all())
            if members in by_members:
                found[conversation.id] = by_members[members]
    return found


def _messages(
    owner: User,
    conversation: Conversation,
    events: list[Event],
    group_key: str | None,
    users: dict[int, User],
) -> list[dict]:
    """The conversation's events as the archive writes them, newest first."""
    oldest_first = events[::-1]
    members: set[str] = set()
    written: list[tuple[datetime, dict]] = []
    for event in oldest_first:
        if event.event_type == Event.MESSAGE_CREATE:
            body = _message_create(conversation, event)
            written.append((event.created_at, {"messageCreate": body}))
        elif event.event_type == Event.PARTICIPANTS_JOIN:
            added = [str(p) for p in event.participant_ids]
            by = str(event.sender_id) if event.sender_id else added[0]
            members.update(added, {by})
            if str(owner.id) in added:
                body = {"initiatingUserId": by, "participantsSnapshot": sorted(members, key=int)}
                written.append((event.created_at, {"joinConversation": _dated(body, event)}))
            else:
                body = {"initiatingUserId": by, "userIds": added}
                written.append((event.created_at, {"participantsJoin": _dated(body, event)}))
        elif event.event_type == Event.PARTICIPANTS_LEAVE:
            left = [str(p) for p in event.participant_ids]
            members.difference_update(left)
            body = {"userIds": left}
            written.append((event.created_at, {"participantsLeave": _dated(body, event)}))
    if group_key and oldest_first:
        start, end = oldest_first[0].created_at, oldest_first[-1].created_at
        ids = {u.username: u.id for u in users.values()}
        for fraction, who, name in GROUP_NAMES.get(group_key, ()):
            at = start + (end - start) * fraction + timedelta(milliseconds=7)
            body = {"initiatingUserId": str(ids[who]), "name": name, "createdAt": _iso(at)}
            written.append((at, {"conversationNameUpdate": body}))
    written.sort(key=lambda item: item[0], reverse=True)
    return [body for _, body in written]


def _dated(body: dict, event: Event) -> dict:
    return {**body, "createdAt": _iso(event.created_at)}


def _message_create(conversation: Conversation, event: Event) -> dict:
    body: dict = {}
    if not conversation.is_group:
        low, high = (int(x) for x in conversation.id.split("-"))
        body["recipientId"] = str(high if event.sender_id == low else low)
    body["reactions"] = _reactions(conversation, event)
    body["urls"] = [
        {
            "url": entity.get("url", ""),
            "expanded": entity.get("expanded_url", ""),
            "display": entity.get("display_url", ""),
        }
        for entity in event.entities.get("urls", [])
    ]
    body["text"] = event.text
    body["mediaUrls"] = [media_url(item) for item in event.media.all()]
    body["senderId"] = str(event.sender_id)
    body["id"] = str(event.id)
    body["createdAt"] = _iso(event.created_at)
    return body


def _reactions(conversation: Conversation, event: Event) -> list[dict]:
    """A few messages get reactions from others in the conversation, seeded by the event."""
    rng = random.Random(f"{SEED}:reactions:{event.id}")
    if rng.random() >= REACTION_SHARE:
        return []
    others = sorted(p.id for p in conversation.participants.all() if p.id != event.sender_id)
    if not others:
        return []
    key = rng.choice(REACTION_KEYS)
    reactions = []
    for number, who in enumerate(rng.sample(others, k=min(len(others), rng.choice((1, 1, 2, 3))))):
        at = event.created_at + timedelta(seconds=rng.randrange(5, 3600))
        reactions.append(
            {
                "senderId": str(who),
                "reactionKey": key
                if number == 0 or rng.random() < 0.7
                else rng.choice(REACTION_KEYS),
                "eventId": str(snowflake(at, number, worker=rng.randrange(1024))),
                "createdAt": _iso(at),
            }
        )
    return reactions


def media_url(item: Media) -> str:
    """Where X's archive says a DM's media is: the TON URL of a photo, the MP4 of a video or GIF
    (a video's with the `?tag=` X adds)."""
    media_id = item.media_key.split("_", 1)[1]
    if item.type == Media.PHOTO:
        return f"{CDN_TON}/1.1/ton/data/dm/{item.event_id}/{media_id}/{item.resource_id}"
    mp4s = [v for v in item.variants if v.get("content_type") == "video/mp4"]
    best = max(mp4s, key=lambda v: v.get("bit_rate") or 0)["path"] if mp4s else ""
    suffix = "?tag=1" if item.type == Media.VIDEO else ""
    return f"{CDN_VIDEO}{best}{suffix}"


def _photo(item: Media) -> bytes:
    scale = min(1, PHOTO_SIDE / max(item.width, item.height))
    width, height = max(1, round(item.width * scale)), max(1, round(item.height * scale))
    seed_id = int(item.media_key.split("_", 1)[1])
    caption = item.alt_text or f"IMG_{str(seed_id)[-4:]}"
    return _cached_bytes(
        f"archive-photo/{seed_id}/{width}x{height}.jpg",
        lambda: imagery.photo_jpeg(seed_id, width, height, caption),
    )


def _clip() -> bytes:
    def make() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "clip.mp4"
            imagery.video_mp4(4242, 320, 240, target, seconds=1.0, caption="")
            return target.read_bytes()

    return _cached_bytes("archive-clip/320x240.mp4", make)


def _cached_bytes(relative: str, make) -> bytes:
    path = Path(settings.XSANDBOX_MEDIA_DIR) / "archive-cache" / relative
    if not path.exists():
        imagery.write_atomically(path, make())
    return path.read_bytes()


README = """Archive of your X DMs (xsandbox)

This archive was generated by xsandbox, DM Reader's local stand-in for X. It follows the layout
of X's "Download an archive of your data": data/manifest.js names the account and the files,
data/direct-messages.js and data/direct-messages-group.js hold every Direct Message, newest
first in each conversation, and data/direct_messages_media/ and
data/direct_messages_group_media/ hold their photos and videos.
"""
