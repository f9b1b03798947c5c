"""Each message's body (text with links, link cards, media, post cards) is rendered by the store
when it writes the event, and again when it writes anything the body shows; a reader's page
serves it as kept. A body other code made (an upgrade changed the rendering) reads the same."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conversations import rendering
from conversations.models import DmEvent
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db
THREAD = "/c/1-2/"


def message(x_id, text, **extra):
    return {
        "id": x_id,
        "event_type": "MessageCreate",
        "text": text,
        "created_at": f"2026-11-01T10:{int(x_id) % 60:02d}:00.000Z",
        "dm_conversation_id": "1-2",
        "sender_id": "2",
        **extra,
    }


def ana(name="Ana Lima"):
    return {"id": "2", "name": name, "username": "ana"}


def photo(alt="a red kite"):
    return {
        "media_key": "3_77",
        "type": "photo",
        "url": "https://pbs.twimg.com/media/kite.jpg",
        "width": 800,
        "height": 600,
        "alt_text": alt,
    }


def post(text="the kite festival is on"):
    return {"id": "555", "text": text, "author_id": "2", "created_at": "2026-10-30T09:00:00.000Z"}


PAGE = {
    "data": [
        message(
            "11",
            "look at this https://t.co/kite <b>bold?</b>",
            attachments={"media_keys": ["3_77"]},
            entities={
                "urls": [
                    {
                        "start": 13,
                        "end": 30,
                        "url": "https://t.co/kite",
                        "expanded_url": "https://x.com/ana/status/555",
                        "display_url": "x.com/ana/status/555",
                    }
                ]
            },
            referenced_tweets=[{"id": "555"}],
        ),
        message("12", "and a plain one"),
    ],
    "includes": {"users": [ana()], "media": [photo()], "tweets": [post()]},
}


@pytest.fixture
def reader():
    owner = get_user_model().objects.create_user("x1")
    XAccount.objects.create(user=owner, x_user_id="1", username="me", name="Me")
    store_page(owner.pk, PAGE, progress=Progress())
    client = Client()
    client.force_login(owner)
    return owner, client


def thread(client) -> tuple[str, int]:
    """The thread as two panes swap it in, and the queries it took."""
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        response = client.get(THREAD, headers={"HX-Request": "true", "HX-Target": "thread-pane"})
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def messages(page: str) -> list[str]:
    return re.findall(r'<article class="msg[^"]*" id="e(\d+)".*?</article>', page, re.DOTALL)


def articles(page: str) -> list[str]:
    return re.findall(r"<article .*?</article>", page, re.DOTALL)


def inbox_lines(client) -> list[str]:
    page = client.get("/").content.decode()
    return re.findall(r'<span class="inbox-preview">(.*?)</span>\s*</span>', page, re.DOTALL)


def test_the_store_keeps_each_body_and_the_page_shows_it(reader):
    owner, client = reader
    kept = DmEvent.objects.get(owner=owner, x_id="11")
    assert kept.body_version == rendering.body_version()
    page, _ = thread(client)
    assert kept.body_html in page
    # What the person sees: the text escaped, the photo, the post card named after its author.
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "<b>bold?</b>" not in page
    assert 'alt="a red kite"' in page
    assert "the kite festival is on" in page and "<bdi>Ana Lima</bdi>" in page
    assert messages(page) == ["11", "12"]


def test_a_body_other_code_made_reads_the_same_and_the_command_renders_it_again(reader):
    owner, client = reader
    thread(client)  # the first read moves the read mark: a write the others don't make
    stored, stored_queries = thread(client)
    lines = inbox_lines(client)
    assert len(lines) == 1 and "<bdi>and a plain one</bdi>" in lines[0]
    # As after an upgrade that changed the rendering: the kept bodies are another version's.
    DmEvent.objects.filter(owner=owner).update(body_html="stale", body_version="older")
    again, again_queries = thread(client)
    assert articles(again) == articles(stored) and len(articles(stored)) == 2
    assert "stale" not in again
    assert inbox_lines(client) == lines
    # The stale messages read again whole (with their senders), and their media and posts.
    assert again_queries == stored_queries + 3
    call_command("renderbodies", stdout=(out := __import__("io").StringIO()))
    assert out.getvalue().strip() == "2 messages rendered again."
    assert set(DmEvent.objects.values_list("body_version", flat=True)) == {rendering.body_version()}
    rendered, rendered_queries = thread(client)
    assert articles(rendered) == articles(stored) and rendered_queries == stored_queries


def test_what_a_later_page_changes_shows_in_messages_cached_before(reader):
    owner, client = reader
    later = {
        "data": [message("13", "news")],
        "includes": {
            "users": [ana("Ana Lima-Costa")],
            "media": [photo("a red kite over the sea")],
            "tweets": [post("the kite festival moved to Sunday")],
        },
    }
    store_page(owner.pk, later, progress=Progress())
    page, _ = thread(client)
    assert "<bdi>Ana Lima-Costa</bdi>" in page and "<bdi>Ana Lima</bdi>" not in page
    assert 'alt="a red kite over the sea"' in page
    assert "the kite festival moved to Sunday" in page
    assert messages(page) == ["11", "12", "13"]


def test_the_inbox_line_is_kept_with_the_body_and_says_what_the_message_carries(reader):
    owner, _ = reader
    kept = DmEvent.objects.get(owner=owner, x_id="11")
    assert kept.preview_html == (
        '<span class="marker">Photo</span> <span class="marker">Post</span> '
        "<bdi>look at this &lt;b&gt;bold?&lt;/b&gt;</bdi>"
    )


def test_a_renamed_author_shows_in_the_post_cards_of_older_messages(reader):
    """Names resolved later (GET /2/users?ids=) reach the kept bodies too."""
    from conversations import store, xapi

    owner, client = reader
    store.store_users(owner.pk, [xapi._user({"id": "2", "name": "Ana L.", "username": "ana_l"})])
    page, _ = thread(client)
    assert "<bdi>Ana L.</bdi>" in page and "@ana_l" in page


def test_a_long_message_s_inbox_line_is_one_line_cut_at_120_characters(reader):
    owner, client = reader
    text = "first line\n" + "word " * 60
    store_page(owner.pk, {"data": [message("14", text)]}, progress=Progress())
    line = DmEvent.objects.get(owner=owner, x_id="14").preview_html
    shown = re.fullmatch(r"<bdi>(.*)</bdi>", line).group(1)
    assert len(shown) == 120 and shown.endswith("…") and "\n" not in shown
    assert shown.startswith("first line word word")
    assert inbox_lines(client)[0].strip() == line
