"""The reader's long loops made in Python (conversations/markup.py): every value escaped, only the
store's own HTML passed through."""

from datetime import UTC, datetime

from django.utils.safestring import mark_safe

from conversations import markup, rendering
from conversations.models import DmEvent, XUser
from conversations.reactions import Reaction
from conversations.rendering import Block, MessageTime

HOSTILE = '"><img src=x onerror=alert(1)>'
ESCAPED = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"


def test_a_thread_escapes_every_name_label_and_reaction_and_keeps_the_stored_body():
    sender = XUser(x_id="200", name=HOSTILE, username="ana")
    event = DmEvent(x_id="9", event_type=DmEvent.MESSAGE_CREATE, sender_x_id="200")
    event.created_at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    event.body_html = '<div class="bubble">kept</div>'
    event.body_version = rendering.body_version()
    event.shown_time = MessageTime("2026-12-01T12:00:00+00:00", HOSTILE, "12:00")
    event.reactions_shown = [Reaction(key="like", emoji=HOSTILE, names=(HOSTILE,))]
    system = DmEvent(x_id="8", event_type="ParticipantsJoin", created_at=event.created_at)
    blocks = [
        Block("day", label=HOSTILE),
        Block("system", label=HOSTILE, events=[system]),
        Block(
            "messages",
            label=f"Message from {HOSTILE}",
            sender=sender,
            sender_x_id="200",
            events=[event],
            named=True,
            avatar=HOSTILE,
        ),
    ]
    html = markup.thread_items(blocks, highlight="9")
    assert "<img src=x" not in html
    assert html.count(ESCAPED) >= 8  # day, system, name, label, avatar, two times, reaction
    assert '<article class="msg highlight" id="e9"' in html
    assert '<div class="bubble">kept</div>' in html  # the store's body, as stored


def test_an_inbox_row_escapes_its_title_handle_sender_and_line_of_a_join():
    row = {
        "x_id": "100-200", "href": "/c/100-200/", "is_group": True, "title": HOSTILE,
        "handle": HOSTILE, "faces": [HOSTILE], "when": HOSTILE, "when_iso": HOSTILE,
        "when_full": HOSTILE, "system": "", "last_is_mine": False, "sender": HOSTILE,
        "preview": mark_safe("<em>stored line</em>"), "unread": True,
    }  # fmt: skip
    html = markup.inbox_items(
        [row, {**row, "system": HOSTILE}], open_id="100-200", own_avatar="/avatar/me/"
    )
    assert "<img src=x" not in html
    assert html.count('aria-current="page"') == 2
    assert "<em>stored line</em>" in html  # the store's line, as stored
    # A line that is not the store's is escaped like any other value.
    plain = markup.inbox_items([{**row, "preview": HOSTILE}], open_id="", own_avatar="/avatar/me/")
    assert "<img src=x" not in plain


def test_a_conversation_with_no_one_else_wears_the_owners_picture():
    row = {
        "x_id": "100-100", "href": "/c/100-100/", "is_group": False, "title": "Just you",
        "handle": "", "faces": [], "when": "5 h", "when_iso": "", "when_full": "",
        "system": "", "last_is_mine": True, "sender": "", "preview": "note", "unread": False,
    }  # fmt: skip
    html = markup.inbox_items([row], open_id="", own_avatar="/avatar/100/?v=1&x=2")
    assert '<img class="avatar" src="/avatar/100/?v=1&amp;x=2" alt=""' in html
    assert "You: note" in html and 'class="unread"' not in html
