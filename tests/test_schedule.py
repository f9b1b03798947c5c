"""Always-on sync (issue 10 §1): every signed-in account is synced on a schedule with nobody
visiting; several schedulers enqueue each account once per slot; accounts X refuses are marked
and left alone; an inbox opened after an interval away syncs at once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations import schedule
from conversations.models import DmEvent, SyncState
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import sign_in
from tests.test_sync import _database_url

SYNC_TASK = "conversations.tasks.sync_account"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("schedule-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


def make_account(n: int, **fields) -> XAccount:
    user = get_user_model().objects.create(username=f"person{n}")
    fields.setdefault("access_token", f"token-{n}")
    return XAccount.objects.create(
        user=user, x_user_id=str(1000 + n), username=f"p{n}", name=f"P {n}", **fields
    )


def queued_syncs(owner_id: int) -> int:
    return DBTaskResult.objects.filter(task_path=SYNC_TASK, args_kwargs__args__0=owner_id).count()


def process_env(sandbox, tmp_path, interval: float) -> dict:
    settings_file = Path(tmp_path) / "schedule_settings.py"
    settings_file.write_text(
        f"from dmreader.settings import *\nSYNC_INTERVAL_SECONDS = {interval}\n"
        "SYNC_LEASE_SECONDS = 3\nSYNC_RETRY_SECONDS = 1\n"
    )
    return {
        **os.environ,
        **sandbox.urls,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "schedule_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
    }


def start(env: dict, *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(condition, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_person_signs_in_leaves_and_the_cache_keeps_filling(sandbox, tmp_path):
    sign_in(Client(), sandbox, "jonas_k")  # and leaves: nobody visits from here on
    jonas = XAccount.objects.get(username="jonas_k").user
    env = process_env(sandbox, tmp_path, interval=1)
    worker = start(env, "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2")
    scheduler = start(env, "scheduler", "--tick", "0.2")
    try:
        wait_for(
            lambda: SyncState.objects.filter(owner=jonas, last_success_at__isnull=False).exists(),
            what="the sign-in's sync",
        )
        for text in ("Are you still there?", "Back from the mountains!"):
            sent = sandbox.admin(
                "POST",
                "events",
                json={"with": ["jonas_k", "maya_reads"], "sender": "maya_reads", "text": text},
            )
            wait_for(
                lambda: DmEvent.objects.filter(owner=jonas, x_id=sent["id"]).exists(),
                what=f"the scheduler's sync to cache {text!r}",
            )
    finally:
        stop(scheduler, worker)
    # Each scheduled sync asked X once: nothing new beyond the message is one page.
    assert queued_syncs(jonas.pk) >= 3  # the sign-in's and at least two scheduled ones


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_enqueue_each_account_once_per_slot(sandbox, tmp_path):
    past = timezone.now() - timedelta(minutes=1)
    owners = [make_account(n).user_id for n in range(30)]
    SyncState.objects.bulk_create(SyncState(owner_id=o, next_sync_at=past) for o in owners)
    env = process_env(sandbox, tmp_path, interval=3600)  # one slot each in this test
    schedulers = [start(env, "scheduler", "--tick", "0.05") for _ in range(2)]
    try:
        wait_for(lambda: all(queued_syncs(o) for o in owners), timeout=60, what="every account")
        time.sleep(1)  # both kept ticking over the same rows meanwhile
    finally:
        stop(*schedulers)
    assert [queued_syncs(o) for o in owners] == [1] * len(owners)
    later = timezone.now() + timedelta(minutes=50)
    assert SyncState.objects.filter(owner_id__in=owners, next_sync_at__lt=later).count() == 0


@pytest.mark.django_db
def test_signed_out_and_refused_accounts_are_not_scheduled(settings):
    settings.SYNC_INTERVAL_SECONDS = 60
    signed_out = make_account(1, access_token="")
    refused = make_account(2, needs_reauth=True)
    valid = make_account(3)
    assert schedule.claim_due() == []  # first slots, within the next minute
    later = timezone.now() + timedelta(hours=1)
    assert schedule.claim_due(now=later) == [valid.user_id]
    assert queued_syncs(signed_out.user_id) == queued_syncs(refused.user_id) == 0


@pytest.mark.django_db
def test_new_accounts_get_first_slots_spread_over_one_interval(settings):
    settings.SYNC_INTERVAL_SECONDS = 900
    now = timezone.now()
    for n in range(40):
        make_account(n)
    assert schedule.claim_due(now=now) == []  # nobody fires at the first tick
    slots = sorted(SyncState.objects.values_list("next_sync_at", flat=True))
    assert now <= slots[0] and slots[-1] <= now + timedelta(seconds=900)
    assert slots[-1] - slots[0] > timedelta(seconds=300)


@pytest.mark.django_db(transaction=True)
def test_an_inbox_opened_after_an_interval_away_syncs_at_once(sandbox, settings):
    settings.SYNC_INTERVAL_SECONDS = 900
    client = Client()
    sign_in(client, sandbox, "jonas_k")
    jonas = XAccount.objects.get(username="jonas_k").user
    DBTaskResult.objects.all().delete()
    SyncState.objects.update_or_create(
        owner=jonas,
        defaults={
            "status": SyncState.IDLE,
            "last_success_at": timezone.now() - timedelta(minutes=5),
        },
    )
    assert "Up to date" in client.get("/").content.decode()
    assert queued_syncs(jonas.pk) == 0  # synced 5 minutes ago: nothing to do

    SyncState.objects.filter(owner=jonas).update(
        last_success_at=timezone.now() - timedelta(minutes=16)
    )
    assert "Syncing" in client.get("/").content.decode()
    assert queued_syncs(jonas.pk) == 1
    client.get("/")
    assert queued_syncs(jonas.pk) == 1  # not once per visit


@pytest.mark.django_db
def test_an_account_x_refuses_for_good_is_told_to_sign_in_again(client, settings):
    account = make_account(1, needs_reauth=True)
    SyncState.objects.create(owner=account.user, status=SyncState.NEEDS_REAUTH)
    client.force_login(account.user)
    page = client.get("/").content.decode()
    assert "to resume syncing; nothing cached was lost" in page
    settings.SYNC_INTERVAL_SECONDS = 1
    schedule.claim_due()
    assert schedule.claim_due(now=timezone.now() + timedelta(days=1)) == []
