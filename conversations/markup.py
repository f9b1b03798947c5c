"""The HTML of the reader's two long loops, a thread's blocks and the inbox's rows, made in Python.

Django's own admin makes its change list's rows this way (items_for_result, with format_html),
and for the same reason: a template spends a few microseconds on every variable, filter and tag,
and a page of 50 messages beside 30 inbox rows asked it for about 1,800 of them, most of a whole
page's rendering (bench/reader_bench.py). The rest of each page stays in its template, which
names these functions where their HTML goes (conversation.html, inbox.html).

Every value is escaped (html.escape, what Django's escape filter calls); the only markup passed
through as it is comes from the store (a message's body, DmEvent.body_html) or from these
functions themselves. Not format_html: its lazy-string checks on every value cost more than the
template they replace (1.4 ms for a page of 50 messages, against 0.3 with html.escape).
"""

from html import escape

from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import dateformat, formats, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from conversations import rendering
from conversations.models import DmEvent
from conversations.rendering import Block


def inbox_items(rows: list[dict], open_id: str, own_avatar: str) -> SafeString:
    """The inbox's list items for `rows` (rendering.inbox_row). `open_id`: the conversation open
    beside the inbox, if any; `own_avatar`: the signed-in account's picture, which a
    conversation with no one else in it wears."""
    return mark_safe("".join(_inbox_item(row, open_id, own_avatar) for row in rows))  # noqa: S308


def _inbox_item(row: dict, open_id: str, own_avatar: str) -> str:
    current = ' aria-current="page"' if row["x_id"] == open_id else ""
    group = " inbox-avatars-group" if row["is_group"] else ""
    faces = "".join(
        f'<img class="avatar" src="{escape(face)}" alt="" width="48" height="48" loading="lazy">'
        for face in row["faces"]
    ) or (f'<img class="avatar" src="{escape(own_avatar)}" alt="" width="48" height="48">')
    handle = f' <span class="handle">@{escape(row["handle"])}</span>' if row["handle"] else ""
    # The stored inbox line (DmEvent.preview_html, made by the store) is safe, kept as it is.
    if row["system"]:
        line = f"<em>{escape(row['system'])}</em>"
    elif row["last_is_mine"]:
        line = f"You: {conditional_escape(row['preview'])}"
    elif row["sender"]:
        line = f"<bdi>{escape(row['sender'])}</bdi>: {conditional_escape(row['preview'])}"
    else:
        line = conditional_escape(row["preview"])
    classes, note = "", ""
    if row["unread"]:
        classes = ' class="unread"'
        note = '<span class="visually-hidden unread-note">New messages.</span>'
    return (
        f'<li{classes}><a class="inbox-row" href="{escape(row["href"])}"{current}>'
        f'<span class="inbox-avatars{group}" aria-hidden="true">{faces}</span>'
        '<span class="inbox-text"><span class="inbox-title-line">'
        f'<span class="inbox-title" dir="auto">{escape(row["title"])}</span>{handle}'
        f' <time class="inbox-when" datetime="{escape(row["when_iso"])}"'
        f' title="{escape(row["when_full"])}">{escape(row["when"])}</time></span>'
        f'<span class="inbox-preview">{line}</span></span>{note}</a></li>'
    )


def thread_items(blocks: list[Block], highlight: str = "") -> SafeString:
    """The thread's list items for `blocks` (rendering.timeline, gaps.place): day lines, the
    "New" line, history gaps, system lines and runs of one sender's messages. `highlight`: the
    id of the message a search result opened."""
    return mark_safe("".join(_item(block, highlight) for block in blocks))  # noqa: S308


def _item(block: Block, highlight: str) -> str:
    if block.kind == "day":
        return f'<li class="day"><span>{escape(block.label)}</span></li>'
    if block.kind == "new":
        return f'<li class="new-divider" id="new-divider"><span>{escape(block.label)}</span></li>'
    if block.kind == "gap":
        return render_to_string("history_gap.html", {"tag": "li", "text": block.label})
    if block.kind == "system":
        return _system_line(block)
    return _messages(block, highlight)


def _system_line(block: Block) -> str:
    event = block.events[0]
    local = timezone.localtime(event.created_at)
    return (
        f'<li class="system" id="e{escape(event.x_id)}"><span>{escape(block.label)}</span>'
        f' <time datetime="{escape(dateformat.format(local, "c"))}"'
        f' title="{escape(formats.date_format(local, "DATETIME_FORMAT"))}">'
        f"{escape(dateformat.time_format(local, 'H:i'))}</time></li>"
    )


def _messages(block: Block, highlight: str) -> str:
    classes = "msg-group" + (" mine" if block.mine else "") + (" named" if block.named else "")
    html = [f'<li class="{classes}">']
    if not block.mine:
        avatar = escape(block.avatar or static("img/avatar.svg"))
        html.append(
            f'<img class="avatar" src="{avatar}" alt="" width="36" height="36" loading="lazy">'
        )
    html.append('<div class="msg-stack">')
    if block.named:
        name = escape(rendering.display_name(block.sender, block.sender_x_id))
        handle = escape(rendering.handle(block.sender, block.sender_x_id))
        html.append(
            f'<p class="sender"><bdi class="sender-name">{name}</bdi>'
            f' <span class="handle">{handle}</span></p>'
        )
    label = escape(block.label)
    html += [_message(event, label, highlight) for event in block.events]
    html.append("</div></li>")
    return "".join(html)


def _message(event: DmEvent, label: str, highlight: str) -> str:
    """`label`: escaped already, the same for every message of a run."""
    lit = " highlight" if event.x_id == highlight else ""
    html = [
        f'<article class="msg{lit}" id="e{escape(event.x_id)}" aria-label="{label}">',
        rendering.message_body(event),  # the stored body: HTML made by the store's template
    ]
    if event.reactions_shown:
        html.append(_reactions(event.reactions_shown))
    if shown := event.shown_time:
        full = escape(shown.full)
        # Focusable: the full date shows on focus as on hover (app.css).
        html.append(
            f'<time class="msg-time" tabindex="0" datetime="{escape(shown.iso)}" title="{full}"'
            f' data-full="{full}">{escape(shown.short)}</time>'
        )
    html.append("</article>")
    return "".join(html)


def _reactions(shown) -> str:
    items = "".join(
        f'<li class="reaction" title="{escape(r.label)}"><span aria-hidden="true">'
        f'<span class="reaction-emoji">{escape(r.emoji)}</span>'
        f' <span class="reaction-count">{r.count:d}</span></span>'
        f'<span class="visually-hidden">{escape(r.label)}</span></li>'
        for r in shown
    )
    return f'<ul class="reactions" aria-label="Reactions">{items}</ul>'
