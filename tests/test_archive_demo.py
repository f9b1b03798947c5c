"""The product demo over HTTP, and what it shows: maya signs in against the sandbox (X's 30 days),
downloads her archive from the sandbox (GET /archives/maya_reads.zip, her whole history), uploads
it on the Import page and the worker imports it. Then everything the archive adds is on the pages:
group names (and the owner's own, through the Rename form), the titles of unnamed groups,
reactions under their messages, photos from the media storage, and people the archive named by
id only, looked up through the sandbox's GET /2/users?ids=.

One sandbox and one import for the module (committed, flushed after it); each test reads inside
its own rolled-back transaction."""

import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import AbstractBaseUser
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from conversations import importing, media, reactions, sync, xapi
from conversations.archive import open_archive
from conversations.models import Conversation, DmEvent, ImportJob, Media, XUser
from dmreader import xauth
from dmreader.models import XAccount
from tests import archive_factory as af
from tests.sandbox import Sandbox
from tests.signin_helpers import sign_in
from tests.test_import_views import run_due_tasks, upload

pytestmark = pytest.mark.django_db

LISBON_NAME = "Lisbon trip 🇵🇹"
HOSTILE_NAME = '<b>Flat 4B</b> & "friends" <script>x</script>'


@dataclass(frozen=True)
class Imported:
    user: AbstractBaseUser
    client: Client
    x_id: str
    archive: Path
    media_dir: Path
    synced: frozenset[str]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("demo-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(sandbox, django_db_setup, django_db_blocker, tmp_path_factory) -> Imported:
    """Sign in, sync X's 30 days, download the sandbox's archive and import it on the Import page
    through the worker: the demo, once for the module."""
    try:
        yield from _demo(sandbox, django_db_blocker, tmp_path_factory)
    finally:  # even when the setup failed: what it committed would be seen by every later test
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


def _demo(sandbox, django_db_blocker, tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    media_dir = work / "media-cache"
    with (
        django_db_blocker.unblock(),
        override_settings(
            **sandbox.urls,
            XSANDBOX_URL=sandbox.base_url,
            MEDIA_CACHE_DIR=media_dir,
            IMPORT_DIR=work / "imports",
        ),
    ):
        client = Client()
        sign_in(client, sandbox, "maya_reads")
        account = XAccount.objects.get(username="maya_reads")
        sync.sync_account(account.user_id)
        synced = frozenset(
            DmEvent.objects.filter(owner=account.user).values_list("x_id", flat=True)
        )
        page = client.get("/import/").content.decode()
        link = re.search(r'<a href="([^"]+)" download>', page)
        assert link and link.group(1) == f"{sandbox.base_url}/archives/maya_reads.zip"
        downloaded = requests.get(link.group(1), timeout=300)
        assert downloaded.status_code == 200
        assert "attachment" in downloaded.headers["Content-Disposition"]
        archive = work / "twitter-archive.zip"
        archive.write_bytes(downloaded.content)
        response = upload(client, ("twitter-archive.zip", downloaded.content))
        assert response.status_code == 302, response.content.decode()[:300]
        run_due_tasks()
        job = ImportJob.objects.get(owner=account.user)
        assert job.status == ImportJob.DONE, job.error
        # The tests run inside these settings.
        yield Imported(account.user, client, account.x_user_id, archive, media_dir, synced)


@pytest.fixture
def client(demo) -> Client:
    return demo.client


def conversation_of(demo: Imported, *usernames: str) -> Conversation:
    """The group (or one-to-one) whose people are exactly maya and `usernames`."""
    wanted = {"maya_reads", *usernames}
    for convo in Conversation.objects.filter(owner=demo.user).prefetch_related("participants"):
        if {p.username for p in convo.participants.all()} == wanted:
            return convo
    raise AssertionError(f"no conversation of {wanted}")


def lisbon(demo: Imported) -> Conversation:
    return Conversation.objects.get(owner=demo.user, archive_name=LISBON_NAME)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# The demo: 30 days, then the archive, then all of it -------------------------------------------


def test_the_import_page_links_to_the_sandboxs_archive_only_on_the_sandbox(sandbox, demo, client):
    with override_settings(XSANDBOX_URL=sandbox.base_url, X_API_BASE_URL=sandbox.base_url):
        page = client.get("/import/").content.decode()
        assert f'href="{sandbox.base_url}/archives/maya_reads.zip" download' in page
    with override_settings(XSANDBOX_URL=sandbox.base_url, X_API_BASE_URL="https://api.x.com"):
        page = client.get("/import/").content.decode()
        assert "/archives/" not in page and "Download an archive of your data" in page


def test_the_sandboxs_archive_brings_the_whole_history_once(sandbox, demo):
    truth = sandbox.admin("GET", "truth/maya_reads")["events"]
    cached = list(DmEvent.objects.filter(owner=demo.user).values_list("x_id", "created_at"))
    ids = Counter(x for x, _ in cached)
    assert not [x for x, n in ids.items() if n > 1]  # no event twice
    messages = {e["id"] for e in truth if e["event_type"] == "MessageCreate"}
    assert messages <= set(ids)  # every message X ever had, not only its 30 days
    oldest = min(at for _, at in cached)
    assert timezone.now() - oldest > timedelta(days=40)
    assert len(messages - demo.synced) > 1000  # the archive reached past the API's window
    # Joins the API gave and the archive repeats (some as joinConversation) are not doubled.
    joins = Counter(
        DmEvent.objects.filter(
            owner=demo.user, event_type__in=["ParticipantsJoin", "JoinConversation"]
        ).values_list("conversation_id", "created_at")
    )
    assert joins and max(joins.values()) == 1


def test_people_the_archive_named_by_id_only_were_looked_up_on_x(demo):
    # ben_ortega wrote to maya only before X's 30 days: the API never named him.
    ben = XUser.objects.get(owner=demo.user, username="ben_ortega")
    assert ben.name and ben.profile_image_url
    assert sync.unknown_user_ids(demo.user.pk) == []
    # The account X reports gone is marked so, and is not asked about again.
    assert XUser.objects.filter(owner=demo.user, unavailable=True).exists()


def test_someone_x_could_not_be_asked_about_at_the_import_is_looked_up_after_the_next_sync(
    sandbox, demo, settings
):
    for name, value in sandbox.urls.items():
        setattr(settings, name, value)
    lukas = next(
        u for u in sandbox.admin("GET", "truth/jonas_k")["users"] if u["username"] == "lukas_brandt"
    )
    XUser.objects.create(owner=demo.user, x_id=lukas["id"])  # as an archive leaves him
    assert sync.sync_account(demo.user.pk).status == "idle"
    assert XUser.objects.get(owner=demo.user, x_id=lukas["id"]).username == "lukas_brandt"


# Group identity --------------------------------------------------------------------------------


def test_a_group_named_in_the_archive_is_titled_so_everywhere_with_its_renames_as_lines(
    demo, client
):
    group = lisbon(demo)
    inbox = client.get("/").content.decode()
    assert LISBON_NAME in inbox
    page = client.get(f"/c/{group.x_id}/").content.decode()
    assert f"<h1>{LISBON_NAME}</h1>" in page
    # Its renames are lines in the thread, the first and the one that stuck.
    oldest = DmEvent.objects.filter(owner=demo.user, conversation=group).order_by("created_at")
    rename = oldest.filter(event_type="ConversationNameUpdate").order_by("created_at").last()
    around = client.get(f"/c/{group.x_id}/", {"around": rename.x_id}).content.decode()
    assert "@theo_park named the group “Lisbon trip 🇵🇹”" in around
    # A search result says where it is by the name (the book club opens with this message).
    found = client.get("/search/", {"q": "welcome everyone"}).content.decode()
    assert "in Book club 📚" in found
    # in: finds a group by its name too.
    named = client.get("/search/", {"q": "in:club welcome"}).content.decode()
    assert named.count('class="search-result-link"') == 1 and "in Book club 📚" in named


def test_an_archives_latest_rename_wins_whatever_order_the_imports_come_in(tmp_path):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("maya")
    group = af.snowflake(datetime(2024, 3, 1, tzinfo=UTC), 50)
    ana = "1400000000000000777"

    def archive(*renames) -> Path:
        convo = af.Conversation(group, True)
        convo.messages = [af.conversation_name_update(ana, name, when) for name, when in renames]
        return af.write_archive(tmp_path / f"{len(renames)}-{renames[0][0]}.zip", [], [convo]).path

    first = ("Lisbon", datetime(2024, 3, 2, tzinfo=UTC))
    second = ("Lisbon trip", datetime(2024, 3, 9, tzinfo=UTC))
    for path in (archive(second), archive(first)):  # the newer rename imported first
        with open_archive(path) as opened:
            importing.import_archive(owner.pk, opened)
    row = Conversation.objects.get(owner=owner, x_id=group)
    assert (row.archive_name, row.archive_name_at) == ("Lisbon trip", second[1])
    removed = ("", datetime(2024, 4, 1, tzinfo=UTC))
    with open_archive(archive(removed, second, first)) as opened:
        importing.import_archive(owner.pk, opened)
    row.refresh_from_db()
    assert row.archive_name == ""  # the group's name was removed on X last


def test_a_hostile_group_name_stays_text(demo, client):
    inbox = client.get("/").content.decode()
    assert (
        "&lt;b&gt;Flat 4B&lt;/b&gt; &amp; &quot;friends&quot; &lt;script&gt;x&lt;/script&gt;"
        in (inbox)
    )
    assert "<script>x</script>" not in inbox and "<b>Flat 4B</b>" not in inbox


def test_groups_without_a_name_get_titles_and_composite_avatars_that_tell_them_apart(demo, client):
    inbox = client.get("/").content.decode()
    rows = re.findall(
        r'<span class="inbox-avatars inbox-avatars-group"[^>]*>(.*?)</span>\s*<span class="inbox-text">'
        r'.*?<span class="inbox-title" dir="auto">(.*?)</span>',
        inbox,
        re.DOTALL,
    )
    unnamed = [
        (avatars, title)
        for avatars, title in rows
        if " and " in title and "Lisbon" not in title and "Flat" not in title
    ]
    assert len(unnamed) >= 2
    titles = [title for _, title in unnamed]
    assert len(set(titles)) == len(titles), titles
    faces = [tuple(re.findall(r'src="(/avatar/\d+/)"', avatars)) for avatars, _ in unnamed]
    assert all(len(f) >= 2 for f in faces)  # a composite of two or three people
    assert len(set(faces)) == len(faces)


def test_the_owner_names_a_group_and_the_name_is_used_everywhere(demo, client):
    group = lisbon(demo)
    response = client.post(f"/c/{group.x_id}/name/", {"name": "  Portugal   crew  "})
    assert response.status_code == 302 and response["Location"] == f"/c/{group.x_id}/"
    assert "<h1>Portugal crew</h1>" in client.get(f"/c/{group.x_id}/").content.decode()
    assert "Portugal crew" in client.get("/").content.decode()
    assert "Portugal crew" in client.get("/search/", {"q": "Lisbon"}).content.decode()
    export = client.get("/export/", {"conversation": group.x_id}).content.decode()
    assert "Portugal crew" in export
    # The JSON export names it too (its "name"), as the HTML and Markdown ones title it.
    from exports import writers

    assert writers.conversation_json(Conversation.objects.get(pk=group.pk), 1)["name"] == (
        "Portugal crew"
    )
    # Removing it goes back to the archive's name.
    client.post(f"/c/{group.x_id}/name/", {"clear": "1", "name": ""})
    assert f"<h1>{LISBON_NAME}</h1>" in client.get(f"/c/{group.x_id}/").content.decode()


@pytest.mark.parametrize(
    "name, problem",
    [
        ("   ", "Type a name for the group"),
        ("x" * 101, "That name is 101 characters long; a group name can have up to 100."),
    ],
    ids=["empty", "too-long"],
)
def test_a_refused_group_name_says_why_on_the_open_form(demo, client, name, problem):
    group = lisbon(demo)
    response = client.post(f"/c/{group.x_id}/name/", {"name": name})
    assert response.status_code == 400
    page = response.content.decode()
    assert problem in page
    assert '<details class="jump-date group-name" open>' in page
    assert 'aria-invalid="true"' in page
    group.refresh_from_db()
    assert group.name == ""


def test_a_hostile_name_typed_by_the_owner_stays_text(demo, client):
    group = lisbon(demo)
    client.post(f"/c/{group.x_id}/name/", {"name": "<img src=x onerror=alert(1)>"})
    page = client.get(f"/c/{group.x_id}/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_renaming_is_a_post_with_csrf_for_the_owners_groups_only(sandbox, demo, client):
    group = lisbon(demo)
    assert client.get(f"/c/{group.x_id}/name/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(demo.user)
    assert strict.post(f"/c/{group.x_id}/name/", {"name": "Sneaky"}).status_code == 403
    one_to_one = Conversation.objects.filter(owner=demo.user, is_group=False).first()
    assert client.post(f"/c/{one_to_one.x_id}/name/", {"name": "x"}).status_code == 404
    with override_settings(**sandbox.urls):
        other = Client()
        sign_in(other, sandbox, "jonas_k")
    assert other.post(f"/c/{group.x_id}/name/", {"name": "Mine now"}).status_code == 404
    group.refresh_from_db()
    assert group.name == ""


def test_the_admin_titles_a_group_as_its_owner_sees_it(demo, rf):
    from django.contrib import admin

    from conversations.admin import ConversationAdmin

    model_admin = ConversationAdmin(Conversation, admin.site)
    request = rf.get("/admin/conversations/conversation/")
    row = model_admin.get_queryset(request).get(pk=lisbon(demo).pk)
    assert model_admin.title(row) == LISBON_NAME
    unnamed = model_admin.get_queryset(request).get(pk=conversation_of(demo, "ben_ortega").pk)
    assert model_admin.title(unnamed) == "Ben Ortega"


# Reactions -------------------------------------------------------------------------------------


def test_reactions_show_under_their_messages_with_counts_and_who(demo, client):
    reacted = [
        e
        for e in DmEvent.objects.filter(owner=demo.user, event_type="MessageCreate")
        .select_related("conversation")
        .order_by("-created_at")
        if reactions.raw_reactions(e)
    ]
    assert len(reacted) > 100
    # One inside X's 30 days (cached by the sync first, the archive's reactions added to it) and
    # one from older history.
    for event in (reacted[0], reacted[-1]):
        page = client.get(f"/c/{event.conversation.x_id}/", {"around": event.x_id}).content.decode()
        article = page[page.index(f'id="e{event.x_id}"') :]
        article = article[: article.index("</article>")]
        assert '<ul class="reactions" aria-label="Reactions">' in article
        assert "reacted with" in article
        given = reactions.raw_reactions(event)
        counts = Counter(r["reactionKey"] for r in given)
        for key, count in counts.items():
            assert f'{reactions.EMOJI[key]}</span> <span class="reaction-count">{count}<' in article
    assert reacted[0].x_id in demo.synced and reacted[0].raw.get("source") != "archive"


def test_an_html_export_keeps_the_reactions_and_the_groups_name(demo, client, settings):
    settings.MEDIA_CACHE_DIR = demo.media_dir
    group = Conversation.objects.get(owner=demo.user, archive_name="Book club 📚")
    reacted = [
        e
        for e in DmEvent.objects.filter(owner=demo.user, conversation=group)
        if reactions.raw_reactions(e)
    ]
    response = client.post(
        "/export/start/", {"format": "html", "conversation": group.x_id, "before": "", "after": ""}
    )
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as export:
        pages = [n for n in export.namelist() if f"/c/{group.x_id}/" in n]
        html = "".join(export.read(n).decode() for n in pages)
        index = export.read(next(n for n in export.namelist() if n.endswith("/index.html")))
    assert reacted and html.count('<ul class="reactions" aria-label="Reactions">') == len(reacted)
    assert "reacted with" in html and "<title>Book club 📚" in html
    assert "Book club 📚" in index.decode()


def test_a_reaction_is_labelled_in_words_and_a_hostile_key_stays_text():
    maya = XUser(x_id="1", name="Maya")
    ana = XUser(x_id="2", name="Ana Lima")
    event = DmEvent(
        raw={
            "archive": {
                "messageCreate": {
                    "reactions": [
                        {
                            "senderId": "2",
                            "reactionKey": "like",
                            "createdAt": "2024-01-01T00:00:01Z",
                        },
                        {
                            "senderId": "1",
                            "reactionKey": "like",
                            "createdAt": "2024-01-01T00:00:02Z",
                        },
                        {
                            "senderId": "2",
                            "reactionKey": "like",
                            "createdAt": "2024-01-01T00:00:03Z",
                        },
                        {"senderId": "3", "reactionKey": "<b>boo</b>", "createdAt": "2024-01-01"},
                        {"senderId": "2", "reactionKey": "🦄"},
                        {"senderId": 5, "reactionKey": "like"},
                        "junk",
                    ]
                }
            }
        }
    )
    found = reactions.reactions_of(event, {"1": maya, "2": ana}, me="1")
    assert [(r.emoji, r.count) for r in found] == [("🦄", 1), ("<b>boo</b>", 1), ("❤️", 2)]
    heart = next(r for r in found if r.key == "like")
    assert heart.label == "You and Ana Lima reacted with a heart"
    assert next(r for r in found if r.key == "<b>boo</b>").label == (
        "User 3 reacted with <b>boo</b>"
    )  # escaped by the template, as every text


# Archive media -----------------------------------------------------------------------------------


def test_imported_photos_are_served_from_the_media_storage_as_the_archive_had_them(
    demo, client, settings
):
    settings.MEDIA_CACHE_DIR = demo.media_dir
    photos = Media.objects.filter(owner=demo.user, type="photo", raw__has_key="archive_file")
    assert photos.count() > 100
    with zipfile.ZipFile(demo.archive) as archive:
        for item in photos.order_by("pk")[:3]:
            response = client.get(f"/media/{item.media_key}/full/")
            assert response.status_code == 200
            assert response["Content-Type"] == "image/jpeg"
            assert b"".join(response.streaming_content) == archive.read(item.raw["archive_file"])
    # Stored under the owner's prefix, named from the media key alone.
    stored = {p.name for p in (demo.media_dir / str(demo.user.pk)).iterdir()}
    assert media.archive_file_name(demo.user.pk, photos.first().media_key).split("/")[1] in stored
    # Photos a sync cached first got the archive's file too; no photo is left without a message.
    assert photos.exclude(media_key__startswith="a_").exists()
    assert not Media.objects.filter(owner=demo.user, events=None).exists()
    # The link X appends for a photo is not shown as a link: the photo stands for it.
    event = photos.filter(media_key__startswith="a_").first().events.first()
    page = client.get(f"/c/{event.conversation.x_id}/", {"around": event.x_id}).content.decode()
    article = page[page.index(f'id="e{event.x_id}"') :]
    assert "pic.x.com" not in article[: article.index("</article>")]


def archive_with_media(tmp_path, files: dict[str, bytes], urls: list[str]) -> Path:
    when = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    event_id = af.snowflake(when, 1)
    convo = af.Conversation(f"{af.OWNER_ID}-1400000000000000777", False)
    convo.messages = [
        af.message_create(
            event_id,
            "1400000000000000777",
            when,
            "look",
            recipient_id=af.OWNER_ID,
            media_urls=[u.format(id=event_id) for u in urls],
        )
    ]
    convo.media = {name.format(id=event_id): data for name, data in files.items()}
    return af.write_archive(tmp_path / "media.zip", [convo]).path


def test_an_oversized_or_unreadable_media_file_is_refused_and_the_rest_imported(
    tmp_path, settings, monkeypatch
):
    from django.contrib.auth import get_user_model

    settings.MEDIA_CACHE_DIR = tmp_path / "media"
    owner = get_user_model().objects.create_user("maya")
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 2000
    path = archive_with_media(
        tmp_path,
        {
            "{id}-big.jpg": jpeg * 3,
            "{id}-script.jpg": b"<script>alert(1)</script>",
            "{id}-ok.jpg": jpeg,
        },
        [
            "https://ton.twitter.com/1.1/ton/data/dm/{id}/1/big.jpg",
            "https://ton.twitter.com/1.1/ton/data/dm/{id}/2/script.jpg",
            "https://ton.twitter.com/1.1/ton/data/dm/{id}/3/ok.jpg",
        ],
    )
    monkeypatch.setattr(media, "MAX_MEDIA_BYTES", 5000)
    monkeypatch.setattr(media.store_archive_file, "__kwdefaults__", {"max_bytes": 5000})
    with open_archive(path) as archive:
        imported = importing.import_archive(owner.pk, archive)
    assert imported.new == 1 and imported.media_files == 1
    assert len(imported.problems) == 2 and all("was not imported" in p for p in imported.problems)
    stored = list((tmp_path / "media" / str(owner.pk)).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == b"image/jpeg\n" + jpeg
    # Nothing else was written anywhere under the storage.
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == stored


def test_a_damaged_media_file_costs_that_file_not_the_import(tmp_path, settings):
    from django.contrib.auth import get_user_model

    settings.MEDIA_CACHE_DIR = tmp_path / "media"
    owner = get_user_model().objects.create_user("maya")
    jpeg = b"\xff\xd8\xff\xe0" + b"DAMAGEDPHOTO" * 50
    path = archive_with_media(
        tmp_path, {"{id}-bad.jpg": jpeg}, ["https://ton.twitter.com/1.1/ton/data/dm/{id}/1/bad.jpg"]
    )
    raw = path.read_bytes()
    at = raw.index(b"DAMAGEDPHOTO")  # stored, not deflated: flip a byte, the CRC no longer fits
    path.write_bytes(raw[:at] + b"X" + raw[at + 1 :])
    with open_archive(path) as archive:
        imported = importing.import_archive(owner.pk, archive)
    assert imported.new == 1 and imported.media_files == 0
    assert len(imported.problems) == 1 and "damaged" in imported.problems[0]


def test_an_archive_whose_media_names_climb_out_of_their_folder_is_refused_whole(tmp_path):
    from conversations.archive import ArchiveError

    target = tmp_path / "slip.zip"
    good = archive_with_media(tmp_path, {"{id}-ok.jpg": b"\xff\xd8\xff"}, [])
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        out.writestr("data/direct_messages_media/../../../../tmp/evil.jpg", b"\xff\xd8\xff")
    with pytest.raises(ArchiveError, match="could lead out of its folder"):
        open_archive(target)


# X's GET /2/users?ids= ----------------------------------------------------------------------------


@pytest.fixture
def token(sandbox) -> str:
    return sandbox.token("maya_reads")["access_token"]


def test_the_sandbox_answers_a_users_lookup_as_x_does(sandbox, token):
    from tests.test_sandbox_contract import assert_matches_spec

    truth = {u["username"]: u for u in sandbox.admin("GET", "truth/maya_reads")["users"]}
    theo, gone = truth["theo_park"], next(u for u in truth.values() if u["gone"])
    ids = f"{theo['id']},1400000000000000999,{gone['id']},{theo['id']}"

    def get(params, auth=True):
        headers = {"Authorization": f"Bearer {token}"} if auth else {}
        return requests.get(
            f"{sandbox.base_url}/2/users", params=params, headers=headers, timeout=10
        )

    found = get({"ids": ids, "user.fields": "profile_image_url,created_at"})
    assert found.status_code == 200
    body = assert_matches_spec(found, "/2/users")
    assert [u["username"] for u in body["data"]] == ["theo_park"]
    assert "profile_image_url" in body["data"][0]
    problems = {e["resource_id"]: e for e in body["errors"]}
    assert problems["1400000000000000999"]["title"] == "Not Found Error"
    assert problems["1400000000000000999"]["detail"] == (
        "Could not find user with ids: [1400000000000000999]."
    )
    assert problems[gone["id"]]["detail"] == f"User has been suspended: [{gone['id']}]."

    nobody = get({"ids": "1400000000000000999"})
    assert "data" not in assert_matches_spec(nobody, "/2/users")
    for params in ({}, {"ids": "12,abc"}, {"ids": ",".join(["12"] * 101)}, {"ids": "1", "x": "y"}):
        refused = get(params)
        assert refused.status_code == 400, params
        assert assert_matches_spec(refused, "/2/users")["title"] == "Invalid Request"
    assert get({"ids": "12"}, auth=False).status_code == 401


def test_the_client_asks_100_ids_a_request_and_marks_who_x_cannot_find(
    sandbox, settings, token, monkeypatch
):
    from django.contrib.auth import get_user_model

    for name, value in sandbox.urls.items():
        setattr(settings, name, value)
    owner = get_user_model().objects.create_user("maya")
    XAccount.objects.create(user=owner, x_user_id="1400000000000000555", username="someone")
    truth = sandbox.admin("GET", "truth/maya_reads")["users"]
    real = [u["id"] for u in truth if not u["gone"]][:30]
    made_up = [str(1400000000000001000 + n) for n in range(150)]
    XUser.objects.bulk_create(XUser(owner=owner, x_id=x) for x in [*real, *made_up])
    monkeypatch.setattr(xauth, "fresh_access_token", lambda *args, **kwargs: token)
    asked = []
    get_users = xapi.get_users

    def counting(**kwargs):
        asked.append(len(kwargs["ids"]))
        return get_users(**kwargs)

    monkeypatch.setattr(xapi, "get_users", counting)
    resolved = sync.resolve_unknown_users(owner.pk)
    assert asked == [100, 80]
    assert (resolved.found, resolved.gone, resolved.left, resolved.error) == (30, 150, 0, "")
    assert XUser.objects.filter(owner=owner, x_id__in=real, username="").count() == 0
    assert XUser.objects.filter(owner=owner, x_id__in=made_up, unavailable=True).count() == 150
    with pytest.raises(ValueError):
        xapi.get_users(token=token, ids=[str(n) for n in range(101)])


def test_the_sandboxs_archive_is_an_x_archive_of_that_account_only(sandbox, demo):
    with open_archive(demo.archive, expected_x_user_id=demo.x_id) as archive:
        assert archive.manifest.username == "maya_reads"
        kinds = Counter(event.event_type for event in archive.events())
        assert kinds["ConversationNameUpdate"] >= 5 and kinds["JoinConversation"] >= 1
        assert len(archive.media_names) > 400
    assert (
        requests.get(f"{sandbox.base_url}/archives/nobody_here.zip", timeout=10).status_code == 404
    )
    light = requests.get(f"{sandbox.base_url}/archives/jonas_k.zip?media=0", timeout=120)
    with zipfile.ZipFile(io.BytesIO(light.content)) as jonas:
        names = jonas.namelist()
        assert "data/manifest.js" in names and not [n for n in names if "_media/" in n]
        assert '"userName" : "jonas_k"' in jonas.read("data/manifest.js").decode()
