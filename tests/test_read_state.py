"""New since the last visit, over the web: bold inbox rows, the thread's "New" line and where it
goes, marks kept per owner and moved by opening (read_state.py), another owner's conversation
404, and the thread pane that two panes swap in (conversation.html#thread). A small fixed corpus:
nothing here crosses X's API."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conversations import queries, read_state
from conversations.models import ReadMark
from conversations.sync import Progress, store_page
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db

ME, ANA, BEN, JO = "100", "200", "300", "500"
WITH_ANA = "100-200"
WITH_BEN = "100-300"
GROUP = "1585800614365339648"  # maya, ana and jo are all in it: each owner keeps a copy
PANE = {"HX-Request": "true", "HX-Target": "thread-pane"}
EVENT = re.compile(r'<(?:article|li)\b[^>]*\bid="(e\d+|new-divider)"')
ROW = re.compile(r'<li( class="unread")?>\s*<a class="inbox-row" href="/c/([^/]+)/"')


def message(x_id: str, sender: str, conversation: str, when: str, text: str = "hi") -> dict:
    return {
        "id": x_id,
        "event_type": "MessageCreate",
        "text": f"{text} {x_id}",
        "sender_id": sender,
        "dm_conversation_id": conversation,
        "created_at": f"2026-11-{when}:00.000Z",
    }


USERS = [
    {"id": ME, "name": "Maya", "username": "maya"},
    {"id": ANA, "name": "Ana Lima", "username": "ana"},
    {"id": BEN, "name": "Ben Okoro", "username": "ben"},
    {"id": JO, "name": "Jo Park", "username": "jo"},
]
CORPUS = [
    message("1", ANA, WITH_ANA, "01T09:00"),
    message("2", ME, WITH_ANA, "01T09:05"),
    message("3", ANA, WITH_ANA, "01T09:10"),
    message("4", BEN, WITH_BEN, "02T10:00"),
    message("5", ANA, GROUP, "03T10:00"),
    message("6", ME, GROUP, "03T10:01"),
]


def store(owner, *events: dict) -> None:
    store_page(owner.pk, {"data": list(events), "includes": {"users": USERS}}, progress=Progress())


def account(x_id: str, username: str):
    user = get_user_model().objects.create_user(f"x{x_id}")
    XAccount.objects.create(user=user, x_user_id=x_id, username=username, name=username)
    return user


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner():
    user = account(ME, "maya")
    store(user, *CORPUS)
    return user


@pytest.fixture
def maya(owner) -> Client:
    return client_of(owner)


@pytest.fixture
def jo():
    """Another owner, in the group with maya and ana: his own copy of it, and a chat with ana."""
    user = account(JO, "jo")
    store(
        user,
        message("5", ANA, GROUP, "03T10:00"),
        message("6", ME, GROUP, "03T10:01"),
        message("7", ANA, "200-500", "04T08:00"),
    )
    return user


def rows(client: Client) -> dict[str, bool]:
    """The inbox's rows: conversation id -> shown as new (bold)."""
    page = client.get("/").content.decode()
    return {x_id: bool(unread) for unread, x_id in ROW.findall(page)}


def thread(client: Client, x_id: str, **headers) -> list[str]:
    """What the thread shows in order: event ids, and where the "New" line is."""
    response = client.get(f"/c/{x_id}/", headers=headers)
    assert response.status_code == 200
    return [m if m == "new-divider" else m[1:] for m in EVENT.findall(response.content.decode())]


def test_a_conversation_never_opened_is_bold_until_opened_unless_i_wrote_last(maya):
    # Ana wrote last in their chat and Ben in his: new. In the group my reply was last.
    assert rows(maya) == {GROUP: False, WITH_BEN: True, WITH_ANA: True}
    # A first visit has no "since": no New line, and the row is read once it was shown.
    assert thread(maya, WITH_ANA) == ["1", "2", "3"]
    assert rows(maya) == {GROUP: False, WITH_BEN: True, WITH_ANA: False}


def test_what_arrived_since_the_last_visit_is_bold_with_the_new_line_before_its_first_message(
    owner, maya
):
    thread(maya, WITH_ANA)
    # Ana goes on two minutes later (the same run, were it not for the line), then I answer.
    store(
        owner,
        message("10", ANA, WITH_ANA, "01T09:12", "still there?"),
        message("11", ANA, WITH_ANA, "01T09:13"),
        message("12", ME, WITH_ANA, "01T09:20"),
    )
    # My answer came last: read, as X counts it. Ana writing again makes it new.
    assert rows(maya)[WITH_ANA] is False
    store(owner, message("13", ANA, WITH_ANA, "01T09:30"))
    assert rows(maya)[WITH_ANA] is True

    page = maya.get(f"/c/{WITH_ANA}/").content.decode()
    assert thread_order(page) == ["1", "2", "3", "new-divider", "10", "11", "12", "13"]
    assert page.count('class="new-divider"') == 1
    # The line starts a run: Ana's message 3 and her message 10 are no longer one bubble group.
    group_of_3 = page[page.rindex('<li class="msg-group', 0, page.index('id="e3"')) :]
    assert 'id="e10"' not in group_of_3[: group_of_3.index("</li>")]

    # Seen now: the next visit has no line and the row is plain.
    assert "new-divider" not in thread(maya, WITH_ANA)
    assert rows(maya)[WITH_ANA] is False


def thread_order(page: str) -> list[str]:
    return [m if m == "new-divider" else m[1:] for m in EVENT.findall(page)]


def test_more_news_than_a_page_puts_no_line_at_the_top_of_the_page(owner, maya):
    thread(maya, WITH_ANA)
    store(owner, *(message(str(100 + n), ANA, WITH_ANA, f"02T10:{n:02d}") for n in range(55)))
    assert rows(maya)[WITH_ANA] is True
    shown = thread(maya, WITH_ANA)
    assert "new-divider" not in shown and shown[0] != "1"  # its place is on an older page
    assert rows(maya)[WITH_ANA] is False


def test_a_page_opened_around_a_search_result_puts_no_new_line_and_the_mark_never_goes_back(
    owner, maya
):
    thread(maya, WITH_ANA)
    store(owner, message("10", ANA, WITH_ANA, "01T09:40"))
    # Around an older message: no line (it would mark a place the reader did not open at).
    assert "new-divider" not in thread_order(maya.get(f"/c/{WITH_ANA}/?around=2").content.decode())
    convo = queries.conversation(owner, WITH_ANA)
    mark = queries.read_mark(owner, convo)
    assert mark.last_seen_sort_id == "10".zfill(19)  # the page reached the newest message
    # An older event shown later (another tab, an older page) leaves the mark where it is.
    older = queries.event(owner, convo, "1")
    read_state.mark_seen(owner=owner, conversation=convo, event=older, current=mark)
    mark_now = queries.read_mark(owner, queries.conversation(owner, WITH_ANA))
    assert mark_now.last_seen_sort_id == "10".zfill(19)


def test_marks_are_each_owner_s_own(owner, maya, jo):
    jo_client = client_of(jo)
    store(owner, message("8", ANA, GROUP, "03T11:00"))
    store(jo, message("8", ANA, GROUP, "03T11:00"))
    assert rows(maya)[GROUP] is True and rows(jo_client)[GROUP] is True

    thread(maya, GROUP)
    assert rows(maya)[GROUP] is False
    assert rows(jo_client)[GROUP] is True  # maya reading her copy reads nothing of jo's
    marks = ReadMark.objects.all()
    assert [(m.owner_id, m.conversation.owner_id, m.conversation.x_id) for m in marks] == [
        (owner.pk, owner.pk, GROUP)
    ]

    thread(jo_client, GROUP)
    assert {m.owner_id: m.conversation.owner_id for m in ReadMark.objects.all()} == {
        owner.pk: owner.pk,
        jo.pk: jo.pk,
    }


def test_another_owner_s_conversation_id_is_404_whole_or_in_the_pane_and_marks_nothing(owner, jo):
    jo_client = client_of(jo)
    for headers in ({}, PANE):
        assert jo_client.get(f"/c/{WITH_ANA}/", headers=headers).status_code == 404
    assert not ReadMark.objects.exists()


def test_the_thread_pane_is_the_thread_alone_and_costs_the_thread_not_the_inbox(
    maya, django_assert_num_queries
):
    whole = maya.get(f"/c/{WITH_ANA}/")
    page = whole.content.decode()
    assert 'class="inbox-row"' in page and 'id="thread-pane"' in page and "hx-history-elt" in page
    # The open conversation's row: marked as the current page, and already read (not bold).
    assert re.search(
        rf'<li>\s*<a class="inbox-row" href="/c/{WITH_ANA}/" aria-current="page"', page
    )
    assert page.count('id="lightbox"') == 1

    # Session, the user with their x_account; the conversation with the read mark (already at
    # the newest: nothing written), its participants; the events (their media and posts are in
    # the bodies the store kept); the gaps; whether an imported archive covers them and whether
    # X has older messages (all of these fit a page).
    with django_assert_num_queries(8):
        pane = maya.get(f"/c/{WITH_ANA}/", headers=PANE)
    fragment = pane.content.decode()
    assert fragment.lstrip().startswith("<title>Ana Lima \u2013 DM Reader</title>")
    assert 'id="thread"' in fragment and 'class="conversation-head"' in fragment
    assert 'class="inbox-row"' not in fragment and 'id="lightbox"' not in fragment
    # The inbox's heading is no longer the page's first: the thread's title is (htmx, out of band).
    assert '<h2 id="inbox-heading" class="inbox-heading" hx-swap-oob="true">' in fragment
    assert {"HX-Request", "HX-Target", "HX-History-Restore-Request"} <= {
        v.strip() for v in pane["Vary"].split(",")
    }
    # The whole page costs the inbox's rows and the sync state on top (their participants and
    # gaps are read with the thread's): two panes do not double the queries of a navigation.
    with django_assert_num_queries(8 + 2):
        maya.get(f"/c/{WITH_ANA}/")


def test_back_and_forward_get_the_whole_page_whose_thread_pane_htmx_keeps(maya):
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    for url in (f"/c/{WITH_ANA}/", "/"):
        page = maya.get(url, headers=restore).content.decode()
        assert page.startswith("<!doctype html>") and "hx-history-elt" in page
        assert 'class="inbox-row"' in page
