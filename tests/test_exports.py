"""Exports over HTTP and from the shell: maya and jonas sign in through the sandbox and sync once
for the module; each test exports, then reads the file as a person (or another tool) would.
The HTML export in a real browser is in tests/browser/test_export_browser.py."""

import csv
import io
import json
import os
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations import linkcards, search
from conversations.models import Conversation, DmEvent, Media, XUser
from dmreader import housekeeping, leaving
from exports import files, tasks, views
from exports.models import Export
from tests.sandbox import Sandbox
from tests.signin_helpers import Reader, flushed_after, synced_reader

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "docs" / "export-schema.json").read_text())
THEO = "2893011764-1432706037263519745"  # maya and theo_park: 2,000+ events
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def media_cache(tmp_path_factory) -> Path:
    """One media cache for the module: the sandbox takes about half a second to make each photo
    or video, and the HTML exports copy the same ones."""
    return tmp_path_factory.mktemp("export-media-cache")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """Its own, with room: the run's shared sandbox may have spent maya's rate limit already."""
    server = Sandbox(
        tmp_path_factory.mktemp("exports-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def readers(sandbox, django_db_setup, django_db_blocker, media_cache) -> dict[str, Reader]:
    """maya_reads and jonas_k, signed in and synced once, committed for the module."""
    with flushed_after(django_db_blocker):
        with (
            django_db_blocker.unblock(),
            override_settings(**sandbox.urls, MEDIA_CACHE_DIR=media_cache),
        ):
            found = {u: synced_reader(sandbox, u) for u in ("maya_reads", "jonas_k")}
        yield found


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path, media_cache):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.MEDIA_CACHE_DIR = media_cache


@pytest.fixture
def maya(readers, sandbox) -> Reader:
    return readers["maya_reads"]


@pytest.fixture
def jonas(readers, sandbox) -> Reader:
    return readers["jonas_k"]


def conversation_with(reader: Reader, username: str) -> Conversation:
    return Conversation.objects.get(
        owner=reader.user, is_group=False, participants__username=username
    )


def ids_in(owner, **filters) -> list[str]:
    events = DmEvent.objects.filter(owner=owner, **filters).order_by("created_at", "sort_id")
    return list(events.values_list("x_id", flat=True))


def streamed(response) -> bytes:
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content)


def export_at_once(reader: Reader, **form) -> bytes:
    response = reader.client.post("/export/start/", form)
    assert "attachment;" in response["Content-Disposition"]
    return streamed(response)


def export_in_background(reader: Reader, **form) -> Export:
    """Ask for an export larger than a download at once; run the worker's task; return it."""
    response = reader.client.post("/export/start/", form)
    assert response.status_code == 302, response.content[:500]
    export = Export.objects.get(owner=reader.user, token=response["Location"].split("/")[-2])
    assert export.status == Export.QUEUED
    assert files.build(export.pk) == Export.DONE
    export.refresh_from_db()
    return export


def searched_ids(owner, raw: str, conversation=None) -> list[str]:
    found, cursor = [], ""
    while True:
        page = search.run(owner, search.parse(raw), cursor=cursor, conversation=conversation)
        found += [r.event.x_id for r in page.results]
        if not page.cursor:
            return found
        cursor = page.cursor


# JSON ---------------------------------------------------------------------------------------


def test_a_json_export_of_the_whole_account_runs_in_the_background_and_holds_all_of_it_once(
    maya, jonas, monkeypatch
):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 1000)
    export = export_in_background(maya, format="json")
    download = maya.client.get(f"/export/{export.token}/download/")
    data = json.loads(streamed(download))

    jsonschema.validate(data, SCHEMA)
    assert data["format"] == "dmreader-export" and data["version"] == 1
    assert data["account"] == {"id": maya.x_id, "username": "maya_reads", "name": "Maya Okafor"}
    assert data["scope"] == {"conversations": [], "after": None, "before": None, "query": ""}
    exported = [e["id"] for e in data["events"]]
    assert sorted(exported, key=int) == sorted(ids_in(maya.user), key=int)
    assert len(exported) == len(set(exported)) > 1000
    assert export.events_done == export.events_total == len(exported)
    # Users, media and posts once each, and every reference resolves.
    users = {u["id"] for u in data["users"]}
    media = {m["media_key"] for m in data["media"]}
    posts = {p["id"] for p in data["posts"]}
    assert len(users) == len(data["users"]) and len(media) == len(data["media"])
    for event in data["events"]:
        assert set(event["media_keys"]) <= media and set(event["post_ids"]) <= posts
        assert event["sender_id"] is None or event["sender_id"] in users
        assert event["raw"]["id"] == event["id"]
    assert media == set(Media.objects.filter(owner=maya.user).values_list("media_key", flat=True))
    conversations = {c["id"] for c in data["conversations"]}
    assert conversations == {e["conversation_id"] for e in data["events"]}
    # Ids are strings, times ISO 8601 in UTC.
    first = data["events"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["created_at"])
    # Nothing of jonas's own copy: every user is one of maya's cached users.
    assert users <= set(XUser.objects.filter(owner=maya.user).values_list("x_id", flat=True))


def test_a_search_scoped_json_export_holds_exactly_what_the_search_finds(maya):
    raw = "has:photo"
    data = json.loads(export_at_once(maya, format="json", q=raw))
    jsonschema.validate(data, SCHEMA)
    found = searched_ids(maya.user, raw)
    assert found
    assert sorted(e["id"] for e in data["events"]) == sorted(found)
    assert data["scope"]["query"] == raw


def test_a_search_within_a_conversation_exports_only_that_conversation_s_results(maya):
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    data = json.loads(export_at_once(maya, format="json", q="dinner", **{"in": THEO}))
    found = searched_ids(maya.user, "dinner", conversation=theo)
    assert found and sorted(e["id"] for e in data["events"]) == sorted(found)
    assert {e["conversation_id"] for e in data["events"]} == {THEO}


# CSV and Markdown ----------------------------------------------------------------------------


def test_a_csv_export_of_a_conversation_has_one_row_per_event_oldest_first(maya):
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    body = export_at_once(maya, format="csv", conversation=THEO)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["event_id"] for r in rows] == ids_in(maya.user, conversation=theo)
    assert {r["conversation_id"] for r in rows} == {THEO}
    photo = next(r for r in rows if "photo:" in r["media"])
    assert photo["sender_username"] in ("maya_reads", "theo_park")


def test_a_date_range_exports_only_the_events_between_the_days(maya):
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    newest = DmEvent.objects.filter(conversation=theo).latest("created_at").created_at
    after = (timezone.localtime(newest) - timedelta(days=8)).date()
    before = (timezone.localtime(newest) - timedelta(days=2)).date()
    body = export_at_once(
        maya, format="csv", conversation=THEO, after=after.isoformat(), before=before.isoformat()
    )
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    expected = [
        e.x_id
        for e in DmEvent.objects.filter(conversation=theo).order_by("created_at", "sort_id")
        if after < timezone.localtime(e.created_at).date() < before
    ]
    assert expected and [r["event_id"] for r in rows] == expected


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_kept_as_text(maya):
    pia = conversation_with(maya, "security_pia")
    body = export_at_once(maya, format="csv", conversation=pia.x_id)
    texts = [r["text"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))]
    assert '<script>alert("dm")</script>' in texts
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@")]


def test_a_markdown_export_of_a_search_holds_its_results_with_hostile_text_escaped(maya):
    pia = conversation_with(maya, "security_pia")
    body = export_at_once(maya, format="md", conversation=pia.x_id).decode()
    assert body.startswith("# Direct Messages of @maya\\_reads")
    assert "<script>" not in body and '\\<script\\>alert("dm")\\</script\\>' in body
    assert "\\<img src=x onerror=alert(1)\\>" in body
    messages = re.findall(r"^\*\*.+\*\* .+ · \d\d:\d\d  $", body, re.MULTILINE)
    assert (
        len(messages)
        == DmEvent.objects.filter(conversation=pia, event_type=DmEvent.MESSAGE_CREATE).count()
    )

    found = searched_ids(maya.user, "from:me dinner")
    body = export_at_once(maya, format="md", q="from:me dinner").decode()
    messages = re.findall(r"^\*\*Maya Okafor\*\* @maya\\_reads · \d\d:\d\d  $", body, re.MULTILINE)
    assert found and len(messages) == len(found)


# HTML ---------------------------------------------------------------------------------------


def test_an_html_export_is_a_zip_of_pages_that_load_nothing_but_their_own_files(maya):
    body = export_at_once(maya, format="html", conversation=THEO)
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = archive.namelist()
    root = names[0].split("/")[0]
    assert root.startswith("dm-export-maya_reads-")
    pages = sorted(n for n in names if re.fullmatch(rf"{root}/c/{THEO}/\d+\.html", n))
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    expected = ids_in(maya.user, conversation=theo)
    assert len(pages) == -(-len(expected) // 2000) >= 2
    seen = []
    for number in range(1, len(pages) + 1):
        page = archive.read(f"{root}/c/{THEO}/{number}.html").decode()
        assert "default-src 'none'" in page and "<script" not in page
        seen += re.findall(r'<(?:article|li)\b[^>]*\bid="e(\d+)"', page)
        assert (f'href="{number + 1}.html"' in page) == (number < len(pages))
        assert (f'href="{number - 1}.html"' in page) == (number > 1)
        # What a page loads is in the export; links go to its pages, its files or the web.
        for src in re.findall(r'(?:src|poster)="([^"]+)"', page):
            assert src.startswith("../../") and f"{root}/{src[6:]}" in names, src
        for href in re.findall(r'href="([^"]+)"', page):
            if href.startswith("../../"):
                assert f"{root}/{href[6:]}" in names, href
            elif not href.startswith(("https://", "http://")):
                assert f"{root}/c/{THEO}/{href}" in names, href
    assert seen == expected
    assert any(n.startswith(f"{root}/media/") for n in names)
    with_cards = [e for e in DmEvent.objects.filter(conversation=theo) if linkcards.cards(e)]
    every_page = "".join(archive.read(p).decode() for p in pages)
    assert with_cards
    assert every_page.count('class="link-card"') == sum(len(linkcards.cards(e)) for e in with_cards)
    assert f"{root}/index.html" in names and f"{root}/export.css" in names


def test_hostile_text_stays_text_in_the_html_export(maya):
    pia = conversation_with(maya, "security_pia")
    archive = zipfile.ZipFile(
        io.BytesIO(export_at_once(maya, format="html", conversation=pia.x_id))
    )
    page = next(archive.read(n) for n in archive.namelist() if n.endswith("/1.html")).decode()
    assert "&lt;script&gt;alert(&quot;dm&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "<img src=x" not in page


# Background exports, ownership, expiry ---------------------------------------------------------


def test_a_big_export_shows_its_progress_then_a_download_link(maya, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    response = maya.client.post("/export/start/", {"format": "csv", "conversation": THEO})
    assert response.status_code == 302
    page = maya.client.get(response["Location"])
    assert b'hx-trigger="every 2s"' in page.content and b"Waiting for the worker" in page.content
    export = Export.objects.get(owner=maya.user)
    files.build(export.pk)
    status = maya.client.get(response["Location"], headers=HX)
    assert "HX-Request" in status["Vary"]
    assert b"every 2s" not in status.content
    assert f'href="/export/{export.token}/download/"'.encode() in status.content
    listing = maya.client.get("/export/").content.decode()
    assert f"/export/{export.token}/" in listing


def test_the_worker_runs_a_queued_export(maya, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    with django_capture_on_commit_callbacks(execute=True):
        response = maya.client.post("/export/start/", {"format": "md", "conversation": THEO})
    export = Export.objects.get(owner=maya.user, token=response["Location"].split("/")[-2])
    queued = DBTaskResult.objects.filter(task_path=tasks.TASK, args_kwargs__args__0=export.pk)
    assert queued.count() == 2  # the task, and its check-back for when a lease would run out
    assert tasks.build_export.call(export.pk) == Export.DONE  # as the worker runs it
    export.refresh_from_db()
    assert export.status == Export.DONE
    assert files.path_of(export).read_text().startswith("# Direct Messages of @maya\\_reads")


def test_another_account_can_neither_list_download_nor_delete_an_export(maya, jonas, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    export = export_in_background(maya, format="csv", conversation=THEO)
    for url in (f"/export/{export.token}/", f"/export/{export.token}/download/"):
        assert jonas.client.get(url).status_code == 404
    assert jonas.client.post(f"/export/{export.token}/delete/").status_code == 404
    assert export.token not in jonas.client.get("/export/").content.decode()
    assert maya.client.get(f"/export/{export.token}/download/").status_code == 200
    assert Client().get(f"/export/{export.token}/download/").status_code == 302  # sign in first


def test_a_conversation_of_another_account_is_no_scope(maya, jonas):
    mine = conversation_with(maya, "security_pia")
    response = jonas.client.post("/export/start/", {"format": "json", "conversation": mine.x_id})
    assert response.status_code == 404
    assert jonas.client.get("/export/", {"conversation": mine.x_id}).status_code == 404


def test_a_deleted_export_is_gone_with_its_file(maya, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    export = export_in_background(maya, format="csv", conversation=THEO)
    path = files.path_of(export)
    assert path.exists() and len(export.token) >= 40
    assert maya.client.post(f"/export/{export.token}/delete/").status_code == 302
    assert not path.exists() and not Export.objects.filter(pk=export.pk).exists()
    assert maya.client.get(f"/export/{export.token}/download/").status_code == 404


def test_expired_exports_are_not_served_and_are_removed(maya, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    export = export_in_background(maya, format="csv", conversation=THEO)
    assert abs(export.expires_at - export.created_at - timedelta(days=7)) < timedelta(minutes=1)
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert maya.client.get(f"/export/{export.token}/download/").status_code == 404
    assert export.token not in maya.client.get("/export/").content.decode()
    assert files.remove_expired() == 1
    assert not files.path_of(export).exists() and not Export.objects.filter(pk=export.pk).exists()


def test_the_export_page_takes_the_conversation_header_s_and_the_search_page_s_links(maya):
    page = maya.client.get("/export/", {"conversation": THEO}).content.decode()
    assert f'name="conversation" value="{THEO}" checked' in page and "Theo Park" in page
    page = maya.client.get("/export/", {"q": "from:@theo_park <b>", "in": THEO}).content.decode()
    assert 'value="from:@theo_park &lt;b&gt;"' in page
    assert f'name="conversation" value="{THEO}" checked' in page


def test_a_search_the_search_box_would_refuse_is_explained(maya):
    response = maya.client.post("/export/start/", {"format": "json", "q": 'has:sound "open'})
    assert response.status_code == 400
    assert "A quote is not closed" in response.content.decode()


# The command line ---------------------------------------------------------------------------


def test_exportdms_writes_a_file_with_a_progress_line(maya, tmp_path, capsys):
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    target = tmp_path / "theo.csv"
    call_command(
        "exportdms",
        "--account",
        "@maya_reads",
        "--format",
        "csv",
        "--conversation",
        THEO,
        "-o",
        str(target),
    )
    out = capsys.readouterr().out
    total = len(ids_in(maya.user, conversation=theo))
    assert f"100%  {total:,} of {total:,} events" in out
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8-sig"))))
    assert [r["event_id"] for r in rows] == ids_in(maya.user, conversation=theo)


def test_exportdms_writes_an_html_folder_that_opens_at_its_index(maya, tmp_path):
    pia = conversation_with(maya, "security_pia")
    call_command(
        "exportdms",
        "--account=maya_reads",
        "--format=html",
        f"--conversation={pia.x_id}",
        "--query=alert",
        "-o",
        str(tmp_path / "out"),
    )
    (root,) = (tmp_path / "out").iterdir()
    index = (root / "index.html").read_text()
    assert f'href="c/{pia.x_id}/1.html"' in index
    page = (root / "c" / pia.x_id / "1.html").read_text()
    found = searched_ids(maya.user, "alert", conversation=pia)
    assert sorted(re.findall(r'<article\b[^>]*\bid="e(\d+)"', page)) == sorted(found)


def test_exportdms_refuses_an_unknown_account_and_a_bad_date(maya, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account @nobody"):
        call_command("exportdms", "--account=nobody", "--format=json", "-o", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "exportdms",
            "--account=maya_reads",
            "--format=json",
            "--after=yesterday",
            "-o",
            str(tmp_path / "x"),
        )


# A worker killed mid-export, housekeeping, leaving ---------------------------------------------


def test_an_export_whose_worker_is_killed_is_written_anew_by_the_check_back(maya, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    response = maya.client.post("/export/start/", {"format": "csv", "conversation": THEO})
    export = Export.objects.get(owner=maya.user, token=response["Location"].split("/")[-2])
    real_chunks = files.chunks

    def killed_after_a_chunk(job, export_format):
        chunks = real_chunks(job, export_format)
        yield next(chunks)
        raise SystemExit("killed")  # as a SIGKILL: none of build's handlers runs

    monkeypatch.setattr(files, "chunks", killed_after_a_chunk)
    with pytest.raises(SystemExit):
        tasks.build_export.call(export.pk)
    export.refresh_from_db()
    assert (export.status, export.attempts) == (Export.RUNNING, 1)
    assert export.lease_until > timezone.now()
    assert tasks.build_export.call(export.pk) == "busy"  # the lease still holds
    assert "Interrupted" not in maya.client.get(f"/export/{export.token}/").content.decode()
    check_back = DBTaskResult.objects.filter(task_path=tasks.TASK, status="READY")
    assert check_back.exists()

    monkeypatch.setattr(files, "chunks", real_chunks)
    Export.objects.filter(pk=export.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    page = maya.client.get(f"/export/{export.token}/").content.decode()
    assert "Interrupted; another worker starts it again by itself" in page
    assert tasks.build_export.call(export.pk) == Export.DONE

    export.refresh_from_db()
    assert (export.status, export.attempts, export.lease_until) == (Export.DONE, 2, None)
    theo = Conversation.objects.get(owner=maya.user, x_id=THEO)
    rows = list(csv.DictReader(io.StringIO(files.path_of(export).read_text("utf-8-sig"))))
    assert [r["event_id"] for r in rows] == ids_in(maya.user, conversation=theo)
    assert [p.name for p in files.exports_dir().iterdir()] == [files.path_of(export).name]


def test_housekeeping_removes_exports_a_week_old_and_files_no_export_names(maya, monkeypatch):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 10)
    old = export_in_background(maya, format="csv", conversation=THEO)
    kept = export_in_background(maya, format="md", conversation=THEO)
    Export.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    stray = files.exports_dir() / "left-by-a-killed-run.csv.partial-1"
    stray.write_bytes(b"half")
    recent_stray = files.exports_dir() / "just-now.csv.partial-1"
    recent_stray.write_bytes(b"half")
    week_ago = (timezone.now() - timedelta(days=8)).timestamp()
    os.utime(stray, (week_ago, week_ago))

    assert housekeeping.Clock().tick()  # what the scheduler does every hour

    assert not Export.objects.filter(pk=old.pk).exists() and not files.path_of(old).exists()
    assert files.path_of(kept).exists() and not stray.exists() and recent_stray.exists()


def test_a_person_leaving_takes_their_exports_and_files_with_them(settings):
    person = get_user_model().objects.create_user("leaving")
    export = Export.objects.create(owner=person, format=Export.CSV, status=Export.DONE)
    path = files.path_of(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("conversation_id\r\n")

    leaving.erase_user(person.pk)

    assert not Export.objects.filter(pk=export.pk).exists() and not path.exists()
