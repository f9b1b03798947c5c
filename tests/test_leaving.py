"""People leave: everything DM Reader holds about a person goes, their access at X is revoked, and
nobody else loses anything. Every model with an owner is counted (found through the app
registry, so a model added later is held to the same rule), and so is the media storage."""

import os
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from conversations import sync
from conversations.erase import erase_owner
from conversations.models import DmEvent, Media
from dmreader import leaving
from dmreader.accounts import owned_models
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("leaving-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


def signed_in(sandbox, username: str) -> tuple[Client, User]:
    client = Client()
    sign_in(client, sandbox, username)
    user = XAccount.objects.get(username=username).user
    sync.sync_account(user.pk)
    return client, user


def live_grants(sandbox, username: str) -> int:
    """Tokens X would still accept for this account (other tests' sign-ins included)."""
    return sum(grant["live"] for grant in sandbox.grants(username))


def held(user_id: int) -> dict[str, int]:
    return {
        model._meta.label: model.objects.filter(owner_id=user_id).count()
        for model in owned_models()
    }


def files_of(settings, user_id: int) -> list[str]:
    folder = settings.MEDIA_CACHE_DIR / str(user_id)
    return sorted(os.listdir(folder)) if folder.exists() else []


def load_media(client: Client, owner) -> None:
    """What a person's browser does on reading: their avatar, a photo and a sender's avatar."""
    photo = Media.objects.filter(owner=owner, type="photo").first()
    me = owner.x_account.x_user_id
    events = DmEvent.objects.filter(owner=owner).exclude(sender=None).exclude(sender_x_id=me)
    sender = events.first().sender
    for url in (
        f"/account/avatar/{me}/",
        f"/media/{photo.media_key}/full/",
        f"/avatar/{sender.x_id}/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        b"".join(response.streaming_content)


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def run_worker(sandbox, settings) -> None:
    """scripts/worker (as compose.yaml starts it) in batch mode: runs what is queued, then exits."""
    env = {
        **os.environ,
        **sandbox.urls,
        "DATABASE_URL": database_url(),
        "XSANDBOX_URL": sandbox.base_url,
        "MEDIA_CACHE_DIR": str(settings.MEDIA_CACHE_DIR),
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
    }
    worker = subprocess.run(
        ["scripts/worker", "--batch", "--no-startup-delay"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]


def test_a_person_deletes_everything_held_about_them_and_revokes_access_at_x(sandbox, settings):
    maya_grants, jonas_grants = live_grants(sandbox, "maya_reads"), live_grants(sandbox, "jonas_k")
    maya_client, maya = signed_in(sandbox, "maya_reads")
    jonas_client, jonas = signed_in(sandbox, "jonas_k")
    load_media(maya_client, maya)
    load_media(jonas_client, jonas)
    maya_before, jonas_before = held(maya.pk), held(jonas.pk)
    assert maya_before["conversations.DmEvent"] > 1000
    assert len(files_of(settings, maya.pk)) == 3
    jonas_files = files_of(settings, jonas.pk)
    assert jonas_files

    page = maya_client.get("/account/")
    assert page.status_code == 200
    assert b"@maya_reads" in page.content and b"DM events" in page.content
    confirm = maya_client.get("/account/delete/")
    assert b"Yes, delete everything" in confirm.content
    # A POST that did not come from the confirming button deletes nothing.
    assert maya_client.post("/account/delete/").status_code == 400
    assert held(maya.pk) == maya_before

    response = maya_client.post("/account/delete/", {"confirm": "delete"})
    assert response.status_code == 302
    # At once: access revoked at X, tokens gone, signed out.
    assert live_grants(sandbox, "maya_reads") == maya_grants
    assert not XAccount.objects.filter(user=maya).exists()
    assert b"Sign in with X" in maya_client.get("/", follow=True).content

    run_worker(sandbox, settings)
    assert not User.objects.filter(pk=maya.pk).exists()
    assert all(count == 0 for count in held(maya.pk).values()), held(maya.pk)
    assert files_of(settings, maya.pk) == []
    assert not (settings.MEDIA_CACHE_DIR / str(maya.pk)).exists()
    erasure = DBTaskResult.objects.get(task_path="dmreader.leaving.erase_user_task")
    assert erasure.status == "SUCCESSFUL"
    # Nobody else lost anything (the worker also ran Jonas's queued sync: a run more, no less).
    jonas_after = held(jonas.pk)
    assert all(jonas_after[kind] >= count for kind, count in jonas_before.items()), jonas_after
    assert files_of(settings, jonas.pk) == jonas_files
    assert live_grants(sandbox, "jonas_k") > jonas_grants
    assert jonas_client.get("/").status_code == 200


def test_the_account_page_needs_a_signed_in_person_and_deleting_needs_a_post(client):
    assert client.get("/account/")["Location"].startswith("/auth/login/")
    assert client.post("/account/delete/", {"confirm": "delete"}).status_code == 302
    user = User.objects.create(username="someone")
    client.force_login(user)
    assert client.put("/account/delete/").status_code == 405
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post("/account/delete/", {"confirm": "delete"}).status_code == 403
    assert User.objects.get(pk=user.pk).is_active


def test_a_big_cache_is_deleted_in_batches_of_short_transactions(sandbox):
    _client, maya = signed_in(sandbox, "maya_reads")
    _client, jonas = signed_in(sandbox, "jonas_k")
    jonas_before = held(jonas.pk)
    events = DmEvent.objects.filter(owner=maya).count()
    with CaptureQueriesContext(connection) as queries:
        deleted = erase_owner(maya.pk, batch_size=1000)
    assert deleted["conversations.DmEvent"] == events
    # One transaction per batch: each picks its next 1,000 ids, then deletes them (Django splits
    # the DELETE itself further on SQLite, to stay under its parameter limit).
    table = DmEvent._meta.db_table
    picks = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(f'SELECT "{table}"."id" AS "pk" FROM') and "LIMIT 1000" in q["sql"]
    ]
    assert len(picks) == -(-events // 1000) + 1  # the last finds none left
    assert all(count == 0 for count in held(maya.pk).values())
    assert held(jonas.pk) == jonas_before


def test_the_admin_deletes_an_account_in_the_background_and_revokes_it_at_x(sandbox, settings):
    grants = live_grants(sandbox, "maya_reads")
    maya_client, maya = signed_in(sandbox, "maya_reads")
    load_media(maya_client, maya)
    admin = Client()
    admin.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    page = admin.get(f"/admin/auth/user/{maya.pk}/delete/")
    assert page.status_code == 200
    response = admin.post(f"/admin/auth/user/{maya.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    # The request only queued the work: the user can no longer sign in, the rows are there.
    assert not User.objects.get(pk=maya.pk).is_active
    assert DmEvent.objects.filter(owner=maya).exists()
    queued = DBTaskResult.objects.get(task_path="dmreader.leaving.erase_user_task")
    assert queued.args_kwargs["args"] == [maya.pk]

    leaving.erase_user(maya.pk)
    assert not User.objects.filter(pk=maya.pk).exists()
    assert all(count == 0 for count in held(maya.pk).values())
    assert files_of(settings, maya.pk) == []
    assert live_grants(sandbox, "maya_reads") == grants
