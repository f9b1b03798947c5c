"""Turning cached events into what a person reads: text with its links, names, times, the
timeline of day separators, grouped messages and system lines.

Message text is escaped first and only our own markup is added around X's entities, so nothing a
message says can inject markup or script; links are added only for http(s) targets.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from conversations.models import DmEvent, XUser

GROUP_GAP = timedelta(minutes=10)
_POST_URL = re.compile(r"^https?://(?:www\.)?(?:x|twitter)\.com/[^/]+/status/(\d+)")


def _safe_url(url: object) -> str:
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def _spans(text: str, entities: dict, hidden_posts: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, html) for each entity that fits the text, in order, without overlaps.
    Indices are Unicode code points, which is what Python's str indexes (CONTRACT.md §3.2)."""
    found = []
    for entity in entities.get("urls") or []:
        if not isinstance(entity, dict):
            continue
        target = _safe_url(entity.get("unwound_url")) or _safe_url(entity.get("expanded_url"))
        post = _POST_URL.match(target)
        if entity.get("media_key") or (post and post.group(1) in hidden_posts):
            html = ""  # shown as the attachment or the post card instead, as on X
        elif target:
            label = entity.get("display_url") or target
            html = format_html(
                '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>',
                target,
                label,
            )
        else:
            continue
        found.append((entity.get("start"), entity.get("end"), html))
    for entity in entities.get("mentions") or []:
        if isinstance(entity, dict) and re.fullmatch(r"\w{1,15}", str(entity.get("username", ""))):
            username = entity["username"]
            html = format_html(
                '<a href="https://x.com/{}" rel="noopener noreferrer nofollow" target="_blank">@{}</a>',
                username,
                username,
            )
            found.append((entity.get("start"), entity.get("end"), html))
    for kind, prefix, path in (("hashtags", "#", "hashtag/"), ("cashtags", "$", "search?q=%24")):
        for entity in entities.get(kind) or []:
            if isinstance(entity, dict) and isinstance(entity.get("tag"), str):
                tag = entity["tag"]
                html = format_html(
                    '<a href="https://x.com/{}{}" rel="noopener noreferrer nofollow" target="_blank">{}{}</a>',
                    path,
                    quote(tag),
                    prefix,
                    tag,
                )
                found.append((entity.get("start"), entity.get("end"), html))
    spans, last_end = [], 0
    for start, end, html in sorted(
        (s for s in found if isinstance(s[0], int) and isinstance(s[1], int)), key=lambda s: s[0]
    ):
        if 0 <= start < end <= len(text) and start >= last_end:
            spans.append((start, end, html))
            last_end = end
    return spans


def message_html(event: DmEvent, hidden_posts: set[str] | None = None) -> SafeString:
    text = event.text or ""
    entities = event.entities if isinstance(event.entities, dict) else {}
    parts, position = [], 0
    for start, end, html in _spans(text, entities, hidden_posts or set()):
        parts.append(escape(text[position:start]))
        parts.append(html)
        position = end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts).strip())  # noqa: S308 - every piece is escaped or format_html


def preview_text(event: DmEvent) -> str:
    """The message as one plain line for the inbox, without the links its attachments stand for."""
    text = event.text or ""
    entities = event.entities if isinstance(event.entities, dict) else {}
    hidden = {p.x_id for p in event.shared_posts.all()}
    for start, end, html in reversed(_spans(text, entities, hidden)):
        if not html:
            text = text[:start] + text[end:]
    return " ".join(text.split())


def display_name(user: XUser | None, fallback_id: str = "") -> str:
    if user is None:
        return f"User {fallback_id}" if fallback_id else "Someone"
    return user.name or (f"@{user.username}" if user.username else f"User {user.x_id}")


def handle(user: XUser | None, fallback_id: str = "") -> str:
    if user is not None and user.username:
        return f"@{user.username}"
    return f"user {user.x_id if user else fallback_id}"


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """ "now", "3 min", "5 h", "Tue", "12 Mar", "12 Mar 2025", as X's inbox says it."""
    if moment is None:
        return ""
    now = now or timezone.now()
    age = now - moment
    local = timezone.localtime(moment)
    if age < timedelta(minutes=1):
        return "now"
    if age < timedelta(hours=1):
        return f"{int(age.total_seconds() // 60)} min"
    if age < timedelta(hours=24):
        return f"{int(age.total_seconds() // 3600)} h"
    if age < timedelta(days=7):
        return local.strftime("%a")
    if local.year == timezone.localtime(now).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


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

    kind: str  # "day", "messages", "system"
    label: str = ""
    sender: XUser | None = None
    sender_x_id: str = ""
    mine: bool = False
    events: list[DmEvent] = field(default_factory=list)


def timeline(
    events: list[DmEvent], people: dict[str, XUser], me: str, after: DmEvent | None = None
) -> list[Block]:
    """Blocks for `events` (oldest first). `after` is the event just before them, if shown, so a
    page that continues a day or a sender's run does not repeat the separator."""
    blocks: list[Block] = []
    previous = after
    for event in events:
        if (
            previous is None
            or timezone.localtime(previous.created_at).date()
            != timezone.localtime(event.created_at).date()
        ):
            blocks.append(Block("day", label=day_label(event.created_at)))
            previous = None
        if event.event_type != DmEvent.MESSAGE_CREATE:
            blocks.append(Block("system", label=system_line(event, people), events=[event]))
            previous = None
            continue
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.kind == "messages"
            and previous is not None
            and last.sender_x_id == event.sender_x_id
            and event.created_at - previous.created_at < GROUP_GAP
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
                )
            )
        previous = event
    return blocks


def system_line(event: DmEvent, people: dict[str, XUser]) -> str:
    names = [handle(people.get(pid), pid) for pid in event.participant_ids] or ["someone"]
    joined = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    if event.event_type == DmEvent.PARTICIPANTS_JOIN:
        if event.sender_x_id and event.sender_x_id not in event.participant_ids:
            return f"{handle(people.get(event.sender_x_id), event.sender_x_id)} added {joined}"
        return f"{joined} joined"
    if event.event_type == DmEvent.PARTICIPANTS_LEAVE:
        return f"{joined} left"
    return f"An event DM Reader cannot show yet ({event.event_type})"


def conversation_title(participants: list[XUser], me: str) -> str:
    others = [p for p in participants if p.x_id != me]
    if not others:
        return "Just you"
    names = [display_name(p) for p in others]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]}, {names[1]} and {len(names) - 2} other{'s' if len(names) > 3 else ''}"
