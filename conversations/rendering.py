"""Turning cached events into what a person reads: text with its links, names, times, the
timeline of day separators, grouped messages and system lines.

Message text is escaped first and only our own markup is added around X's entities, so nothing a
message says can inject markup or script; links are added only for http(s) targets.
"""

import functools
import hashlib
import importlib
import inspect
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote, urlsplit

import django
from django.conf import settings
from django.template.loader import get_template, render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from conversations import read_state, xids
from conversations.models import DmEvent, XUser

GROUP_GAP = timedelta(minutes=10)
# Inside a run, a time is repeated only where the messages are this far apart, as X does: a burst
# of messages reads as one moment, a conversation that went on for minutes shows when.
TIME_GAP = timedelta(minutes=3)
# ASCII digits only, as every X id (xids): \d would also match "²" or "٤".
POST_URL = re.compile(r"^https?://(?:www\.)?(?:x|twitter)\.com/[^/]+/status/([0-9]+)")


def safe_url(url: object) -> str:
    """`url` if it is an http(s) link to somewhere, else "" (javascript:, data:, junk)."""
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1" and the like: not a URL, and not a reason to fail the page
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


@dataclass(frozen=True)
class _Span:
    """One entity laid over the text: a link to `href` showing `label`, or (no href) a piece of
    text the message's attachment or post card stands for, left out as X leaves it out."""

    start: int
    end: int
    href: str
    label: str


_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


def _index(value: object) -> int | None:
    # bool is an int in Python; an index must be a real integer.
    return value if type(value) is int else None


def _spans(text: str, entities: dict, hidden_posts: set[str]) -> list[_Span]:
    """The entities that fit the text, in order, without overlaps (the first one wins).
    Indices are Unicode code points, which is what Python's str indexes (docs/x-api.md §3.2).
    Mentions, hashtags and cashtags keep the text as written; only their link comes from X."""
    found: list[tuple[object, object, str, str | None]] = []  # label None: the text itself
    for entity in _objects(entities.get("urls")):
        target = safe_url(entity.get("unwound_url")) or safe_url(entity.get("expanded_url"))
        post = POST_URL.match(target)
        if entity.get("media_key") or (post and post.group(1) in hidden_posts):
            # Shown as the attachment or the post card instead, as on X.
            found.append((entity.get("start"), entity.get("end"), "", ""))
        elif target:
            label = entity.get("display_url")
            label = label if isinstance(label, str) and label.strip() else target
            found.append((entity.get("start"), entity.get("end"), target, label))
    for entity in _objects(entities.get("mentions")):
        username = entity.get("username")
        if isinstance(username, str) and _USERNAME.fullmatch(username):
            found.append(
                (entity.get("start"), entity.get("end"), f"https://x.com/{username}", None)
            )
    for kind, path in (("hashtags", "hashtag/"), ("cashtags", "search?q=%24")):
        for entity in _objects(entities.get(kind)):
            tag = entity.get("tag")
            if isinstance(tag, str) and tag:
                href = f"https://x.com/{path}{quote(tag, safe='')}"
                found.append((entity.get("start"), entity.get("end"), href, None))
    spans: list[_Span] = []
    last_end = 0
    for raw_start, raw_end, href, label in sorted(
        found, key=lambda s: _index(s[0]) if _index(s[0]) is not None else -1
    ):
        start, end = _index(raw_start), _index(raw_end)
        if start is None or end is None or not (last_end <= start < end <= len(text)):
            continue
        spans.append(_Span(start, end, href, text[start:end] if label is None else label))
        last_end = end
    return spans


def _objects(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def message_html(event: DmEvent, hidden_posts: set[str] | None = None) -> SafeString:
    """The message's text, escaped, with links for its entities (`hidden_posts`: ids of shared
    posts shown as cards, whose own link is left out of the text)."""
    text = event.text or ""
    entities = event.entities if isinstance(event.entities, dict) else {}
    parts, position = [], 0
    for span in _spans(text, entities, hidden_posts or set()):
        parts.append(escape(text[position : span.start]))
        if span.href:
            parts.append(
                format_html(
                    '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>',
                    span.href,
                    span.label,
                )
            )
        position = span.end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts).strip())  # noqa: S308 - every piece is escaped or format_html


# The message body ----------------------------------------------------------------------------

BODY_TEMPLATE = "reader/message_body.html"
# Everything a stored body is made from: when any of it changes, the bodies made before it are
# rendered again (on read until `manage.py renderbodies` has stored them anew). The functions of
# this module a body uses, not the whole module: a change to the inbox's times must not make every
# cached message render again.
_BODY_MODULES = (
    "conversations.linkcards",
    "conversations.urls",
    "conversations.templatetags.dm",
    "conversations.templatetags.reader_media",
)
_BODY_TEMPLATES = (BODY_TEMPLATE,)


@functools.cache
def body_version() -> str:
    """A digest of the code, templates and settings a stored body comes from (DmEvent.body_version).
    Computed, not a number to bump by hand: a change nobody remembered to bump would leave every
    cached message showing what the old code made."""
    hashed = hashlib.sha256(django.get_version().encode())
    for function in _BODY_FUNCTIONS:
        hashed.update(inspect.getsource(function).encode())
    hashed.update(f"{POST_URL.pattern}|{_USERNAME.pattern}|{MARKERS}|{PREVIEW_CHARS}".encode())
    for name in _BODY_MODULES:
        hashed.update(Path(importlib.import_module(name).__file__).read_bytes())
    for name in _BODY_TEMPLATES:
        hashed.update(Path(get_template(name).origin.name).read_bytes())
    # Post cards' dates are local; a post without its author shows the default picture, by its
    # plain name: a hashed one would need the static files' manifest, which a worker storing
    # messages may not have.
    hashed.update(f"{settings.TIME_ZONE}|{settings.STATIC_URL}|{get_script_prefix()}".encode())
    return hashed.hexdigest()[:16]


def render_body(event: DmEvent, media=None, posts=None) -> str:
    """The message's body as BODY_TEMPLATE makes it, from its media and its shared posts with
    their authors (read from the event if not given: the store gives them before the event is
    saved)."""
    return render_to_string(BODY_TEMPLATE, _parts(event, media, posts)).strip()


# What a message carries, as its line in the inbox names it before the text.
MARKERS = {"photo": "Photo", "video": "Video", "animated_gif": "GIF"}
PREVIEW_CHARS = 120


def render_preview(event: DmEvent, media=None, posts=None) -> str:
    """The message's line in the inbox: "Photo", "Post" and the text as one plain line (as
    render_body, its media and posts). Made here, not by a template: it is a line, and the store
    makes one for every message it writes."""
    parts = _parts(event, media, posts)
    markers = [MARKERS.get(item.type, "GIF") for item in parts["media"]]
    markers += ["Post"] if parts["posts"] else []
    line = preview_text(event, {p.x_id for p in parts["posts"]})
    return format_html_join("", '<span class="marker">{}</span> ', ((m,) for m in markers)) + (
        format_html("<bdi>{}</bdi>", shorten(line, PREVIEW_CHARS))
    )


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, the last an ellipsis where it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _parts(event: DmEvent, media, posts) -> dict:
    return {
        "event": event,
        "media": list(event.media.all()) if media is None else media,
        "posts": list(event.shared_posts.all()) if posts is None else posts,
    }


def body_is_current(event: DmEvent) -> bool:
    return event.body_version == body_version()


def message_body(event: DmEvent) -> SafeString:
    """The body the store kept, or, if other code made it, the body rendered now."""
    if body_is_current(event):
        # Made by render_body: Django's autoescaping template, kept as it rendered.
        return mark_safe(event.body_html)  # noqa: S308
    return mark_safe(render_body(event))  # noqa: S308 - render_to_string's output


def message_preview(event: DmEvent) -> SafeString:
    """The inbox line the store kept with the body, or made now (as message_body)."""
    if body_is_current(event):
        return mark_safe(event.preview_html)  # noqa: S308 - made by render_preview
    return mark_safe(render_preview(event))  # noqa: S308 - render_to_string's output


def plain_text(text: str, entities: object, hidden_posts: set[str] | None = None) -> str:
    """Text with its links as they are shown (display URLs, not raw t.co) and without the links
    its attachments and post cards stand for; not escaped (the template does that). For places
    that are already a link as a whole: the inbox row, a shared post's card."""
    text = text or ""
    parts, position = [], 0
    for span in _spans(text, entities if isinstance(entities, dict) else {}, hidden_posts or set()):
        parts.extend((text[position : span.start], span.label))
        position = span.end
    parts.append(text[position:])
    return "".join(parts).strip()


def preview_text(event: DmEvent, hidden_posts: set[str] | None = None) -> str:
    """The message as one plain line for the inbox."""
    return " ".join(plain_text(event.text, event.entities, hidden_posts).split())


def display_name(user: XUser | None, fallback_id: str = "") -> str:
    if user is None:
        return f"User {fallback_id}" if fallback_id else "Someone"
    return user.name or (f"@{user.username}" if user.username else f"User {user.x_id}")


def handle(user: XUser | None, fallback_id: str = "") -> str:
    if user is not None and user.username:
        return f"@{user.username}"
    return f"user {user.x_id if user else fallback_id}"


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """ "just now", "3 min", "5 h", "Tue", "12 Mar", "12 Mar 2025", as X's inbox says it."""
    if moment is None:
        return ""
    now = now or timezone.now()
    age = now - moment
    if age < timedelta(minutes=1):
        return "just now"
    if age < timedelta(hours=1):
        return f"{int(age.total_seconds() // 60)} min"
    if age < timedelta(hours=24):
        return f"{int(age.total_seconds() // 3600)} h"
    zone = timezone.get_current_timezone()
    local = moment.astimezone(zone)
    if age < timedelta(days=7):
        return local.strftime("%a")
    if local.year == now.astimezone(zone).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def time_since(moment: datetime, now: datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "2 hours ago": Django's timesince, without "0 minutes ago"."""
    now = now or timezone.now()
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now)} ago"


def day_label(moment: datetime, now: datetime | None = None) -> str:
    today = timezone.localtime(now or timezone.now()).date()
    day = timezone.localtime(moment).date()
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if today - day < timedelta(days=7):
        return f"{day:%A}"
    return f"{day:%A}, {day.day} {day:%B %Y}"


@dataclass
class Block:
    """One thing in the conversation's flow: a day separator, a run of one sender's messages, or a
    system line (someone joined or left)."""

    kind: str  # "day", "messages", "system", "new" (the line before what is new since last time)
    label: str = ""  # for a run of messages, what each says it is to a screen reader
    sender: XUser | None = None
    sender_x_id: str = ""
    mine: bool = False
    events: list[DmEvent] = field(default_factory=list)
    # A run names its sender only in a group (and never for my own): in a one-to-one who wrote is
    # already the side of the screen, and X's repeated "Theo Park @theo_park" was only noise.
    named: bool = False
    # The ids of the run's events that show their time: the last one, and any followed by a
    # pause of TIME_GAP or more.
    timed: set[str] = field(default_factory=set)
    avatar: str = ""  # the sender's picture, for a run of someone else's messages


def timeline(
    events: list[DmEvent],
    people: dict[str, XUser],
    me: str,
    after: DmEvent | None = None,
    *,
    group: bool = False,
    first_new: str = "",
) -> list[Block]:
    """Blocks for `events` (oldest first). `after` is the event just before them, if shown, so a
    page that continues a day does not repeat the separator. A day separator or a system line
    ends a run of one sender's messages; nothing but a new day starts a separator. `group`: the
    conversation is a group, where runs of other people's messages are named. `first_new`: the
    id of the first event new since the owner's last visit (read_state.first_unseen), which a
    "New" line comes before and starts a run of its own."""
    blocks: list[Block] = []
    now = timezone.now()
    # Each event's local time, worked out once for its day and its time (the zone looked up once).
    zone = timezone.get_current_timezone()
    local = {e.x_id: e.created_at.astimezone(zone) for e in events}
    previous_day = after.created_at.astimezone(zone).date() if after is not None else None
    for event in events:
        day = local[event.x_id].date()
        if day != previous_day:
            blocks.append(Block("day", label=day_label(event.created_at, now)))
        previous_day = day
        if event.x_id == first_new:
            blocks.append(Block("new", label="New"))
        if event.event_type != DmEvent.MESSAGE_CREATE:
            blocks.append(Block("system", label=system_line(event, people), events=[event]))
            continue
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.kind == "messages"
            and last.sender_x_id == event.sender_x_id
            and event.created_at - last.events[-1].created_at < GROUP_GAP
        ):
            last.events.append(event)
        else:
            blocks.append(
                Block(
                    "messages",
                    sender=event.sender,
                    sender_x_id=event.sender_x_id,
                    mine=event.sender_x_id == me,
                    events=[event],
                    named=group and event.sender_x_id != me,
                )
            )
    for block in blocks:
        if block.kind == "messages":
            block.timed = _timed(block.events)
            if block.sender is not None:
                block.avatar = path_with_id("conversations:avatar", block.sender_x_id)
            block.label = (
                "Your message"
                if block.mine
                else f"Message from {display_name(block.sender, block.sender_x_id)}"
            )
            for event in block.events:
                shown = event.x_id in block.timed
                event.shown_time = message_time(local[event.x_id]) if shown else None
    return blocks


@dataclass(frozen=True)
class MessageTime:
    """A message's time as the thread shows it: "14:05", the full date on hover and focus."""

    iso: str
    full: str
    short: str


def message_time(local: datetime) -> MessageTime:
    """`local`: the message's time in the reader's time zone."""
    return MessageTime(local.isoformat(), full_time(local), f"{local:%H:%M}")


def full_time(local: datetime) -> str:
    """ "Monday 7 December 2026, 14:05": a time in full, where a short one is shown (a message's
    time, an inbox row's) and the full one is on hover. strftime, as day_label: English names
    (the app's language), and a tenth of what Django's dateformat costs the 50 of a page."""
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


def _timed(run: list[DmEvent]) -> set[str]:
    pairs = pairwise(run)
    shown = {e.x_id for e, later in pairs if later.created_at - e.created_at >= TIME_GAP}
    return shown | {run[-1].x_id}


def system_line(event: DmEvent, people: dict[str, XUser]) -> str:
    names = [handle(people.get(pid), pid) for pid in event.participant_ids] or ["someone"]
    joined = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    if event.event_type == DmEvent.PARTICIPANTS_JOIN:
        if event.sender_x_id and event.sender_x_id not in event.participant_ids:
            return f"{handle(people.get(event.sender_x_id), event.sender_x_id)} added {joined}"
        return f"{joined} joined"
    if event.event_type == DmEvent.PARTICIPANTS_LEAVE:
        return f"{joined} left"
    who = handle(people.get(event.sender_x_id), event.sender_x_id)
    if event.event_type == "ConversationNameUpdate":  # from an imported archive: text is the name
        if not event.text.strip():
            return f"{who} removed the group's name"
        return f"{who} named the group “{event.text}”"
    if event.event_type == "JoinConversation":  # from an imported archive: you were added
        return f"{who} added you to the group"
    return f"An event DM Reader cannot show yet ({event.event_type})"


GROUP_NAMES_SHOWN = 4


def conversation_title(participants: list[XUser], me: str) -> str:
    """The title made from the participants, for a conversation without a name: "Ana" for a
    one-to-one; for a group the first names of up to four others, "Aiko, Inês, Jonas, Rafa and 2
    others", the same wherever it is shown, whatever order the participants were read in;
    accounts X no longer returns last. Four first names rather than two full ones: two groups of
    the same circle of friends shared their first two names ("Aiko Tanaka, Inês Carvalho and 4
    others" twice), and a title is there to tell them apart."""
    others = _others_in_order(participants, me)
    if not others:
        return "Just you"
    if len(others) == 1:
        return display_name(others[0])
    names = _short_names(others)
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    if len(names) <= GROUP_NAMES_SHOWN:
        return f"{', '.join(names[:-1])} and {names[-1]}"
    rest = len(names) - GROUP_NAMES_SHOWN
    return f"{', '.join(names[:GROUP_NAMES_SHOWN])} and {rest} other{'s' if rest > 1 else ''}"


def _others_in_order(participants: list[XUser], me: str) -> list[XUser]:
    return sorted(
        (p for p in participants if p.x_id != me),
        key=lambda p: (
            p.unavailable or not p.name,
            display_name(p).casefold(),
            xids.sort_id(p.x_id),
        ),
    )


def _short_names(people: list[XUser]) -> list[str]:
    """First names ("Aiko" for "Aiko Tanaka"), or the whole name where two would read the same."""
    firsts = [display_name(p).split()[0] if p.name.strip() else display_name(p) for p in people]
    counts = {first.casefold(): 0 for first in firsts}
    for first in firsts:
        counts[first.casefold()] += 1
    return [
        first if counts[first.casefold()] == 1 else display_name(person)
        for first, person in zip(firsts, people, strict=True)
    ]


def title(conversation, me: str) -> str:
    """What a conversation is called everywhere it is named (inbox, thread, search, exports,
    admin): the owner's name for a group, else the name X's archive gave it, else one made from
    its participants (prefetch them: `conversation.participants.all()` is read)."""
    return group_name(conversation) or conversation_title(list(conversation.participants.all()), me)


def group_name(conversation) -> str:
    """A group's name: its owner's own, else the one X's archive gave it; "" for none (and for
    every one-to-one)."""
    if not conversation.is_group:
        return ""
    return (conversation.name or conversation.archive_name).strip()


def others_of(conversation, me: str) -> list[XUser]:
    """The conversation's other people in the title's order."""
    return _others_in_order(list(conversation.participants.all()), me)


AVATAR_FACES = 3


def avatar_people(conversation, me: str) -> list[XUser]:
    """Whose pictures make the conversation's avatar: the other person, or for a group a
    composite of three of its people. Not the first three by name: two groups of the same circle
    of friends would then wear the same three faces. Each group draws its three in an order of
    its own (a hash of its id and theirs), the same every time it is shown."""
    return _faces(conversation, others_of(conversation, me))


def _faces(conversation, others: list[XUser]) -> list[XUser]:
    if len(others) <= AVATAR_FACES:
        return others
    key = conversation.x_id

    def draw(person: XUser) -> tuple[bool, str]:
        # Accounts X no longer returns have no picture: last.
        return person.unavailable, hashlib.sha256(f"{key}:{person.x_id}".encode()).hexdigest()

    return sorted(others, key=draw)[:AVATAR_FACES]


def inbox_row(conversation, me: str, now: datetime | None = None) -> dict:
    """What one inbox row shows of a conversation (queries.inbox_page loads all of it), as flat
    values: its people are sorted once, its links, times and lines made here. A template's
    {% url %}, date filters and lookups through objects cost a page of 50 rows several
    milliseconds (bench/reader_bench.py). `now`: the page's, read once."""
    people = list(conversation.participants.all())
    others = _others_in_order(people, me)
    last = conversation.last_event
    moment = timezone.localtime(conversation.last_event_at)
    system = last.event_type != DmEvent.MESSAGE_CREATE
    mine = last.sender_x_id == me
    return {
        "x_id": conversation.x_id,
        "href": path_with_id("conversations:conversation", conversation.x_id),
        "is_group": conversation.is_group,
        "title": group_name(conversation) or conversation_title(others, me),
        "handle": "" if conversation.is_group or not others else others[0].username,
        "faces": [
            path_with_id("conversations:avatar", p.x_id) for p in _faces(conversation, others)
        ],
        "when": relative_time(conversation.last_event_at, now),
        "when_iso": moment.isoformat(),
        "when_full": full_time(moment),
        # A join or leave is said in words; a message by who wrote it (in a group) and its line.
        "system": system_text(last, people) if system else "",
        "last_is_mine": mine,
        "sender": display_name(_sender(last, people), last.sender_x_id)
        if conversation.is_group and not mine
        else "",
        "preview": "" if system else message_preview(last),
        "unread": read_state.unread(conversation, me),
    }


def system_text(event: DmEvent, participants: list[XUser]) -> str:
    """ "@ana added @ben", "@cy left": a join or leave, named from the conversation's people."""
    people = {p.x_id: p for p in participants}
    if event.sender_x_id not in people and (sender := _sender(event, participants)):
        people[event.sender_x_id] = sender
    return system_line(event, people)


def _sender(event: DmEvent, participants: list[XUser]) -> XUser | None:
    """Who sent `event`: one of its conversation's people (the store makes every sender one), or
    else the event's own sender row, read if it was not."""
    for person in participants:
        if person.x_id == event.sender_x_id:
            return person
    return event.sender


_ID = "0"  # any id the route takes, replaced


@functools.cache
def _route(name: str, script_prefix: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_ID]).rpartition(_ID)
    return before, after


def path_with_id(name: str, x_id: str) -> str:
    """reverse(name, args=[x_id]) for a route whose one argument is an X id (ASCII digits and
    "-", nothing to quote: xids), without resolving the route again for each of a page's rows."""
    before, after = _route(name, get_script_prefix())
    return f"{before}{x_id}{after}"


# What of this module a message's body is made with (body_version).
_BODY_FUNCTIONS = (
    safe_url,
    _index,
    _spans,
    _objects,
    message_html,
    plain_text,
    preview_text,
    display_name,
    handle,
    render_body,
    render_preview,
    shorten,
    _parts,
)
