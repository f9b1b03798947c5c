"""The inbox pages by keyset, 30 conversations at a time (queries.INBOX_PAGE), so a big account
stays fast."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.models import Conversation
from conversations.queries import INBOX_PAGE
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db
ROW = re.compile(r'class="inbox-row" href="/c/([0-9-]+)/"')


@pytest.fixture
def client_with_120_conversations():
    owner = get_user_model().objects.create_user("x1")
    XAccount.objects.create(user=owner, x_user_id="1", username="me", name="Me")
    events = [
        {
            "id": str(1000 + n),
            "event_type": "MessageCreate",
            "text": f"hello {n}",
            "sender_id": str(10 + n),
            "dm_conversation_id": f"1-{10 + n}",
            # Pairs share a minute, so the keyset's tie-break on id matters.
            "created_at": f"2026-11-01T{n // 120:02d}:{(n // 2) % 60:02d}:00.000Z",
        }
        for n in range(120)
    ]
    store_page(owner.pk, {"data": events}, progress=Progress())
    client = Client()
    client.force_login(owner)
    return client


def test_the_inbox_walks_every_conversation_once_newest_first(client_with_120_conversations):
    client = client_with_120_conversations
    first = client.get("/").content.decode()
    seen = ROW.findall(first)
    assert len(seen) == INBOX_PAGE < 120
    more = re.search(r'hx-get="/\?after=([0-9-]+)"', first)
    while more:
        fragment = client.get(
            "/", {"after": more.group(1)}, headers={"HX-Request": "true"}
        ).content.decode()
        assert "<html" not in fragment
        seen += ROW.findall(fragment)
        more = re.search(r'hx-get="/\?after=([0-9-]+)"', fragment)
    assert len(seen) == len(set(seen)) == 120
    expected = Conversation.objects.order_by("-last_event_at", "-pk").values_list("x_id", flat=True)
    assert seen == list(expected)


def test_the_next_page_without_javascript_is_a_whole_page(client_with_120_conversations):
    client = client_with_120_conversations
    first = client.get("/").content.decode()
    after = re.search(r'href="/\?after=([0-9-]+)"', first).group(1)
    page = client.get("/", {"after": after}).content.decode()
    assert "<html" in page and len(ROW.findall(page)) == INBOX_PAGE


def test_another_accounts_conversation_is_no_cursor(client_with_120_conversations):
    other = get_user_model().objects.create_user("x2")
    XAccount.objects.create(user=other, x_user_id="2", username="other", name="Other")
    client = Client()
    client.force_login(other)
    assert client.get("/", {"after": "1-10"}).status_code == 404
