"""The plain formats, written as a stream of bytes: JSON (docs/export-json.md), CSV, Markdown.

Each reads the selection conversation by conversation, in keyset batches (queries.events_in_order),
and yields as it goes, so memory stays flat whatever the number of events. JSON lists users, media
and posts once each after the events, read in bulk by the ids the events referenced.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from conversations import queries, reactions, rendering, store
from conversations.models import Conversation, DmEvent, Media, SharedPost, XUser
from dmreader.models import XAccount
from exports.scope import Selection

FORMAT = "dmreader-export"
VERSION = 1
IN_BULK = 500


@dataclass
class Job:
    """One export being written: whose, what, and where its progress goes."""

    owner: AbstractBaseUser
    account: XAccount | None
    selection: Selection
    generated_at: datetime = field(default_factory=timezone.now)
    # What the JSON referred to, once written (the backup ZIP copies their files after it).
    user_ids: list[str] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)
    progress: Callable[[int], None] = lambda done: None
    # HTML only: copy photos, videos and avatars into the export (off in the benchmark).
    with_media: bool = True

    @property
    def me(self) -> str:
        return self.account.x_user_id if self.account else ""

    done: int = 0

    def batches_of(self, conversation: Conversation) -> Iterator[list[DmEvent]]:
        """The conversation's events in the selection, oldest first, a keyset batch at a time."""
        for rows in queries.events_in_order(self.owner, conversation, self.selection.events):
            yield rows
            self.done += len(rows)
            self.progress(self.done)

    def batches(self) -> Iterator[tuple[Conversation, list[DmEvent]]]:
        """Every event of the selection, conversation by conversation, oldest first."""
        for conversation, _ in self.selection.conversations:
            for rows in self.batches_of(conversation):
                yield conversation, rows


def utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, as X writes its own times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def post_url(post: SharedPost) -> str:
    author = post.author.username if post.author and post.author.username else "i"
    return f"https://x.com/{author}/status/{post.x_id}"


# JSON -------------------------------------------------------------------------------------------


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _dumps_as_sent(value: dict) -> str:
    """An object with JSON columns, as X sent them: the store keeps NUL in jsonb through an
    escape (store.py's docstring), undone here so `raw` is what X sent and a restore stores it
    exactly as the sync did. Checked on the written line: nearly no payload has one."""
    line = _dumps(value)
    if store.ESCAPE not in line:
        return line
    return _dumps({k: store.as_sent(v) if k in _JSON_COLUMNS else v for k, v in value.items()})


# The fields written from JSON columns (texts of text columns are written as they are stored).
_JSON_COLUMNS = {"raw", "entities", "variants", "public_metrics", "referenced_tweets"}


def account_json(account: XAccount | None) -> dict:
    if account is None:
        return {"id": None, "username": None, "name": None}
    return {"id": account.x_user_id, "username": account.username, "name": account.name}


def conversation_json(conversation: Conversation, count: int) -> dict:
    return {
        "id": conversation.x_id,
        "type": "group" if conversation.is_group else "one_to_one",
        # The owner's name for the group, else its archive's (rendering.group_name).
        "name": rendering.group_name(conversation) or None,
        "participant_ids": [p.x_id for p in conversation.participants.all()],
        "history_complete": conversation.history_complete,
        "events_in_export": count,
    }


def event_json(event: DmEvent, conversation: Conversation) -> dict:
    return {
        "id": event.x_id,
        "conversation_id": conversation.x_id,
        "event_type": event.event_type,
        "created_at": utc(event.created_at),
        "sender_id": event.sender_x_id or None,
        "text": event.text,
        "participant_ids": [str(p) for p in event.participant_ids or []],
        "entities": event.entities or {},
        "media_keys": [m.media_key for m in event.media.all()],
        "post_ids": [p.x_id for p in event.shared_posts.all()],
        "raw": event.raw,
    }


def user_json(user: XUser) -> dict:
    return {
        "id": user.x_id,
        "username": user.username,
        "name": user.name,
        "profile_image_url": user.profile_image_url,
        "description": user.description,
        "location": user.location,
        "url": user.url,
        "created_at": utc(user.created_at),
        "protected": user.protected,
        "verified": user.verified,
        "verified_type": user.verified_type,
        "public_metrics": user.public_metrics or {},
        "unavailable": user.unavailable,
        "raw": user.raw,
    }


def media_json(item: Media) -> dict:
    return {
        "media_key": item.media_key,
        "type": item.type,
        "url": item.url,
        "preview_image_url": item.preview_image_url,
        "width": item.width,
        "height": item.height,
        "duration_ms": item.duration_ms,
        "alt_text": item.alt_text,
        "variants": item.variants or [],
        "public_metrics": item.public_metrics or {},
        "raw": item.raw,
    }


def post_json(post: SharedPost) -> dict:
    return {
        "id": post.x_id,
        "author_id": post.author_x_id or None,
        "text": post.text,
        "created_at": utc(post.created_at),
        "lang": post.lang,
        "entities": post.entities or {},
        "referenced_tweets": post.referenced_tweets or [],
        "public_metrics": post.public_metrics or {},
        "unavailable": post.unavailable,
        "raw": post.raw,
    }


def json_chunks(job: Job) -> Iterator[bytes]:
    user_ids: set[str] = set()
    media_ids: set[int] = set()
    post_ids: set[int] = set()
    head = {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": utc(job.generated_at),
        "account": account_json(job.account),
        "scope": job.selection.scope.as_dict(),
    }
    yield ("{\n" + _dumps(head)[1:-1] + ',\n"conversations":[').encode()
    for index, (conversation, count) in enumerate(job.selection.conversations):
        user_ids.update(p.x_id for p in conversation.participants.all())
        comma = "," if index else ""
        yield f"{comma}\n{_dumps(conversation_json(conversation, count))}".encode()
    yield b'\n],\n"events":['
    first = True
    for conversation, rows in job.batches():
        lines = []
        for event in rows:
            if event.sender_x_id:
                user_ids.add(event.sender_x_id)
            user_ids.update(str(p) for p in event.participant_ids or [])
            media_ids.update(m.pk for m in event.media.all())
            for post in event.shared_posts.all():
                post_ids.add(post.pk)
                if post.author_x_id:
                    user_ids.add(post.author_x_id)
            lines.append(
                ("\n" if first else ",\n") + _dumps_as_sent(event_json(event, conversation))
            )
            first = False
        yield "".join(lines).encode()
    yield b'\n],\n"users":['
    job.user_ids = sorted(user_ids, key=int)
    job.media_ids = sorted(media_ids)
    yield from _listed(XUser.objects.filter(owner=job.owner), "x_id", job.user_ids, user_json)
    yield b'\n],\n"media":['
    yield from _listed(Media.objects.filter(owner=job.owner), "pk", job.media_ids, media_json)
    yield b'\n],\n"posts":['
    yield from _listed(
        SharedPost.objects.filter(owner=job.owner), "pk", sorted(post_ids), post_json
    )
    yield b"\n]\n}\n"


def _listed(rows, key: str, ids: list, as_json: Callable) -> Iterator[bytes]:
    """The owner's rows with these ids, in bulk, as JSON objects separated by commas."""
    first = True
    for start in range(0, len(ids), IN_BULK):
        chunk = rows.filter(**{f"{key}__in": ids[start : start + IN_BULK]}).order_by(key)
        lines = []
        for row in chunk:
            lines.append(("\n" if first else ",\n") + _dumps_as_sent(as_json(row)))
            first = False
        yield "".join(lines).encode()


# CSV --------------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "conversation_id",
    "event_id",
    "event_type",
    "created_at",
    "sender_id",
    "sender_username",
    "sender_name",
    "text",
    "participant_ids",
    "media",
    "posts",
]
# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP's CSV injection):
# it gets a leading apostrophe, which spreadsheets hide. The JSON keeps every text exactly.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_chunks(job: Job) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    # A byte order mark, so that spreadsheets read the file as UTF-8 (emoji, accents, CJK).
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for conversation, rows in job.batches():
        buffer.seek(0)
        buffer.truncate()
        for event in rows:
            sender = event.sender
            writer.writerow(
                [
                    conversation.x_id,
                    event.x_id,
                    event.event_type,
                    utc(event.created_at),
                    event.sender_x_id,
                    sender.username if sender else "",
                    _cell(sender.name if sender else ""),
                    _cell(event.text or ""),
                    " ".join(str(p) for p in event.participant_ids or []),
                    " ".join(f"{m.type}:{m.media_key}" for m in event.media.all()),
                    " ".join(post_url(p) for p in event.shared_posts.all()),
                ]
            )
        yield buffer.getvalue().encode()


# Markdown ---------------------------------------------------------------------------------------

# Backslash-escaped (CommonMark: any ASCII punctuation may be): whatever a message says stays
# text in a Markdown viewer, never a link, an image, emphasis or raw HTML.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&!])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)


def md_escape(text: str) -> str:
    escaped = _MD_INLINE.sub(r"\\\1", text)
    escaped = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return escaped


def _md_lines(text: str) -> str:
    # Two spaces at each line's end: a line break, as the message had it.
    return "  \n".join(md_escape(line) for line in text.split("\n"))


def markdown_chunks(job: Job) -> Iterator[bytes]:
    who = f"@{job.account.username}" if job.account else "DM Reader"
    scope = job.selection.scope
    head = [
        f"# Direct Messages of {md_escape(who)}",
        "",
        f"Exported from DM Reader on {utc(job.generated_at)}.  ",
        f"Scope: {md_escape(_scope_line(scope))}.  ",
        f"Times are in {timezone.get_current_timezone_name()}.",
        "",
    ]
    yield "\n".join(head).encode()
    current = None
    day = None
    for conversation, rows in job.batches():
        lines = []
        if conversation.pk != current:
            current, day = conversation.pk, None
            participants = list(conversation.participants.all())
            title = rendering.title(conversation, job.me)
            handles = " · ".join(rendering.handle(p) for p in participants if p.x_id != job.me)
            lines += ["", f"## {md_escape(title)}", "", f"{md_escape(handles)}  "]
            lines += [f"Conversation {conversation.x_id}", ""]
            people = {p.x_id: p for p in participants}
        for event in rows:
            local = timezone.localtime(event.created_at)
            if local.date() != day:
                day = local.date()
                lines += [f"### {local:%A}, {local.day} {local:%B %Y}", ""]
            if event.sender is not None:
                people.setdefault(event.sender_x_id, event.sender)
            if event.event_type != DmEvent.MESSAGE_CREATE:
                line = rendering.system_line(event, people)
                lines += [f"*{md_escape(line)}* · {local:%H:%M}", ""]
                continue
            name = rendering.display_name(event.sender, event.sender_x_id)
            handle = rendering.handle(event.sender, event.sender_x_id)
            lines.append(f"**{md_escape(name)}** {md_escape(handle)} · {local:%H:%M}  ")
            hidden = {p.x_id for p in event.shared_posts.all()}
            text = rendering.plain_text(event.text, event.entities, hidden)
            if text:
                lines.append(_md_lines(text))
            for item in event.media.all():
                kind = {"photo": "Photo", "video": "Video", "animated_gif": "GIF"}.get(
                    item.type, "Media"
                )
                alt = f": {md_escape(item.alt_text)}" if item.alt_text else ""
                lines.append(f"  \n\\[{kind} {md_escape(item.media_key)}{alt}\\]")
            shown = reactions.reactions_of(event, people, job.me)
            if shown:
                said = " · ".join(f"{r.emoji} {', '.join(r.names)}" for r in shown)
                lines.append(f"  \nReactions: {md_escape(said)}")
            for post in event.shared_posts.all():
                if post.text:
                    author = rendering.handle(post.author, post.author_x_id)
                    quoted = rendering.plain_text(post.text, post.entities)
                    lines.append(f"  \n> Post by {md_escape(author)} <{post_url(post)}>  ")
                    lines.append("> " + _md_lines(quoted).replace("\n", "\n> "))
                else:
                    lines.append("  \n> This post is unavailable.")
            lines.append("")
        yield ("\n".join(lines) + "\n").encode()


def _scope_line(scope) -> str:
    parts = []
    if scope.conversations:
        parts.append("conversations " + ", ".join(scope.conversations))
    else:
        parts.append("all conversations")
    if scope.query:
        parts.append(f"search “{scope.query}”")
    if scope.after:
        parts.append(f"after {scope.after:%Y-%m-%d}")
    if scope.before:
        parts.append(f"before {scope.before:%Y-%m-%d}")
    return ", ".join(parts)
