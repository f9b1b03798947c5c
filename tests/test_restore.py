"""Backup and restore (issue 11): a JSON export, or the backup ZIP with its media files, goes back
into DM Reader through the Import page (told from an X archive by its content) and the worker,
written by the store: the cache compares equal after export, wipe and restore; restoring twice
adds nothing; another account's backup is refused; a broken or hostile file gets its message and
leaves the cache as it was."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from conversations import erase, import_jobs, importing, media, store
from conversations.archive import open_archive
from conversations.models import (
    Conversation,
    DmEvent,
    ImportJob,
    Media,
    SharedPost,
    XUser,
)
from exports import views
from tests import archive_factory as af
from tests.sandbox import Sandbox
from tests.signin_helpers import flushed_after, signed_in_and_synced
from tests.test_import_views import make_reader, text_of, upload

pytestmark = pytest.mark.django_db

THEO = "2893011764-1432706037263519745"  # maya and theo_park: 2,000+ events, photos among them
LONG_AGO = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """Its own, with room: the run's shared sandbox may have spent maya's rate limit already."""
    server = Sandbox(
        tmp_path_factory.mktemp("restore-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def readers(sandbox, django_db_setup, django_db_blocker, tmp_path_factory):
    """maya_reads (synced, with a group from her X archive: a name line, a reaction) and
    jonas_k, committed for the module (and flushed after it, even when this setup fails: what it
    committed would otherwise be seen by every later test)."""
    media_cache = tmp_path_factory.mktemp("restore-media")
    with flushed_after(django_db_blocker):
        yield from _readers(sandbox, django_db_blocker, tmp_path_factory, media_cache)


def _readers(sandbox, django_db_blocker, tmp_path_factory, media_cache):
    with (
        django_db_blocker.unblock(),
        override_settings(**sandbox.urls, MEDIA_CACHE_DIR=media_cache),
    ):
        found = {u: signed_in_and_synced(sandbox, u) for u in ("maya_reads", "jonas_k")}
        maya = found["maya_reads"][1]
        group = af.Conversation(af.snowflake(LONG_AGO, 50), True)
        friend = "2893011764"
        group.messages = [
            af.message_create(
                af.snowflake(LONG_AGO, 51),
                friend,
                LONG_AGO,
                "who's in for Lisbon?",
                reactions=[{"senderId": maya.x_user_id, "reactionKey": "like",
                            "eventId": af.snowflake(LONG_AGO, 52),
                            "createdAt": af.iso(LONG_AGO)}],
            ),
            af.conversation_name_update(friend, "Lisbon trip", LONG_AGO),
            af.join_conversation(friend, [maya.x_user_id, friend], LONG_AGO),
        ]  # fmt: skip
        written = af.write_archive(
            tmp_path_factory.mktemp("archive") / "a.zip", [], [group], account_id=maya.x_user_id
        )
        with open_archive(written.path) as archive:
            importing.import_archive(maya.user_id, archive)
        yield found, media_cache  # the tests run inside these settings


@pytest.fixture(autouse=True)
def _folders(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture
def maya(readers, sandbox, settings):
    settings.MEDIA_CACHE_DIR = readers[1]
    return readers[0]["maya_reads"]


@pytest.fixture
def jonas(readers, sandbox, settings):
    settings.MEDIA_CACHE_DIR = readers[1]
    return readers[0]["jonas_k"]


def cache_of(owner_id: int) -> dict:
    """Everything the store writes for an owner, by X's ids (never our primary keys)."""
    events = (
        DmEvent.objects.filter(owner_id=owner_id)
        .select_related("conversation", "sender")
        .prefetch_related("media", "shared_posts")
    )
    return {
        "events": {
            e.x_id: (
                e.conversation.x_id, e.event_type, e.created_at, e.text, e.search_text,
                e.has_link, e.media_kinds, e.sender_x_id, e.sender.x_id if e.sender else None,
                e.participant_ids, e.entities, e.raw,
                sorted(m.media_key for m in e.media.all()),
                sorted(p.x_id for p in e.shared_posts.all()),
            )
            for e in events
        },
        "users": {
            u["x_id"]: u
            for u in XUser.objects.filter(owner_id=owner_id).values(
                *[f.name for f in XUser._meta.concrete_fields
                  if f.name not in ("id", "owner", "updated_at")]
            )
        },
        "media": {
            m["media_key"]: m
            for m in Media.objects.filter(owner_id=owner_id).values(
                *[f.name for f in Media._meta.concrete_fields if f.name not in ("id", "owner")]
            )
        },
        "posts": {
            p["x_id"]: p
            for p in SharedPost.objects.filter(owner_id=owner_id).values(
                *[f.name for f in SharedPost._meta.concrete_fields
                  if f.name not in ("id", "owner", "author")]
            )
        },
        "conversations": {
            c.x_id: (
                c.is_group, sorted(p.x_id for p in c.participants.all()),
                c.last_event.x_id if c.last_event else None, c.last_event_at, c.history_complete,
            )
            for c in Conversation.objects.filter(owner_id=owner_id)
            .select_related("last_event").prefetch_related("participants")
        },
    }  # fmt: skip


def restore(client: Client, name: str, body: bytes) -> ImportJob:
    response = upload(client, (name, body))
    assert response.status_code == 302, response.content.decode()[:500]
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    import_jobs.run(job.pk)
    job.refresh_from_db()
    return job


def exported(client: Client, **form) -> bytes:
    response = client.post("/export/start/", form)
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content)


def test_an_account_exported_wiped_and_restored_is_the_same_cache_and_twice_adds_nothing(
    maya, monkeypatch
):
    client, account = maya
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 100_000)
    before = cache_of(account.user_id)
    assert len(before["events"]) > 4000
    assert any(e[1] == "ConversationNameUpdate" for e in before["events"].values())
    backup = exported(client, format="json")
    photos_zip = exported(client, format="backup", conversation=THEO, q="has:photo")
    archive = zipfile.ZipFile(io.BytesIO(photos_zip))
    photos = [n for n in archive.namelist() if "/media/" in n]
    assert photos and archive.namelist()[0].endswith("/export.json")

    erase.erase_owner(account.user_id)
    assert not DmEvent.objects.filter(owner_id=account.user_id).exists()

    # The backup ZIP first: its events, and its photos back in the media cache.
    first = restore(client, "backup.zip", photos_zip)
    assert (first.kind, first.status) == (ImportJob.BACKUP, ImportJob.DONE), first.error
    restored = cache_of(account.user_id)["events"]
    assert restored == {x_id: e for x_id, e in before["events"].items() if x_id in restored}
    for name in photos:
        item = Media.objects.get(
            owner_id=account.user_id, media_key=name.rsplit("/", 1)[1].split(".")[0]
        )
        assert media.cache_storage().exists(
            f"{account.user_id}/{hashlib.sha256(media.source_of(item, 'full').encode()).hexdigest()}"
        )
        cached = media.proxy(media.source_of(item, "full"), owner_id=account.user_id,
                             max_bytes=media.MAX_MEDIA_BYTES)  # fmt: skip
        assert b"".join(cached.streaming_content) == archive.read(name)

    # Then the whole account's JSON, told by its content whatever its name.
    job = restore(client, "my-backup.bin", backup)
    assert (job.kind, job.status) == (ImportJob.BACKUP, ImportJob.DONE), job.error
    assert job.messages_total == len(before["events"])
    assert job.messages_new == len(before["events"]) - first.messages_total
    assert cache_of(account.user_id) == before
    page = text_of(client.get(f"/import/{job.pk}/").content.decode())
    assert "Restore of your DM Reader backup" in page
    assert f"Restored {job.messages_total} messages" in page
    # The restored history reads as before, the archive's name line and reaction included.
    group = Conversation.objects.get(owner_id=account.user_id, is_group=True, x_id__startswith="1")
    assert "named the group “Lisbon trip”" in client.get(f"/c/{group.x_id}/").content.decode()
    body = zipfile.ZipFile(io.BytesIO(exported(client, format="html", conversation=group.x_id)))
    page = next(body.read(n) for n in body.namelist() if n.endswith("/1.html")).decode()
    assert '<li class="reaction" title="You reacted with a heart">' in page
    assert '<span aria-hidden="true">❤️ 1</span>' in page
    assert "named the group “Lisbon trip”" in page
    markdown = exported(client, format="md", conversation=group.x_id).decode()
    assert "Reactions: ❤️ you" in markdown

    again = restore(client, "again.json", backup)
    assert again.status == ImportJob.DONE and again.messages_new == 0
    assert cache_of(account.user_id) == before


def test_a_backup_of_another_account_is_refused_and_changes_nothing(
    maya, jonas, monkeypatch, tmp_path
):
    monkeypatch.setattr(views, "DOWNLOAD_AT_ONCE", 100_000)
    backup = exported(maya[0], format="json", conversation=THEO)
    client, account = jonas
    before = cache_of(account.user_id)

    job = restore(client, "maya.json", backup)

    assert job.status == ImportJob.FAILED
    assert "This backup is of @maya_reads" in job.error and "not of @jonas_k" in job.error
    assert cache_of(account.user_id) == before
    path = tmp_path / "maya.json"
    path.write_bytes(backup)
    with pytest.raises(CommandError, match="This backup is of @maya_reads"):
        call_command("importarchive", str(path), "--account", "@jonas_k")


# Broken and hostile files: no sandbox, a small backup made by hand --------------------------------

ME, ANA = "1400000000000000001", "1400000000000000777"


def small_backup(**changes) -> dict:
    document = {
        "format": "dmreader-export",
        "version": 1,
        "generated_at": "2026-12-01T10:00:00.000Z",
        "account": {"id": ME, "username": "maya_reads", "name": "Maya"},
        "scope": {"conversations": [], "after": None, "before": None, "query": ""},
        "conversations": [{"id": f"{ME}-{ANA}", "type": "one_to_one", "name": None,
                           "participant_ids": [ME, ANA], "history_complete": True,
                           "events_in_export": 1}],
        "events": [{"id": "1800000000000000001", "conversation_id": f"{ME}-{ANA}",
                    "event_type": "MessageCreate", "created_at": "2026-11-30T09:00:00.000Z",
                    "sender_id": ANA, "text": "hello", "participant_ids": [], "entities": {},
                    "media_keys": [], "post_ids": [], "raw": {"id": "1800000000000000001"}}],
        "users": [],
        "media": [],
        "posts": [],
    }  # fmt: skip
    document.update(changes)
    return document


def as_bytes(document: dict) -> bytes:
    return json.dumps(document).encode()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def bad_event(**fields) -> bytes:
    event = {**small_backup()["events"][0], **fields}
    return as_bytes(small_backup(events=[event]))


BAD = {
    "cut-short": (as_bytes(small_backup())[:-40], "damaged or cut short"),
    "not-ours": (b'{"hello": "world"}', "not a backup that DM Reader made"),
    "newer": (as_bytes(small_backup(version=2)), "version 2, made by a newer DM Reader"),
    "bad-id": (bad_event(id="1e9"), "has no valid id"),
    "bad-time": (bad_event(created_at="yesterday"), "not ISO 8601 in UTC"),
    "object-as-key": (bad_event(media_keys=[{"x": 1}]), "has a media key that is not a text"),
    "too-deep": (as_bytes(small_backup())[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                 "more than 64 levels deep"),
    "climbs-out": (zipped({"b/export.json": as_bytes(small_backup()), "../evil.jpg": b"x"}),
                   "could lead out of its folder"),
    "no-json": (zipped({"b/notes.txt": b"x"}), "nor is it a backup that DM Reader made"),
}  # fmt: skip


@pytest.mark.parametrize("body, message", BAD.values(), ids=BAD.keys())
def test_a_broken_or_hostile_backup_gets_its_message_and_leaves_the_cache_as_it_was(
    settings, tmp_path, body, message
):
    client, owner = make_reader("maya_reads", ME)
    ok = restore(client, "good.json", as_bytes(small_backup()))
    assert ok.status == ImportJob.DONE and ok.messages_new == 1
    before = cache_of(owner.pk)

    job = restore(client, "backup.json", body)

    assert job.status == ImportJob.FAILED
    assert message in job.error
    page = text_of(client.get(f"/import/{job.pk}/").content.decode()).replace("&#x27;", "'")
    assert "The restore failed" in page or "The import failed" in page
    assert cache_of(owner.pk) == before
    assert not [p for p in settings.IMPORT_DIR.rglob("*") if p.is_file()]


def test_a_restore_whose_worker_dies_is_resumed_and_stores_nothing_twice(monkeypatch):
    client, owner = make_reader("maya_reads", ME)
    first = small_backup()["events"][0]
    events = [{**first, "id": str(1800000000000000001 + n), "text": f"m{n}"} for n in range(5)]
    body = as_bytes(small_backup(events=events))
    monkeypatch.setattr(importing, "BATCH", 2)
    store_events, calls = store.store_events, []

    def dies_on_the_second_batch(owner_id, batch, **includes):
        calls.append(len(batch))
        if len(calls) == 2:
            raise SystemExit("killed")  # as a SIGKILL: none of the runner's handlers runs
        return store_events(owner_id, batch, **includes)

    monkeypatch.setattr(store, "store_events", dies_on_the_second_batch)
    response = upload(client, ("backup.json", body))
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    with pytest.raises(SystemExit):
        import_jobs.run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.messages_done) == (ImportJob.IMPORTING, 2)

    monkeypatch.setattr(store, "store_events", store_events)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=datetime.now(UTC) - timedelta(1))
    assert import_jobs.run(job.pk) == ImportJob.DONE

    job.refresh_from_db()
    assert (job.messages_done, job.messages_new, job.attempts) == (5, 5, 2)
    texts = list(DmEvent.objects.filter(owner=owner).values_list("text", flat=True))
    assert sorted(texts) == [f"m{n}" for n in range(5)]
