"""The reader's views over HTTP: maya and jonas sign in through the sandbox's consent page and
sync once for the whole module; each test then reads inside its own rolled-back transaction.

The module has its own sandbox because its last tests add events to it."""

import html
import http.server
import re
import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import sync
from conversations.models import Conversation, DmEvent, Media, SyncRun, SyncState, XUser
from dmreader.models import XAccount
from tests.sandbox import Sandbox
from tests.signin_helpers import Reader, flushed_after, sign_in, synced_reader

pytestmark = pytest.mark.django_db

THEO = "2893011764-1432706037263519745"  # maya and theo_park: 2,000+ events in X's window
WINDOW = timedelta(days=30)
HX = {"HX-Request": "true"}
EVENT_IDS = re.compile(r'<(?:article|li)\b[^>]*\bid="e(\d+)"')
ROW = re.compile(r'<a class="inbox-row" href="/c/([^/]+)/">(.*?)</a>', re.DOTALL)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(tmp_path_factory.mktemp("reader-sandbox")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def readers(sandbox, django_db_setup, django_db_blocker, tmp_path_factory) -> dict[str, Reader]:
    """maya_reads and jonas_k, signed in and synced once (about 4 s), committed for the module and
    flushed after it, as a transactional test would leave the database."""
    media_cache = tmp_path_factory.mktemp("media-cache")
    with flushed_after(django_db_blocker):
        with (
            django_db_blocker.unblock(),
            override_settings(**sandbox.urls, MEDIA_CACHE_DIR=media_cache),
        ):
            found = {u: synced_reader(sandbox, u) for u in ("maya_reads", "jonas_k")}
        yield found


@pytest.fixture
def maya(readers) -> Reader:
    return readers["maya_reads"]


@pytest.fixture
def jonas(readers) -> Reader:
    return readers["jonas_k"]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def window_events(sandbox, conversation_id: str) -> list[dict]:
    """What X's window holds for a conversation, oldest first: the sandbox's own ground truth."""
    now = datetime.fromisoformat(sandbox.admin("GET", "clock")["now"])
    events = [
        e
        for e in sandbox.admin("GET", "truth/maya_reads")["events"]
        if e["dm_conversation_id"] == conversation_id and parse(e["created_at"]) >= now - WINDOW
    ]
    return sorted(events, key=lambda e: int(e["id"]))


def event_ids(response) -> list[str]:
    return EVENT_IDS.findall(response.content.decode())


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def older(reader: Reader, conversation_id: str, before: str):
    return reader.client.get(f"/c/{conversation_id}/", {"before": before}, headers=HX)


# The inbox -----------------------------------------------------------------------------------


def test_the_inbox_lists_every_conversation_newest_first_with_names_and_previews(sandbox, maya):
    truth = sandbox.admin("GET", "truth/maya_reads")
    now = datetime.fromisoformat(sandbox.admin("GET", "clock")["now"])
    newest: dict[str, dict] = {}
    for event in truth["events"]:
        if parse(event["created_at"]) >= now - WINDOW:
            current = newest.get(event["dm_conversation_id"])
            if current is None or int(event["id"]) > int(current["id"]):
                newest[event["dm_conversation_id"]] = event
    expected_order = sorted(newest, key=lambda c: int(newest[c]["id"]), reverse=True)

    page = maya.client.get("/")
    assert page.status_code == 200
    rows = ROW.findall(page.content.decode())
    assert [conversation_id for conversation_id, _ in rows] == expected_order
    assert len(rows) >= 25

    theo_row = text_of(dict(rows)[THEO])
    assert theo_row.startswith("Theo Park @theo_park")
    last = newest[THEO]
    # A photo's or video's own t.co link is left out of the preview (its "Photo"/"Video" marker
    # stands for it) and other links show as X displays them: compare the words before them.
    last_text = " ".join(re.sub(r"https://t\.co/\S+", " ", last["text"]).split())
    # A long one is cut to one line of 120 characters, ending "…".
    if len(last_text) <= 120:
        assert last_text in theo_row
    else:
        assert last_text[:100] in theo_row and "…" in theo_row and last_text not in theo_row
    assert ("You: " in theo_row) == (last["sender_id"] == maya.x_id)

    groups = [c["id"] for c in truth["conversations"] if c["is_group"] and c["id"] in newest]
    for group in groups:
        row = text_of(dict(rows)[group])
        # Up to four first names, then how many more (rendering.conversation_title).
        assert re.match(r"^[^,@]+(?:, [^,@]+)+ and (?:\d+ others?|[^,@\d]+) ", row), row
    assert "Up to date" in page.content.decode()


def test_the_note_on_encrypted_chats_shows_once_until_hidden_in_this_browser(maya):
    note = "Encrypted chats are probably not here"
    assert note in maya.client.get("/").content.decode()
    hidden = maya.client.post("/notes/encrypted/hide/", headers=HX)
    assert hidden.status_code == 200 and hidden.content == b""
    assert hidden.cookies["encrypted_note"]["max-age"] == 365 * 24 * 3600
    assert note not in maya.client.get("/").content.decode()
    maya.client.cookies.pop("encrypted_note")
    assert maya.client.post("/notes/encrypted/hide/").url == "/"  # without htmx: the inbox again
    assert maya.client.get("/notes/encrypted/hide/").status_code == 405
    maya.client.cookies.pop("encrypted_note")  # the client is the module's: as it was


def test_a_sync_that_just_ended_says_just_now_not_0_minutes_ago(maya):
    SyncState.objects.filter(owner=maya.user).update(last_success_at=timezone.now())
    page = html.unescape(maya.client.get("/").content.decode())
    assert "synced just now." in page and "0\xa0minutes" not in page


def test_the_inbox_preview_shows_links_as_written_not_t_co(maya):
    page = maya.client.get("/").content.decode()
    previews = re.findall(r'class="inbox-preview">(.*?)</span>\s*</span>', page, re.DOTALL)
    assert previews
    assert not [p for p in previews if "t.co/" in p]


def test_the_inbox_polls_while_the_first_sync_is_queued_and_stops_when_it_is_done(sandbox):
    client = Client()
    sign_in(client, sandbox, "quiet_quinn")
    queued = client.get("/").content.decode()
    assert "Your messages are on their way from X" in queued
    assert 'hx-trigger="every 3s"' in queued
    quinn = XAccount.objects.get(username="quiet_quinn")
    assert sync.sync_account(quinn.user_id).status == SyncState.IDLE
    fragment = client.get("/", headers=HX)
    assert "HX-Request" in fragment["Vary"]
    assert fragment.content.decode().lstrip().startswith('<div id="inbox-body"')
    assert "hx-trigger" not in fragment.content.decode()
    # An empty account explains itself.
    page = client.get("/").content.decode()
    assert "No messages yet" in page
    assert "X returned no Direct Messages for @quiet_quinn from the last 30 days." in page
    assert 'class="inbox-row"' not in page


def test_a_one_to_one_with_a_gone_account_is_named_by_id_once(maya):
    gone = Conversation.objects.filter(owner=maya.user, is_group=False).exclude(
        participants__username__gt=""
    )
    rows = dict(ROW.findall(maya.client.get("/").content.decode()))
    for conversation in gone:
        row = text_of(rows[conversation.x_id])
        x_id = conversation.x_id.replace(maya.x_id, "").strip("-")
        assert row.startswith(f"User {x_id} ")
        assert row.count(x_id) == 1


def test_a_join_or_leave_as_the_last_event_is_named_in_the_inbox(maya):
    named = dict(XUser.objects.filter(owner=maya.user).values_list("x_id", "username"))
    leave = next(
        e
        for e in DmEvent.objects.filter(owner=maya.user, event_type=DmEvent.PARTICIPANTS_LEAVE)
        if len(e.participant_ids) == 1 and named.get(e.participant_ids[0])
    )
    Conversation.objects.filter(pk=leave.conversation_id).update(last_event=leave)
    rows = dict(ROW.findall(maya.client.get("/").content.decode()))
    assert f"@{named[leave.participant_ids[0]]} left" in text_of(rows[leave.conversation.x_id])


def test_the_inbox_of_an_account_that_is_not_signed_in_is_the_welcome_page():
    assert b"Sign in with X" in Client().get("/").content


# A conversation ------------------------------------------------------------------------------


def test_a_conversation_opens_at_its_newest_page(sandbox, maya):
    truth = [e["id"] for e in window_events(sandbox, THEO)]
    page = maya.client.get(f"/c/{THEO}/")
    assert page.status_code == 200
    assert "HX-Request" in page["Vary"]
    content = page.content.decode()
    assert "<h1>Theo Park</h1>" in content
    assert event_ids(page) == truth[-50:]
    assert f'hx-get="/c/{THEO}/?before={truth[-50]}"' in content
    assert f'href="/c/{THEO}/?before={truth[-50]}"' in content  # works without JavaScript too


def test_older_pages_are_keyset_fragments_that_walk_back_to_the_window_s_edge_exactly_once(
    sandbox, maya
):
    truth = [e["id"] for e in window_events(sandbox, THEO)]
    assert len(truth) > 2000
    seen = event_ids(maya.client.get(f"/c/{THEO}/"))
    pages = 1
    while True:
        with CaptureQueriesContext(connection) as queries:
            fragment = older(maya, THEO, seen[0])
        assert fragment.status_code == 200
        last = "history-end" in fragment.content.decode()
        # The 40th page costs what the 2nd does.
        assert len(queries) == OLDER_QUERIES + (LAST_PAGE_EXTRA if last else 0)
        assert "HX-Request" in fragment["Vary"]
        content = fragment.content.decode()
        assert "<html" not in content and "conversation-head" not in content
        # Keyset: the events are read by (created_at, sort_id) below the anchor, never by OFFSET.
        sql = [q["sql"] for q in queries.captured_queries if '"conversations_dmevent"' in q["sql"]]
        assert not [s for s in sql if "OFFSET" in s.upper()]
        assert any('"created_at" <' in s and "LIMIT 51" in s for s in sql)
        ids = event_ids(fragment)
        assert ids, content[:500]
        assert int(ids[-1]) < int(seen[0])
        seen = ids + seen
        pages += 1
        if last:
            break
        assert pages < 60
    assert seen == truth
    assert pages == -(-len(truth) // 50)
    assert "X only returns the last 30 days" in content


def test_a_group_that_began_inside_the_window_ends_at_its_beginning(sandbox, maya):
    now = datetime.fromisoformat(sandbox.admin("GET", "clock")["now"])
    truth = sandbox.admin("GET", "truth/maya_reads")
    everything: dict[str, list[dict]] = {}
    for event in truth["events"]:
        everything.setdefault(event["dm_conversation_id"], []).append(event)
    group = next(
        c["id"]
        for c in truth["conversations"]
        if c["is_group"]
        and min(parse(e["created_at"]) for e in everything.get(c["id"], [{"created_at": "1970"}]))
        > now - WINDOW + timedelta(days=2)
    )
    ids = event_ids(maya.client.get(f"/c/{group}/"))
    while True:
        fragment = older(maya, group, ids[0])
        ids = event_ids(fragment) + ids
        if "history-end" in fragment.content.decode():
            break
    assert ids == [e["id"] for e in sorted(everything[group], key=lambda e: int(e["id"]))]
    assert "Beginning of the conversation" in fragment.content.decode()


def oldest_page(reader: Reader, conversation_id: str) -> str:
    """The conversation's oldest page, straight from a keyset cursor 50 events from its start."""
    events = DmEvent.objects.filter(owner=reader.user, conversation__x_id=conversation_id)
    anchor = events.order_by("created_at", "sort_id")[50:51].first()
    if anchor is None:
        return reader.client.get(f"/c/{conversation_id}/").content.decode()
    return older(reader, conversation_id, anchor.x_id).content.decode()


def test_only_a_group_created_inside_the_window_claims_to_show_its_beginning(sandbox, maya):
    # A one-to-one has no first event, and X's window hides anything older than 30 days: only a
    # group's creation proves where it began.
    now = datetime.fromisoformat(sandbox.admin("GET", "clock")["now"])
    truth = sandbox.admin("GET", "truth/maya_reads")
    oldest: dict[str, datetime] = {}
    for event in truth["events"]:
        at, key = parse(event["created_at"]), event["dm_conversation_id"]
        oldest[key] = min(at, oldest.get(key, at))
    groups = {c["id"] for c in truth["conversations"] if c["is_group"]}
    markers = {}
    for conversation_id in Conversation.objects.filter(owner=maya.user).values_list(
        "x_id", flat=True
    ):
        end = re.search(r'<li class="history-end">(.*?)</li>', oldest_page(maya, conversation_id))
        began = conversation_id in groups and oldest[conversation_id] >= now - WINDOW
        markers[conversation_id] = (began, end[1].startswith("Beginning of the conversation"))
    assert {began for began, _ in markers.values()} == {True, False}
    assert [c for c, (began, says) in markers.items() if began != says] == []


def test_the_older_page_without_htmx_is_a_whole_page_for_browsers_without_javascript(maya):
    newest = event_ids(maya.client.get(f"/c/{THEO}/"))
    page = maya.client.get(f"/c/{THEO}/", {"before": newest[0]})
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    ids = event_ids(page)
    assert len(ids) == 50 and int(ids[-1]) < int(newest[0])


@pytest.mark.parametrize(
    "cursor",
    ["abc", "1' OR '1'='1", "-5", "12345678901234567890", "1e5", "%00", "9999999999999999999"],
)
def test_a_malformed_or_unknown_before_cursor_is_404_not_500(maya, cursor):
    assert older(maya, THEO, cursor).status_code == 404
    assert maya.client.get(f"/c/{THEO}/", {"before": cursor}).status_code == 404


def test_an_event_of_another_conversation_is_no_cursor_for_this_one(maya):
    other = DmEvent.objects.filter(owner=maya.user).exclude(conversation__x_id=THEO).first()
    assert older(maya, THEO, other.x_id).status_code == 404


def test_an_unknown_conversation_is_404(maya):
    assert maya.client.get("/c/1-2/").status_code == 404


def test_a_conversation_shows_senders_media_post_cards_and_system_lines(maya):
    group = (
        Conversation.objects.filter(owner=maya.user, is_group=True, events__media__type="photo")
        .filter(events__event_type=DmEvent.PARTICIPANTS_LEAVE)
        .distinct()
        .first()
    )
    html_pages = [maya.client.get(f"/c/{group.x_id}/").content.decode()]
    while "history-end" not in html_pages[-1]:
        oldest = EVENT_IDS.findall(html_pages[-1])[0]
        html_pages.append(older(maya, group.x_id, oldest).content.decode())
    everything = "".join(html_pages)
    assert '<p class="sender"><bdi class="sender-name">' in everything
    assert re.search(r'<img class="avatar" src="/avatar/\d+/"', everything)
    assert re.search(r'<a class="photo" href="/media/3_\d+/full/"', everything)
    assert re.search(
        r'<img src="/media/3_\d+/full/" alt="[^"]+" width="\d+" height="\d+"', everything
    )
    assert re.search(r'<video class="(video|gif)" src="/media/\w+/video/" poster=', everything)
    assert re.search(r'class="post-card" href="https://x.com/\w+/status/\d+"', everything)
    assert re.search(
        r'<li class="system" id="e\d+"><span>@\w+ (added @\w+|left|joined)', everything
    )
    assert re.search(r"<span>[^<]* left</span>", everything)
    assert "t.co/" not in everything


def test_a_one_to_one_names_no_one_and_shows_a_time_per_run_not_per_message(maya):
    page = maya.client.get(f"/c/{THEO}/").content.decode()
    messages = page.count('<article class="msg')
    times = re.findall(
        r'<time class="msg-time" tabindex="0" datetime="[^"]+" title="(\w+ [^"]+)"', page
    )
    assert 'class="sender"' not in page
    assert 'aria-label="Your message"' in page and 'aria-label="Message from Theo' in page
    assert 0 < len(times) < messages  # before: one under every message
    assert all(re.fullmatch(r"\w+day \d+ \w+ \d{4}, \d\d:\d\d", t) for t in times)


def test_a_deleted_shared_post_says_it_is_unavailable(maya):
    sharing = DmEvent.objects.get(
        owner=maya.user, conversation__x_id=THEO, shared_posts__unavailable=True
    )
    after = (
        DmEvent.objects.filter(
            owner=maya.user, conversation__x_id=THEO, sort_id__gt=sharing.sort_id
        )
        .order_by("sort_id")
        .first()
    )
    content = maya.client.get(f"/c/{THEO}/", {"before": after.x_id}).content.decode()
    article = re.search(rf'<article class="msg" id="e{sharing.x_id}".*?</article>', content, re.S)
    assert '<p class="post-card post-unavailable">This post is unavailable.</p>' in article[0]
    assert "did you see what he posted" in article[0]
    assert "status/" not in article[0]  # the post's link is the card's, and there is no card


def test_hostile_seeded_texts_render_as_text(maya):
    pia = Conversation.objects.get(owner=maya.user, participants__username="security_pia")
    content = maya.client.get(f"/c/{pia.x_id}/").content.decode()
    assert "&lt;script&gt;alert(&quot;dm&quot;)&lt;/script&gt;" in content
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in content
    assert "<img src=x" not in content
    assert 'href="javascript' not in content
    assert "{{ 7*7 }}" in content


# Query counts --------------------------------------------------------------------------------

# Session, the user with their x_account (accounts.AccountBackend), SyncState; conversations with
# their last events, their participants (the last events' lines are kept by the store: no media
# or posts read), the inbox's history gaps: the same for 7 conversations or 700.
INBOX_QUERIES = 6
# Session, the user with their x_account; the conversation with the owner's read mark, and its
# participants; 51 events with their senders (their media and shared posts are in the bodies the
# store rendered: none read); the conversation's history gaps.
THREAD_QUERIES = 6
# A whole page has the inbox pane too: its rows with their marks and the sync state (their
# participants and the inbox's gaps are read with the thread's); on a first visit opening it
# writes the read mark (read_state.py; test_read_state.py: the thread alone, as two panes swap
# it in, costs the thread and the mark).
CONVERSATION_QUERIES = THREAD_QUERIES + 3
OLDER_QUERIES = THREAD_QUERIES + 1  # the anchor event
# At the oldest cached page: whether an imported archive covers its oldest event (then that is
# where the conversation began: queries.archive_covers) and whether X has anything older
# (queries.history_exhausted), unless the page holds a group's creation (known without asking).
LAST_PAGE_EXTRA = 2


def test_the_inbox_costs_the_same_queries_for_a_big_and_a_small_account(
    maya, jonas, django_assert_num_queries
):
    assert Conversation.objects.filter(owner=maya.user).count() > 3 * (
        Conversation.objects.filter(owner=jonas.user).count()
    )
    for reader in (maya, jonas):
        with django_assert_num_queries(INBOX_QUERIES):
            assert reader.client.get("/").status_code == 200


def test_a_conversation_page_costs_the_same_queries_whatever_its_size(
    maya, django_assert_num_queries
):
    sizes = {c.x_id: c.events.count() for c in Conversation.objects.filter(owner=maya.user)}
    groups = set(
        Conversation.objects.filter(owner=maya.user, is_group=True).values_list("x_id", flat=True)
    )
    small = min((c for c, n in sizes.items() if n > 2 * 50 + 1), key=sizes.get)
    group = max(groups, key=sizes.get)
    assert sizes[THEO] > 15 * sizes[small]
    for conversation_id in (THEO, small, group):
        with django_assert_num_queries(CONVERSATION_QUERIES):
            newest = maya.client.get(f"/c/{conversation_id}/")
        ids = event_ids(newest)
        with django_assert_num_queries(OLDER_QUERIES):
            assert older(maya, conversation_id, ids[0]).status_code == 200
        oldest_cached = (
            DmEvent.objects.filter(owner=maya.user, conversation__x_id=conversation_id)
            .order_by("created_at", "sort_id")[50]
            .x_id
        )
        began = DmEvent.objects.filter(
            owner=maya.user, conversation__x_id=conversation_id, x_id=f"{int(group) + 4}"
        ).exists()
        extra = 0 if conversation_id == group and began else LAST_PAGE_EXTRA
        with django_assert_num_queries(OLDER_QUERIES + extra):
            last = older(maya, conversation_id, oldest_cached)
        assert "history-end" in last.content.decode()


def test_asking_x_for_older_messages_it_already_gave_asks_nothing_and_costs_a_page(
    maya, django_assert_num_queries
):
    first = (
        DmEvent.objects.filter(owner=maya.user, conversation__x_id=THEO)
        .order_by("created_at", "sort_id")[50]
        .x_id
    )
    runs = SyncRun.objects.filter(owner=maya.user).count()
    with django_assert_num_queries(OLDER_QUERIES + LAST_PAGE_EXTRA):
        fragment = maya.client.post(f"/c/{THEO}/older/", {"before": first}, headers=HX)
    assert len(event_ids(fragment)) == 50
    assert "X only returns the last 30 days" in fragment.content.decode()
    assert SyncRun.objects.filter(owner=maya.user).count() == runs


# Another account -----------------------------------------------------------------------------


def test_another_account_gets_404_for_maya_s_conversation_fragments_media_and_avatars(maya, jonas):
    theirs = set(Media.objects.filter(owner=jonas.user).values_list("media_key", flat=True))
    media = Media.objects.filter(owner=maya.user, events__conversation__x_id=THEO)
    photo = media.filter(type="photo").exclude(media_key__in=theirs).first()
    video = media.filter(type="video").exclude(media_key__in=theirs).first()
    known_to_jonas = set(XUser.objects.filter(owner=jonas.user).values_list("x_id", flat=True))
    stranger = (
        XUser.objects.filter(owner=maya.user).exclude(x_id__in=known_to_jonas).exclude(x_id="")
    ).first()
    newest = event_ids(maya.client.get(f"/c/{THEO}/"))

    urls = [
        f"/c/{THEO}/",
        f"/c/{THEO}/?before={newest[0]}",
        f"/media/{photo.media_key}/full/",
        f"/media/{video.media_key}/video/",
        f"/media/{video.media_key}/preview/",
        f"/avatar/{stranger.x_id}/",
    ]
    for url in urls:
        assert maya.client.get(url, headers=HX).status_code == 200, url
        assert jonas.client.get(url).status_code == 404, url
        assert jonas.client.get(url, headers=HX).status_code == 404, url


def test_a_conversation_both_are_in_is_each_one_s_own_copy(maya, jonas):
    shared = f"{jonas.x_id}-{maya.x_id}"
    assert maya.client.get(f"/c/{shared}/").status_code == 200
    assert jonas.client.get(f"/c/{shared}/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in_for_every_reader_url(maya):
    photo = Media.objects.filter(owner=maya.user, type="photo").first()
    for url in (
        f"/c/{THEO}/",
        f"/media/{photo.media_key}/full/",
        f"/avatar/{maya.x_id}/",
        "/with/",
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/auth/login/")


# The media proxy -----------------------------------------------------------------------------


@pytest.fixture
def bystander():
    """A real HTTP server on this machine that records every request: the proxy must never
    reach it, though it answers."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            self.wfile.write(b"\xff\xd8secret")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_media_proxy_fetches_only_allow_listed_hosts(maya, bystander):
    local, seen = bystander
    targets = [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"{local}/internal",
        "http://pbs.twimg.com/media/x.jpg",  # X's host, but not over https
        "https://pbs.twimg.com.evil.example/media/x.jpg",
        "file:///etc/passwd",
    ]
    for i, target in enumerate(targets):
        Media.objects.create(
            owner=maya.user,
            media_key=f"3_{9000 + i}",
            type="video",
            url=target,
            preview_image_url=target,
            variants=[{"content_type": "video/mp4", "bit_rate": 1, "url": target}],
        )
        for kind in ("full", "preview", "video"):
            # "full" is only for photos; a video's own URL is never fetched either.
            assert maya.client.get(f"/media/3_{9000 + i}/{kind}/").status_code == 404
        photo = Media.objects.filter(media_key=f"3_{9000 + i}")
        photo.update(type="photo")
        assert maya.client.get(f"/media/3_{9000 + i}/full/").status_code == 404
    assert seen == []


def test_an_avatar_on_a_host_that_is_not_x_s_is_never_fetched(maya, bystander):
    local, seen = bystander
    XUser.objects.filter(owner=maya.user, username="theo_park").update(
        profile_image_url=f"{local}/avatar.jpg"
    )
    response = maya.client.get("/avatar/2893011764/")
    assert response.status_code == 302
    assert response["Location"].endswith("/img/avatar.svg")
    assert seen == []


def test_media_is_served_to_its_owner_with_private_cache_headers(maya):
    photo = Media.objects.filter(owner=maya.user, type="photo").first()
    response = maya.client.get(f"/media/{photo.media_key}/full/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"  # the photo's JPEG
    assert response["Cache-Control"] == "private, max-age=86400"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert maya.client.get(f"/media/{photo.media_key}/nonsense/").status_code == 404


def test_a_dm_photo_is_served_as_an_image_so_its_link_shows_it(maya):
    photo = Media.objects.filter(owner=maya.user, type="photo").first()
    response = maya.client.get(f"/media/{photo.media_key}/full/")
    assert response["Content-Type"] == "image/jpeg"


# Opening a conversation by @username ---------------------------------------------------------


def test_open_with_a_cached_username_or_id_goes_to_the_one_to_one_by_get_or_post(maya):
    for who in ("@theo_park", "theo_park", "@Theo_Park", "2893011764"):
        for response in (
            maya.client.get("/with/", {"who": who}),
            maya.client.post("/with/", {"who": who}),
        ):
            assert response.status_code == 302, who
            assert response["Location"] == f"/c/{THEO}/"
    response = maya.client.post("/with/", {"who": "@theo_park"}, headers=HX)
    assert response["HX-Redirect"] == f"/c/{THEO}/"
    assert "HX-Request" in response["Vary"]


def test_the_inbox_opens_a_chat_with_a_post_form_carrying_its_csrf_token(maya):
    inbox = maya.client.get("/").content.decode()
    form = re.search(
        r'<form class="open-with" method="post" action="/with/".*?</form>', inbox, re.S
    )
    assert form and 'name="csrfmiddlewaretoken"' in form[0]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(maya.user)
    assert strict.post("/with/", {"who": "@theo_park"}).status_code == 403


def test_open_with_an_unknown_username_explains_itself(maya):
    response = maya.client.post("/with/", {"who": "@nobody_at_all"})
    assert response.status_code == 404
    assert "No account called @nobody_at_all was found on X." in response.content.decode()
    assert 'value="@nobody_at_all"' in response.content.decode()


def test_open_with_someone_without_messages_explains_itself(maya):
    quinn = "1647679433974837250"
    response = maya.client.post("/with/", {"who": quinn})
    assert response.status_code == 404
    assert "You have no messages with" in response.content.decode()


def test_open_with_hostile_input_is_escaped(maya):
    for send in (maya.client.get, maya.client.post):
        response = send("/with/", {"who": '"><script>alert(1)</script>'})
        assert response.status_code == 400
        assert "is not an X @username or user id" in response.content.decode()
        assert "<script>alert(1)" not in response.content.decode()


@pytest.mark.parametrize(
    "who",
    # Superscript, subscript, Arabic-Indic, Persian and full-width digits; non-ASCII letters.
    ["⁰⁴⁵", "₀₁₂", "²", "٤٥٦", "۱۲۳", "\uff14\uff15\uff16", "@théo", "@\uff54\uff48\uff45\uff4f"],
)
def test_open_with_takes_only_ascii_digits_as_an_id_and_asks_x_nothing(maya, who):
    conversations = Conversation.objects.filter(owner=maya.user).count()
    runs = SyncRun.objects.filter(owner=maya.user).count()
    for send in (maya.client.get, maya.client.post):
        response = send("/with/", {"who": who})
        assert response.status_code == 400, who
        assert "is not an X @username or user id" in response.content.decode()
    assert Conversation.objects.filter(owner=maya.user).count() == conversations
    assert SyncRun.objects.filter(owner=maya.user).count() == runs


# The account's own picture -------------------------------------------------------------------


def header_avatar(reader: Reader) -> str:
    return re.search(
        r'<img class="avatar avatar-sm" src="([^"]+)"', reader.client.get("/").content.decode()
    )[1]


def test_each_account_s_header_picture_has_a_url_of_its_own(maya, jonas):
    maya_url, jonas_url = header_avatar(maya), header_avatar(jonas)
    assert maya_url != jonas_url
    assert maya_url.startswith(f"/account/avatar/{maya.x_id}/")
    assert jonas_url.startswith(f"/account/avatar/{jonas.x_id}/")
    picture = maya.client.get(maya_url)
    assert picture.status_code == 200 and picture["Content-Type"].startswith("image/")
    # Cached by the browser for a day: nobody else's URL may answer with this face.
    assert picture["Cache-Control"] == "private, max-age=86400"
    assert maya.client.get(jonas_url).status_code == 404
    # A new picture is a new URL, so a browser's day-old copy is never shown for it.
    XAccount.objects.filter(user=maya.user).update(
        profile_image_url=XAccount.objects.get(user=maya.user).profile_image_url + "?new"
    )
    assert header_avatar(maya) != maya_url


def test_the_header_picture_falls_back_to_the_default_when_x_s_image_fails(sandbox, maya):
    XAccount.objects.filter(user=maya.user).update(
        profile_image_url=f"{sandbox.base_url}/profile_images/0/missing_normal.jpg"
    )
    response = maya.client.get(header_avatar(maya))
    assert response.status_code == 302
    assert response["Location"].endswith("/img/avatar.svg")


# Sync now --------------------------------------------------------------------------------------


def test_sync_now_with_htmx_answers_with_the_inbox_s_status_and_rows(maya):
    response = maya.client.post("/sync/", headers=HX)
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="inbox-body"')
    assert 'class="sync-line"' in content and ROW.search(content)
    without_js = maya.client.post("/sync/")
    assert without_js.status_code == 302 and without_js["Location"] == "/"


# Older history from X --------------------------------------------------------------------------


@pytest.fixture
def history_left_at_x(maya):
    """As before the first inbox pass reached X's end: the cache may lack older history, and only
    asking X (a conversation fetch) can tell."""
    SyncState.objects.filter(owner=maya.user).update(backfill_complete=False)
    Conversation.objects.filter(owner=maya.user).update(history_complete=False, history_token="")


def oldest_cached(reader: Reader, conversation_id: str) -> DmEvent:
    return (
        DmEvent.objects.filter(owner=reader.user, conversation__x_id=conversation_id)
        .order_by("created_at", "sort_id")
        .first()
    )


def test_a_get_never_asks_x_and_where_the_cache_ends_offers_to(maya, history_left_at_x):
    runs = SyncRun.objects.filter(owner=maya.user).count()
    first = oldest_cached(maya, THEO).x_id
    fragment = older(maya, THEO, first)
    assert fragment.status_code == 200
    content = fragment.content.decode()
    form = re.search(r'<form method="post" action="/c/[^"]+/older/".*?</form>', content, re.S)
    assert form, content
    assert 'hx-trigger="intersect once, submit"' in form[0]
    assert f'name="before" value="{first}"' in form[0]
    assert "Load older messages from X" in form[0]
    page = maya.client.get(f"/c/{THEO}/", {"before": first})
    assert (
        "<html" in page.content.decode() and "Load older messages from X" in page.content.decode()
    )
    assert SyncRun.objects.filter(owner=maya.user).count() == runs


def test_scrolling_past_the_cache_with_x_s_rate_limit_used_up_says_when_older_messages_can_load(
    sandbox, maya, history_left_at_x
):
    first = oldest_cached(maya, THEO).x_id
    sandbox.fault("maya_reads", "429", count=1)
    try:
        fragment = maya.client.post(f"/c/{THEO}/older/", {"before": first}, headers=HX)
    finally:
        sandbox.clear_faults("maya_reads")
    assert fragment.status_code == 200
    assert "HX-Request" in fragment["Vary"]
    content = fragment.content.decode()
    reset = SyncState.objects.get(owner=maya.user).rate_reset_at
    assert f"Older messages can load at {reset:%H:%M} (X's rate limit)." in text_of(content)
    # The row stays, with a button, and does not post itself again while the limit lasts.
    assert f'name="before" value="{first}"' in content and "Try again" in content
    assert "intersect" not in content
    # Without JavaScript: the page older than the cache's first message, saying the same.
    page = maya.client.post(f"/c/{THEO}/older/", {"before": first})
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_loading_older_messages_from_x_shows_what_it_fetched_then_the_end(
    sandbox, maya, history_left_at_x
):
    sizes = {c.x_id: c.events.count() for c in Conversation.objects.filter(owner=maya.user)}
    small = min((c for c, n in sizes.items() if 60 < n < 250 and "-" in c), key=sizes.get)
    lost = list(
        DmEvent.objects.filter(owner=maya.user, conversation__x_id=small)
        .order_by("created_at", "sort_id")
        .values_list("x_id", flat=True)[:20]
    )
    DmEvent.objects.filter(owner=maya.user, x_id__in=lost).delete()
    first = oldest_cached(maya, small).x_id
    fragment = maya.client.post(f"/c/{small}/older/", {"before": first}, headers=HX)
    assert fragment.status_code == 200
    assert event_ids(fragment) == lost
    assert "X only returns the last 30 days" in fragment.content.decode()


def test_a_failure_loading_older_messages_says_why_and_offers_to_try_again(
    sandbox, maya, history_left_at_x
):
    first = oldest_cached(maya, THEO).x_id
    sandbox.fault("maya_reads", "503", count=10)
    try:
        fragment = maya.client.post(f"/c/{THEO}/older/", {"before": first}, headers=HX)
    finally:
        sandbox.clear_faults("maya_reads")
    content = text_of(fragment.content.decode())
    assert "Older messages could not be loaded: X answered 503." in content
    assert "Try again" in content


# New events (these add to the module's sandbox, so they come last) ---------------------------


def test_a_hostile_message_from_x_renders_escaped(sandbox, maya):
    sandbox.admin(
        "POST",
        "events",
        json={
            "with": ["maya_reads", "theo_park"],
            "sender": "theo_park",
            "text": "<script>alert(1)</script>",
        },
    )
    assert sync.sync_account(maya.user.pk).status == SyncState.IDLE
    conversation = maya.client.get(f"/c/{THEO}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in conversation
    assert "<script>alert(1)" not in conversation
    inbox = maya.client.get("/").content.decode()
    first_row = text_of(ROW.findall(inbox)[0][1])
    assert first_row.startswith("Theo Park")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in inbox
    assert "<script>alert(1)" not in inbox


def test_the_inbox_costs_the_same_queries_after_new_conversations_arrive(
    sandbox, maya, django_assert_num_queries
):
    with django_assert_num_queries(INBOX_QUERIES):
        before = ROW.findall(maya.client.get("/").content.decode())
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "quiet_quinn"], "sender": "quiet_quinn", "text": "hi!"},
    )
    sandbox.admin(
        "POST",
        "events",
        json={
            "with": ["maya_reads", "quiet_quinn"],
            "sender": "quiet_quinn",
            "text": "look",
            "media_type": "photo",
        },
    )
    assert sync.sync_account(maya.user.pk).status == SyncState.IDLE
    with django_assert_num_queries(INBOX_QUERIES):
        after = ROW.findall(maya.client.get("/").content.decode())
    assert len(after) == len(before) + 1
    assert text_of(after[0][1]).startswith("Quinn Adebayo @quiet_quinn just now Photo look")


def test_open_with_a_username_dm_reader_has_not_seen_asks_x_only_when_told_to(sandbox, maya):
    assert not XUser.objects.filter(owner=maya.user, username="lena_fischer").exists()
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "lena_fischer"], "sender": "lena_fischer", "text": "found me"},
    )
    # A GET (a link, perhaps on another site) changes nothing and asks X nothing: it offers to.
    runs = SyncRun.objects.filter(owner=maya.user).count()
    offer = maya.client.get("/with/", {"who": "@lena_fischer"})
    assert offer.status_code == 200
    assert "HX-Request" in offer["Vary"]
    form = re.search(
        r'<form class="open-with" method="post" action="/with/".*?</form>',
        offer.content.decode(),
        re.S,
    )
    assert form and "Look for @lena_fischer on X" in form[0]
    assert 'name="csrfmiddlewaretoken"' in form[0]
    assert SyncRun.objects.filter(owner=maya.user).count() == runs
    assert not XUser.objects.filter(owner=maya.user, username="lena_fischer").exists()
    # Its button does.
    response = maya.client.post("/with/", {"who": "@lena_fischer"})
    assert response.status_code == 302
    conversation = maya.client.get(response["Location"]).content.decode()
    assert "found me" in conversation
    assert "Lena Fischer" in conversation
