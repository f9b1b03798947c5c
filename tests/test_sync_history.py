"""A first sync after a conversation was opened caches the whole inbox (issue 8, finding 1).

Events a conversation fetch cached prove nothing about the rest of the inbox: an inbox pass may
only stop at its watermark, the newest event below which an earlier inbox pass cached everything.
"""

import os
import subprocess
import sys

import pytest
from django.test import Client

from conversations import sync
from conversations.models import Conversation, DmEvent, SyncState
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import sign_in
from tests.test_sync import _database_url, assert_cache_equals, window_truth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: its tests add events."""
    server = Sandbox(
        tmp_path_factory.mktemp("history-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


def run_worker(sandbox) -> None:
    """`manage.py db_worker` runs what is queued, then exits."""
    env = {**os.environ, **sandbox.urls, "DATABASE_URL": _database_url()}
    worker = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stderr[-2000:]


def user_id(sandbox, username: str) -> str:
    users = sandbox.admin("GET", f"truth/{username}")["users"]
    return next(u["id"] for u in users if u["username"] == username)


def test_a_chat_opened_before_the_first_sync_does_not_cut_the_inbox_short(sandbox):
    # The worker is stopped. Maya writes to Jonas, who signs in (his first sync is queued) and
    # opens the chat with @maya_reads before any worker runs.
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "jonas_k"], "sender": "maya_reads", "text": "still there?"},
    )
    sign_in(Client(), sandbox, "jonas_k")
    jonas = XAccount.objects.get(username="jonas_k").user
    opened = sync.sync_conversation_with(jonas.pk, user_id(sandbox, "maya_reads"), pages=1)
    assert opened.status == SyncState.IDLE
    assert DmEvent.objects.filter(owner=jonas, text="still there?").exists()

    run_worker(sandbox)  # the worker starts and runs the first sync

    truth = window_truth(sandbox, "jonas_k")
    assert_cache_equals(jonas, truth)  # every event, every conversation in the inbox
    assert Conversation.objects.filter(owner=jonas).count() == len(truth["conversations"])
    state = SyncState.objects.get(owner=jonas)
    assert state.status == SyncState.IDLE and state.backfill_complete


def test_later_syncs_still_stop_at_what_the_inbox_passes_cached(sandbox):
    sign_in(Client(), sandbox, "jonas_k")
    jonas = XAccount.objects.get(username="jonas_k").user
    assert sync.sync_account(jonas.pk).status == SyncState.IDLE
    # A conversation fetch caches a newer message before the next inbox sync ...
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "jonas_k"], "sender": "jonas_k", "text": "yes, here"},
    )
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["jonas_k", "theo_park"], "sender": "theo_park", "text": "lunch?"},
    )
    sync.sync_conversation_with(jonas.pk, user_id(sandbox, "maya_reads"), pages=1)
    # ... which still walks down to where the last inbox pass ended, and no further.
    outcome = sync.sync_account(jonas.pk)
    assert outcome.status == SyncState.IDLE
    assert outcome.progress.requests == 1
    assert_cache_equals(jonas, window_truth(sandbox, "jonas_k"))
    # And with nothing new, one request again.
    assert sync.sync_account(jonas.pk).progress.requests == 1
