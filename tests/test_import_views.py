"""The Import page (issue 10 §3, from the web): an upload streamed to IMPORT_DIR, imported by the
worker with progress, resumed after a worker dies, closing the history gaps it covers, and every
bad archive refused with its message on the job's page and the cache as it was. No X here: the
account is made directly and the cache seeded through the store."""

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from conversations import import_jobs, importing, tasks
from conversations.models import Conversation, DmEvent, HistoryGap, ImportJob
from conversations.sync import Progress, store_page
from dmreader.models import XAccount
from tests import archive_factory as af

pytestmark = pytest.mark.django_db

ME, ANA = af.OWNER_ID, "1400000000000000777"
ONE_TO_ONE = f"{ME}-{ANA}"
OLD = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
RECENT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # before the archives are made (now)
SYNCED_ID = af.snowflake(RECENT)


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


def make_reader(username: str, x_id: str) -> tuple[Client, object]:
    owner = get_user_model().objects.create_user(username)
    XAccount.objects.create(user=owner, x_user_id=x_id, username=username, name=username)
    client = Client()
    client.force_login(owner)
    return client, owner


@pytest.fixture
def maya():
    """maya_reads with one message synced from X's 30 days, in her one-to-one with Ana."""
    client, owner = make_reader(af.OWNER_USERNAME, ME)
    page = {
        "data": [
            {
                "id": SYNCED_ID,
                "event_type": "MessageCreate",
                "text": "synced from X",
                "sender_id": ANA,
                "dm_conversation_id": ONE_TO_ONE,
                "created_at": af.iso(RECENT),
            }
        ]
    }
    store_page(owner.pk, page, progress=Progress())
    return client, owner


def history(messages: int = 60) -> af.Conversation:
    """Maya and Ana's older history, as the archive has it (newest first), with the message
    X's API gave too."""
    conversation = af.Conversation(ONE_TO_ONE, False)
    conversation.messages = [
        af.message_create(SYNCED_ID, ANA, RECENT, "synced from X", recipient_id=ME),
        *[
            af.message_create(
                af.snowflake(OLD + timedelta(minutes=m), m),
                ANA if m % 2 else ME,
                OLD + timedelta(minutes=m),
                f"old message {m}",
                recipient_id=ME if m % 2 else ANA,
            )
            for m in range(messages, 0, -1)
        ],
    ]
    return conversation


def group() -> af.Conversation:
    conversation = af.Conversation(af.snowflake(OLD, 50), True)
    conversation.messages = [
        af.message_create(af.snowflake(OLD + timedelta(hours=2), 51), ANA,
                          OLD + timedelta(hours=2), "who's in for Lisbon?"),
        af.conversation_name_update(ANA, "Lisbon trip", OLD + timedelta(hours=1)),
        af.join_conversation(ANA, [ME, ANA], OLD),
    ]  # fmt: skip
    return conversation


def write(tmp_path, **options) -> af.WrittenArchive:
    return af.write_archive(tmp_path / "archive.zip", [history()], [group()], **options)


def upload(client: Client, *files: tuple[str, bytes]):
    uploaded = []
    for name, content in files:
        file = io.BytesIO(content)
        file.name = name
        uploaded.append(file)
    return client.post("/import/upload/", {"archive": uploaded})


def upload_and_run(client: Client, archive_path, name="archive.zip") -> ImportJob:
    response = upload(client, (name, archive_path.read_bytes()))
    assert response.status_code == 302, response.content.decode()[:500]
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    import_jobs.run(job.pk)
    job.refresh_from_db()
    return job


def snapshot(owner) -> dict:
    return {
        e.x_id: (e.text, e.event_type, e.conversation.x_id, e.created_at)
        for e in DmEvent.objects.filter(owner=owner).select_related("conversation")
    }


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def run_due_tasks() -> None:
    """What `manage.py db_worker --batch` does, in this process."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


# --- An import, start to end -------------------------------------------------------------------


def test_the_inbox_links_to_the_import_page_which_asks_for_this_account_s_archive(maya):
    client, _ = maya
    assert 'href="/import/"' in client.get("/").content.decode()
    page = client.get("/import/").content.decode()
    assert "The archive of @maya_reads" in page
    assert 'enctype="multipart/form-data"' in page


@pytest.mark.django_db(transaction=True)  # the worker closes its connection as it ends
def test_an_upload_is_imported_by_the_worker_and_its_file_deleted(
    maya, tmp_path, import_dir, django_capture_on_commit_callbacks
):
    client, owner = maya
    written = write(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, ("archive.zip", written.path.read_bytes()))
    job = ImportJob.objects.get(owner=owner)
    assert response["Location"] == f"/import/{job.pk}/"
    assert job.status == ImportJob.QUEUED
    assert (import_dir / job.path).is_file()  # under the owner's own folder
    assert job.path.startswith(f"{owner.pk}/upload-")
    queued = client.get(f"/import/{job.pk}/").content.decode()
    assert "Waiting for the worker" in queued and 'hx-trigger="every 1s"' in queued

    run_due_tasks()  # the worker

    job.refresh_from_db()
    assert job.status == ImportJob.DONE, job.error
    assert (job.messages_done, job.messages_total) == (written.events, written.events)
    assert (job.conversations_done, job.conversations_total) == (2, 2)
    assert job.messages_new == written.events - 1  # the synced message was there already
    assert not any(import_dir.rglob("*.zip")) and job.path == ""
    xids = list(DmEvent.objects.filter(owner=owner).values_list("x_id", flat=True))
    assert len(xids) == len(set(xids)) == written.events
    done = client.get(f"/import/{job.pk}/", headers={"HX-Request": "true"})
    fragment = done.content.decode()
    assert fragment.lstrip().startswith('<section id="import-progress"')  # the partial alone
    assert "hx-trigger" not in fragment  # polling stops
    assert f"Imported {written.events} messages from 2 conversations" in text_of(fragment)
    assert 'href="/"' in fragment  # on to the inbox
    assert "HX-Request" in done["Vary"]
    # The older history reads and searches like the rest.
    assert "old message 60" in client.get(f"/c/{ONE_TO_ONE}/").content.decode()
    assert "old message 3" in client.get("/search/", {"q": '"old message 3"'}).content.decode()


def test_the_data_files_chosen_together_import_like_the_zip(maya, tmp_path):
    client, owner = maya
    folder = af.write_archive(tmp_path / "unpacked", [history()], [group()], as_folder=True).path
    data = folder / "data"
    files = [
        (p.name, p.read_bytes())
        for p in sorted(data.glob("*.js"))
        if p.name == "manifest.js" or p.name.startswith("direct-messages")
    ]
    response = upload(client, *files)
    job = ImportJob.objects.get(owner=owner)
    assert response.status_code == 302
    assert import_jobs.run(job.pk) == ImportJob.DONE
    assert DmEvent.objects.filter(owner=owner).count() == 64


def test_the_progress_partial_shows_messages_conversations_and_time_left(maya):
    client, owner = maya
    job = ImportJob.objects.create(
        owner=owner,
        file_name="archive.zip",
        status=ImportJob.IMPORTING,
        messages_done=500,
        messages_total=2000,
        conversations_done=3,
        conversations_total=12,
        run_started_at=datetime.now(UTC) - timedelta(seconds=60),
        run_started_done=0,
        lease_until=datetime.now(UTC) + timedelta(seconds=60),
    )
    fragment = client.get(f"/import/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "Importing: 500 of 2000 messages · 3 of 12 conversations" in fragment
    assert 'value="25"' in fragment
    assert "about 3 minutes left" in fragment  # 1,500 more at 500 a minute
    assert 'hx-trigger="every 1s"' in fragment
    ImportJob.objects.filter(pk=job.pk).update(lease_until=datetime.now(UTC) - timedelta(1))
    fragment = client.get(f"/import/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "Interrupted; resuming by itself" in fragment


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_dies_mid_import_is_resumed_by_its_check_back(
    maya, tmp_path, monkeypatch, settings
):
    client, owner = maya
    monkeypatch.setattr(importing, "BATCH", 20)
    written = write(tmp_path)
    response = upload(client, ("archive.zip", written.path.read_bytes()))
    job = ImportJob.objects.get(owner=owner)
    assert response.status_code == 302
    # The import, and its check-back should a worker die between claiming it and the lease.
    assert DBTaskResult.objects.filter(task_path=tasks.IMPORT_TASK, status="READY").count() == 2
    store_batch, calls = importing.store_batch, []

    def dies_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("killed")  # as a SIGKILL: none of the runner's handlers runs
        store_batch(*args, **kwargs)

    monkeypatch.setattr(importing, "store_batch", dies_on_the_third_batch)
    run_due_tasks()  # the worker takes the import queued by the upload, and its run dies
    job.refresh_from_db()
    assert (job.status, job.messages_done) == (ImportJob.IMPORTING, 40)  # two batches committed
    assert DmEvent.objects.filter(owner=owner).count() == 40  # the synced one among them
    check_back = DBTaskResult.objects.get(task_path=tasks.IMPORT_TASK, status="READY")

    # The lease runs out; the check-back comes due and resumes where it stopped.
    monkeypatch.setattr(importing, "store_batch", store_batch)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=datetime.now(UTC) - timedelta(1))
    DBTaskResult.objects.filter(pk=check_back.pk).update(run_after=datetime.now(UTC))
    run_due_tasks()

    job.refresh_from_db()
    assert job.status == ImportJob.DONE and job.attempts == 2
    assert job.messages_done == written.events
    assert job.messages_new == written.events - 1
    xids = list(DmEvent.objects.filter(owner=owner).values_list("x_id", flat=True))
    assert len(xids) == len(set(xids)) == written.events


def test_an_import_closes_the_gaps_it_covers_and_the_gap_line_links_to_import(maya, tmp_path):
    client, owner = maya
    conversation = Conversation.objects.get(owner=owner, x_id=ONE_TO_ONE)
    covered = HistoryGap.objects.create(
        owner=owner, conversation=conversation, after_at=OLD, before_at=RECENT
    )
    HistoryGap.objects.create(owner=owner, after_at=OLD, before_at=RECENT)  # the inbox's
    later = timezone.now() + timedelta(days=1)  # after the archive was made: not covered
    HistoryGap.objects.create(owner=owner, after_at=later, before_at=later + timedelta(days=9))
    page = client.get(f"/c/{ONE_TO_ONE}/").content.decode()
    assert 'class="history-gap"' in page
    assert '<a href="/import/">Import your X archive</a> to fill this gap.' in page

    job = upload_and_run(client, write(tmp_path).path)

    assert job.gaps_closed == 2
    assert not HistoryGap.objects.filter(pk=covered.pk).exists()
    assert HistoryGap.objects.filter(owner=owner).count() == 1
    page = client.get(f"/c/{ONE_TO_ONE}/").content.decode()
    assert 'class="history-gap"' not in page[page.index('id="thread"') :]  # beside the inbox's
    assert "fills 2 gaps" in text_of(client.get(f"/import/{job.pk}/").content.decode())


# --- Whose jobs --------------------------------------------------------------------------------


def test_only_the_owner_sees_a_job(maya):
    client, owner = maya
    job = ImportJob.objects.create(owner=owner, file_name="mine.zip")
    other, _ = make_reader("jonas_k", "1400000000000000002")
    assert other.get(f"/import/{job.pk}/").status_code == 404
    assert "mine.zip" not in other.get("/import/").content.decode()
    assert "mine.zip" in client.get("/import/").content.decode()
    assert Client().get(f"/import/{job.pk}/").status_code == 302  # to sign in


# --- Bad input ---------------------------------------------------------------------------------


def rezip(source, target, *, drop=(), replace=None, add=None):
    """A copy of the archive ZIP without the members in `drop`, with `replace`d contents."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = (replace or {}).get(info.filename, old.read(info))
            new.writestr(info.filename, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def truncated(written, tmp_path):
    data = zipfile.ZipFile(written.path).read("data/direct-messages.js")
    return rezip(
        written.path,
        tmp_path / "t.zip",
        replace={"data/direct-messages.js": data[: len(data) // 2]},
    )


def malformed(written, tmp_path):
    data = zipfile.ZipFile(written.path).read("data/direct-messages.js")
    return rezip(
        written.path,
        tmp_path / "m.zip",
        replace={"data/direct-messages.js": data.replace(b'"text" : ', b'"text" ; ', 1)},
    )


def missing_part(written, tmp_path):
    return rezip(written.path, tmp_path / "p.zip", drop={"data/direct-messages-group.js"})


def climbing(written, tmp_path):
    stand_in = "data/" + "x" * len("../../evil.js")
    path = rezip(written.path, tmp_path / "c.zip", add={stand_in: b"evil"})
    path.write_bytes(path.read_bytes().replace(stand_in.encode(), b"data/../../evil.js"))
    return path


def bomb(written, tmp_path):
    # 2 MB of spaces deflate to 2 KB: a thousand to one, where X's JSON is 5-15 to one.
    data = zipfile.ZipFile(written.path).read("data/direct-messages.js")
    padded = data[:-1] + b" " * 2 * 1024**2 + b"]"
    return rezip(written.path, tmp_path / "b.zip", replace={"data/direct-messages.js": padded})


def not_a_zip(written, tmp_path):
    path = tmp_path / "n.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip " * 20)
    return path


def another_account(written, tmp_path):
    (tmp_path / "other").mkdir()
    return af.write_archive(
        tmp_path / "other" / "archive.zip",
        [history()],
        account_id="1400000000000000002",
        username="jonas_k",
    ).path


BAD = {
    "another-account": (another_account, "belongs to @jonas_k (X id 1400000000000000002), "
                        f"not to @maya_reads (X id {ME})"),
    "not-a-zip": (not_a_zip, "archive.zip is not a ZIP file"),
    "truncated": (truncated, "data/direct-messages.js is damaged or cut short"),
    "malformed": (malformed, "data/direct-messages.js is damaged or cut short"),
    "missing-file": (missing_part, "missing data/direct-messages-group.js, which its manifest lists"),
    "climbs-out": (climbing, "could lead out of its folder"),
    "zip-bomb": (bomb, "would inflate to far more than X's archives do"),
}  # fmt: skip


@pytest.mark.parametrize("make, message", BAD.values(), ids=BAD.keys())
def test_a_bad_archive_gets_its_message_on_the_job_page_and_leaves_the_cache_as_it_was(
    maya, tmp_path, import_dir, make, message
):
    client, owner = maya
    before = snapshot(owner)
    job = upload_and_run(client, make(write(tmp_path), tmp_path))
    assert job.status == ImportJob.FAILED
    assert message in job.error
    page = text_of(client.get(f"/import/{job.pk}/").content.decode())
    failed = page.replace("&#x27;", "'").split("The import failed: ")[1]
    assert message in failed
    assert "Nothing from this archive was stored: your messages are as they were." in page
    assert snapshot(owner) == before
    assert not [p for p in import_dir.rglob("*") if p.is_file()]  # the upload is gone


def test_data_files_without_their_manifest_are_refused_at_once(maya, import_dir):
    client, _ = maya
    response = upload(client, ("direct-messages.js", b"window.YTD.direct_messages.part0 = []"))
    assert response.status_code == 400
    assert "Choose manifest.js too" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not [p for p in import_dir.rglob("*") if p.is_file()]


def test_an_upload_past_the_size_limit_is_refused_before_it_is_read(maya, settings, import_dir):
    client, _ = maya
    settings.IMPORT_MAX_UPLOAD_BYTES = 4000
    response = upload(client, ("archive.zip", b"x" * 5000))
    assert response.status_code == 413
    assert "larger than the 3.9\xa0KB this server takes" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not [p for p in import_dir.rglob("*") if p.is_file()]


def test_an_upload_without_a_csrf_token_is_refused_and_not_kept(maya, import_dir):
    _, owner = maya
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = upload(client, ("archive.zip", b"PK"))
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    assert not [p for p in import_dir.rglob("*") if p.is_file()]


def test_a_second_upload_waits_for_the_import_under_way(maya):
    client, owner = maya
    ImportJob.objects.create(owner=owner, file_name="first.zip")
    response = upload(client, ("archive.zip", b"PK"))
    assert response.status_code == 409
    assert "already under way" in response.content.decode()
    assert ImportJob.objects.count() == 1
