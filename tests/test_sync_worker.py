"""A worker killed mid-sync: the person is told, and the sync carries on by itself once any worker
runs (issue 8, finding 4). Real `manage.py db_worker` processes, killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations.models import DmEvent, SyncState
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import sign_in
from tests.test_sync import _database_url, assert_cache_equals, window_truth

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 3
WORKER = [
    sys.executable,
    "manage.py",
    "db_worker",
    "--no-startup-delay",
    "--no-reload",
]  # the workers' lease (60 s in production): a killed one lets go in seconds


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("worker-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(sandbox, tmp_path) -> dict:
    """The environment of a worker process: this test's database and sandbox, a short lease."""
    settings_file = Path(tmp_path) / "worker_settings.py"
    settings_file.write_text(
        f"from dmreader.settings import *\nSYNC_LEASE_SECONDS = {LEASE_SECONDS}\n"
        "SYNC_RETRY_SECONDS = 1\n"
    )
    return {
        **os.environ,
        **sandbox.urls,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "worker_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
    }


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [*WORKER, "--interval", "0.2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def state(owner) -> SyncState:
    return SyncState.objects.filter(owner=owner).first() or SyncState(owner=owner)


def test_a_killed_worker_shows_interrupted_and_a_new_worker_finishes_the_sync(sandbox, worker_env):
    sign_in(Client(), sandbox, "maya_reads")  # queues the first sync
    maya = XAccount.objects.get(username="maya_reads").user
    truth = window_truth(sandbox)
    sandbox.fault("maya_reads", "slow", count=None, seconds=0.3)
    worker = start_worker(worker_env)
    try:
        wait_for(lambda: state(maya).pages >= 3, what="the first pages")
        assert state(maya).shown_status == SyncState.RUNNING
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        worker.kill()
    killed_at = timezone.now()
    cached = DmEvent.objects.filter(owner=maya).count()
    assert 0 < cached < len(truth["events"])

    # No spinner for ever: once the dead worker's lease runs out, at most one lease after the
    # kill, the person sees the sync was interrupted.
    assert state(maya).lease_until <= killed_at + timedelta(seconds=LEASE_SECONDS)
    wait_for(lambda: state(maya).shown_status == SyncState.INTERRUPTED, what="interrupted")
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1  # the dead worker's

    sandbox.clear_faults("maya_reads")
    worker = start_worker(worker_env)  # nobody asks again: the queue holds the check-back
    try:
        wait_for(
            lambda: state(maya).status == SyncState.IDLE and not state(maya).pass_token,
            what="the resumed sync",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert_cache_equals(maya, truth)  # nothing lost, nothing twice (x_id is unique per owner)
    assert state(maya).shown_status == SyncState.IDLE
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    assert DBTaskResult.objects.filter(
        status="FAILED", exception_class_path="conversations.tasks.WorkerDied"
    ).exists()
