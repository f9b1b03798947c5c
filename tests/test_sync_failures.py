"""A sync that fails says so and tries again; what X sent is stored even when the database balks
(issue 8, finding 2)."""

import json
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from conversations import store, sync, tasks
from conversations.models import DmEvent, SyncRun, SyncState, UnstoredEvent
from dmreader.models import XAccount
from tests.sandbox import Sandbox
from tests.signin_helpers import sign_in
from tests.test_sync import assert_cache_equals, window_truth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: its tests add events."""
    server = Sandbox(
        tmp_path_factory.mktemp("failures-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def jonas(sandbox):
    sign_in(Client(), sandbox, "jonas_k")
    return XAccount.objects.get(username="jonas_k").user


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


def test_a_nul_in_a_message_is_stored_visibly_and_kept_in_the_raw_json(sandbox, jonas):
    # PostgreSQL's text and jsonb cannot hold U+0000; this used to stop every sync on this page.
    sent = sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "jonas_k"], "sender": "maya_reads", "text": "nul\x00here"},
    )
    outcome = sync.sync_account(jonas.pk)
    assert outcome.status == SyncState.IDLE
    truth = window_truth(sandbox, "jonas_k")
    assert_cache_equals(jonas, truth)  # every event, the one with the NUL too
    event = DmEvent.objects.get(owner=jonas, x_id=sent["id"])
    assert event.text == "nul\u2400here"  # shown, not dropped
    assert store.as_sent(event.raw)["text"] == "nul\x00here"  # what X sent, recoverable


def test_a_page_the_database_refuses_is_stored_event_by_event_and_the_rest_goes_on(sandbox, jonas):
    poison = sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "jonas_k"], "sender": "maya_reads", "text": "poison-pill"},
    )
    with refusing_events_with("poison-pill"):
        outcome = sync.sync_account(jonas.pk)
    assert outcome.status == SyncState.IDLE
    truth = window_truth(sandbox, "jonas_k")
    cached = set(DmEvent.objects.filter(owner=jonas).values_list("x_id", flat=True))
    assert cached == {e["id"] for e in truth["events"]} - {poison["id"]}
    # Set aside for operators, with what X sent and why, and on the run's record.
    aside = UnstoredEvent.objects.get(owner=jonas, x_id=poison["id"])
    sent = next(e for e in truth["events"] if e["id"] == poison["id"])
    assert json.loads(aside.payload) == sent
    assert "poison pill refused" in aside.reason
    run = SyncRun.objects.filter(owner=jonas).latest("started_at")
    assert f"Set aside event {poison['id']}" in run.error
    # Once the database takes it, a full resync stores it and clears the set-aside row.
    assert sync.sync_account(jonas.pk, full=True).status == SyncState.IDLE
    assert_cache_equals(jonas, window_truth(sandbox, "jonas_k"))
    assert not UnstoredEvent.objects.exists()


def test_a_sync_that_crashes_is_recorded_as_failed_and_retried_by_itself(
    sandbox, jonas, monkeypatch, settings
):
    settings.SYNC_RETRY_SECONDS = 2
    real = store.store_page
    crashes = iter([RuntimeError("the disk is full")])

    def store_page(owner_id, page):
        for error in crashes:
            raise error
        return real(owner_id, page)

    monkeypatch.setattr(store, "store_page", store_page)
    DBTaskResult.objects.all().delete()  # signing in queued one; ask through the one way in
    tasks.request_sync(jonas.pk)
    run_due_tasks()

    state = SyncState.objects.get(owner=jonas)
    assert state.shown_status == SyncState.FAILED  # not "Up to date"
    assert "RuntimeError: the disk is full" in state.last_error
    assert timezone.now() < state.retry_at
    run = SyncRun.objects.get(owner=jonas)
    assert (run.outcome, run.error) == (SyncState.FAILED, "RuntimeError: the disk is full")
    retry = DBTaskResult.objects.get(task_path="conversations.tasks.sync_account", status="READY")
    assert abs((retry.run_after - state.retry_at).total_seconds()) <= 1

    time.sleep(max(0, (retry.run_after - timezone.now()).total_seconds()) + 0.2)
    run_due_tasks()  # the retry, at its time, with nobody asking
    state = SyncState.objects.get(owner=jonas)
    assert (state.status, state.last_error, state.retry_at, state.failures) == (
        SyncState.IDLE,
        "",
        None,
        0,
    )
    assert_cache_equals(jonas, window_truth(sandbox, "jonas_k"))


def test_failures_in_a_row_wait_longer_each_time(sandbox, jonas, settings):
    settings.SYNC_RETRY_SECONDS = 60
    sandbox.fault("jonas_k", "503", count=None)
    try:
        waits = []
        for _ in range(3):
            SyncState.objects.filter(owner=jonas).update(retry_at=None)
            outcome = sync.sync_account(jonas.pk)
            assert outcome.status == SyncState.FAILED
            waits.append(round((outcome.retry_at - timezone.now()).total_seconds() / 60))
        assert waits == [1, 2, 4]
        assert SyncState.objects.get(owner=jonas).failures == 3
    finally:
        sandbox.clear_faults("jonas_k")


class refusing_events_with:
    """A database that refuses to store some events: a trigger raising a data error."""

    def __init__(self, text: str):
        self.text = text

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(
                    "CREATE TRIGGER test_refuse BEFORE INSERT ON conversations_dmevent "
                    f"WHEN NEW.text LIKE '%{self.text}%' "
                    "BEGIN SELECT RAISE(ABORT, 'poison pill refused'); END"
                )
            else:
                cursor.execute(
                    "CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text LIKE '%{self.text}%' THEN "
                    "RAISE EXCEPTION 'poison pill refused' USING ERRCODE = '22000'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    "CREATE TRIGGER test_refuse BEFORE INSERT ON conversations_dmevent "
                    "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
                )

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("DROP TRIGGER test_refuse")
            else:
                cursor.execute("DROP TRIGGER test_refuse ON conversations_dmevent")
                cursor.execute("DROP FUNCTION test_refuse()")
