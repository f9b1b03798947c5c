"""The sync engine against the sandbox over HTTP: the cache must equal what X holds."""

import math
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conversations import store, sync, xapi, xids
from conversations.models import Conversation, DmEvent, Media, SharedPost, SyncRun, SyncState, XUser
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WINDOW = timedelta(days=30)
REQUESTED_USER_FIELDS = {"id", "name", "username", *xapi.USER_FIELDS.split(",")}
REQUESTED_TWEET_FIELDS = {"id", "text", "edit_history_tweet_ids", *xapi.TWEET_FIELDS.split(",")}
REQUESTED_MEDIA_FIELDS = {"media_key", "type", *xapi.MEDIA_FIELDS.split(",")}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """This module's own sandbox: its tests add events, inject faults and move the clock."""
    # Generous: these tests sync the whole window dozens of times; the budget test has its own.
    server = Sandbox(
        tmp_path_factory.mktemp("sync-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def maya(sandbox):
    sign_in(Client(), sandbox, "maya_reads")
    return XAccount.objects.get(username="maya_reads").user


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sandbox_now(sandbox) -> datetime:
    return datetime.fromisoformat(sandbox.admin("GET", "clock")["now"])


def window_truth(sandbox, username="maya_reads") -> dict:
    """The sandbox's own data, limited to what X's 30-day window lets a sync see now."""
    truth = sandbox.admin("GET", f"truth/{username}")
    since = sandbox_now(sandbox) - WINDOW
    truth["events"] = [e for e in truth["events"] if parse(e["created_at"]) >= since]
    return truth


def project(obj: dict, fields: set[str]) -> dict:
    return {k: v for k, v in obj.items() if k in fields}


def assert_cache_equals(owner, truth: dict) -> None:
    events = {
        e.x_id: e
        for e in DmEvent.objects.filter(owner=owner)
        .select_related("conversation")
        .prefetch_related("media", "shared_posts")
    }
    assert set(events) == {e["id"] for e in truth["events"]}
    for expected in truth["events"]:
        cached = events[expected["id"]]
        assert store.as_sent(cached.raw) == expected
        assert cached.conversation.x_id == expected["dm_conversation_id"]
        # PostgreSQL cannot hold U+0000: the text shows it as U+2400, the raw JSON keeps it.
        assert cached.text == expected.get("text", "").replace("\x00", "\u2400")
        assert cached.created_at == parse(expected["created_at"])
    # Every conversation with an event in the window, one-to-one or group.
    conversations = {c.x_id: c for c in Conversation.objects.filter(owner=owner)}
    with_events = {e["dm_conversation_id"] for e in truth["events"]}
    assert set(conversations) == with_events
    kinds = {c["id"]: c["is_group"] for c in truth["conversations"]}
    assert all(conversations[x].is_group == kinds[x] for x in with_events)
    # Users: what X sent for the fields we ask, and accounts that are gone kept as unavailable.
    referenced = {e.get("sender_id") for e in truth["events"]} | {
        p for e in truth["events"] for p in e.get("participant_ids", [])
    }
    users = {u.x_id: u for u in XUser.objects.filter(owner=owner)}
    for expected in truth["users"]:
        if expected["id"] not in referenced:
            continue
        cached = users[expected["id"]]
        if expected["gone"]:
            assert cached.unavailable
        else:
            assert store.as_sent(cached.raw) == project(expected, REQUESTED_USER_FIELDS)
            assert (cached.username, cached.name) == (expected["username"], expected["name"])
    # Media and shared posts referenced by events in the window.
    keys = {k for e in truth["events"] for k in e.get("attachments", {}).get("media_keys", [])}
    media = {m.media_key: m for m in Media.objects.filter(owner=owner)}
    assert set(media) == keys
    for expected in truth["media"]:
        if expected["media_key"] in keys:
            cached = media[expected["media_key"]]
            assert store.as_sent(cached.raw) == project(expected, REQUESTED_MEDIA_FIELDS)
    post_ids = {r["id"] for e in truth["events"] for r in e.get("referenced_tweets", [])}
    posts = {p.x_id: p for p in SharedPost.objects.filter(owner=owner)}
    assert set(posts) == post_ids
    for expected in truth["tweets"]:
        if expected["id"] in post_ids:
            if expected["deleted"]:
                assert posts[expected["id"]].unavailable
            else:
                cached = posts[expected["id"]]
                assert store.as_sent(cached.raw) == project(expected, REQUESTED_TWEET_FIELDS)
    # Every event carries its media and posts.
    for expected in truth["events"]:
        cached = events[expected["id"]]
        assert sorted(m.media_key for m in cached.media.all()) == sorted(
            expected.get("attachments", {}).get("media_keys", [])
        )
        assert sorted(p.x_id for p in cached.shared_posts.all()) == sorted(
            r["id"] for r in expected.get("referenced_tweets", [])
        )


def test_a_first_sync_caches_everything_in_the_window_exactly(sandbox, maya):
    truth = window_truth(sandbox)
    outcome = sync.sync_account(maya.pk)
    assert outcome.status == SyncState.IDLE
    assert_cache_equals(maya, truth)
    run = SyncRun.objects.filter(owner=maya).latest("started_at")
    assert run.requests_made == math.ceil(len(truth["events"]) / 100)
    assert SyncState.objects.get(owner=maya).backfill_complete


def test_the_inbox_order_follows_the_latest_event(sandbox, maya):
    sync.sync_account(maya.pk)
    for conversation in Conversation.objects.filter(owner=maya):
        newest = conversation.events.order_by("-created_at", "-sort_id").first()
        assert conversation.last_event_id == newest.pk
        assert conversation.last_event_at == newest.created_at


def test_a_sync_with_nothing_new_costs_one_request(sandbox, maya):
    sync.sync_account(maya.pk)
    outcome = sync.sync_account(maya.pk)
    assert outcome.status == SyncState.IDLE
    assert outcome.progress.requests == 1
    assert outcome.progress.events == 0


def test_an_incremental_sync_adds_new_events_including_a_new_conversation(sandbox, maya):
    sync.sync_account(maya.pk)
    group = Conversation.objects.filter(owner=maya, is_group=True).first()
    sandbox.admin(
        "POST",
        "events",
        json={"conversation_id": group.x_id, "sender": "maya_reads", "text": "new in the group"},
    )
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "quiet_quinn"], "sender": "quiet_quinn", "text": "hi Maya!"},
    )
    sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "theo_park"], "sender": "theo_park", "media_type": "photo"},
    )
    outcome = sync.sync_account(maya.pk)
    assert outcome.progress.requests == 1
    assert outcome.progress.events == 3
    assert_cache_equals(maya, window_truth(sandbox))
    assert (
        DmEvent.objects.filter(owner=maya, text="hi Maya!").get().sender.username == "quiet_quinn"
    )


@pytest.mark.parametrize("kind", ["500", "503", "malformed", "drop"])
def test_a_transient_fault_is_retried_and_loses_nothing(sandbox, maya, kind):
    sandbox.fault("maya_reads", kind, count=2)
    outcome = sync.sync_account(maya.pk)
    sandbox.clear_faults("maya_reads")
    assert outcome.status == SyncState.IDLE
    assert_cache_equals(maya, window_truth(sandbox))


def test_a_429_pauses_the_sync_until_the_reset_and_it_resumes_from_its_cursor(sandbox, maya):
    sandbox.fault("maya_reads", "429", count=1)
    sync.sync_account(maya.pk)  # caches nothing: the first answer is a 429
    state = SyncState.objects.get(owner=maya)
    assert state.status == SyncState.WAITING
    assert state.rate_reset_at > timezone.now()
    # The reset comes (here: by moving our record of it into the past); the sync carries on.
    SyncState.objects.filter(owner=maya).update(rate_reset_at=timezone.now() - timedelta(seconds=1))
    assert sync.sync_account(maya.pk).status == SyncState.IDLE
    assert_cache_equals(maya, window_truth(sandbox))


def test_an_expired_access_token_is_refreshed_once_and_the_sync_goes_on(sandbox, maya):
    before = XAccount.objects.get(user=maya).access_token
    sandbox.admin("POST", "tokens", json={"username": "maya_reads", "action": "expire_access"})
    assert sync.sync_account(maya.pk).status == SyncState.IDLE
    assert XAccount.objects.get(user=maya).access_token != before
    assert_cache_equals(maya, window_truth(sandbox))


def test_a_revoked_authorization_asks_to_sign_in_again_and_keeps_the_cache(sandbox, maya):
    sync.sync_account(maya.pk)
    cached = DmEvent.objects.filter(owner=maya).count()
    sandbox.admin("POST", "tokens", json={"username": "maya_reads", "action": "revoke_refresh"})
    sandbox.admin("POST", "tokens", json={"username": "maya_reads", "action": "expire_access"})
    outcome = sync.sync_account(maya.pk)
    assert outcome.status == SyncState.NEEDS_REAUTH
    assert XAccount.objects.get(user=maya).needs_reauth
    assert DmEvent.objects.filter(owner=maya).count() == cached


def test_two_syncs_of_one_account_never_run_at_once(sandbox, maya):
    assert sync._take_lease(maya.pk)
    assert sync.sync_account(maya.pk).status == "busy"
    SyncState.objects.filter(owner=maya).update(lease_until=None)
    assert sync.sync_account(maya.pk).status == SyncState.IDLE


def test_two_accounts_get_separate_caches_of_a_shared_conversation(sandbox, maya):
    sign_in(Client(), sandbox, "jonas_k")
    jonas = XAccount.objects.get(username="jonas_k").user
    sync.sync_account(maya.pk)
    sync.sync_account(jonas.pk)
    assert_cache_equals(jonas, window_truth(sandbox, "jonas_k"))
    shared = set(DmEvent.objects.filter(owner=maya).values_list("x_id", flat=True)) & set(
        DmEvent.objects.filter(owner=jonas).values_list("x_id", flat=True)
    )
    assert shared  # they share a conversation, and each has a copy of its events
    assert not DmEvent.objects.filter(owner=jonas, conversation__owner=maya).exists()


def test_a_conversation_is_filled_on_its_own_endpoint(sandbox, maya):
    truth = window_truth(sandbox)
    theo = next(u["id"] for u in truth["users"] if u["username"] == "theo_park")
    me = XAccount.objects.get(user=maya).x_user_id
    conversation_id = xids.one_to_one_id(theo, me)
    expected = [e for e in truth["events"] if e["dm_conversation_id"] == conversation_id]
    outcome = sync.sync_conversation(maya.pk, conversation_id)
    assert outcome.status == SyncState.IDLE
    assert outcome.progress.requests == math.ceil(len(expected) / 100)
    cached = DmEvent.objects.filter(owner=maya, conversation__x_id=conversation_id)
    assert sorted(cached.values_list("x_id", flat=True)) == sorted(e["id"] for e in expected)
    assert Conversation.objects.get(owner=maya, x_id=conversation_id).history_complete


def test_events_older_than_the_window_are_kept_after_x_stops_returning_them(sandbox, maya):
    sync.sync_account(maya.pk)
    cached = set(DmEvent.objects.filter(owner=maya).values_list("x_id", flat=True))
    sandbox.admin("POST", "clock", json={"advance_seconds": 10 * 24 * 3600})
    try:
        assert sync.sync_account(maya.pk, full=True).status == SyncState.IDLE
        now_visible = {e["id"] for e in window_truth(sandbox)["events"]}
        assert now_visible < cached  # X forgot some ...
        assert cached <= set(
            DmEvent.objects.filter(owner=maya).values_list("x_id", flat=True)
        )  # we did not
    finally:
        sandbox.admin("POST", "clock", json={"advance_seconds": 0})


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def test_a_worker_killed_at_random_points_resumes_without_loss_or_duplicates(sandbox, maya):
    truth = window_truth(sandbox)
    env = {
        **os.environ,
        **sandbox.urls,
        "DATABASE_URL": _database_url(),
        "XSANDBOX_URL": sandbox.base_url,
    }
    chooser = random.Random(20261123)
    for _ in range(3):
        stop_after = SyncState.objects.get_or_create(owner=maya)[0].pages + chooser.randint(1, 6)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "syncdms", "--account", "maya_reads", "--full"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while worker.poll() is None and time.monotonic() < deadline:
            if SyncState.objects.get(owner=maya).pages >= stop_after:
                break
            time.sleep(chooser.uniform(0.005, 0.05))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # The killed worker's lease runs out; a new one may take the account.
        SyncState.objects.filter(owner=maya).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    assert sync.sync_account(maya.pk).status == SyncState.IDLE
    assert_cache_equals(maya, truth)


def test_the_budget_leaves_room_for_the_conversation_being_read_at_15_requests(tmp_path, settings):
    slow = Sandbox(tmp_path / "sbx", XSANDBOX_RATE_LIMIT="15/900").start()
    try:
        for name, value in slow.urls.items():
            setattr(settings, name, value)
        sign_in(Client(), slow, "maya_reads")
        maya = XAccount.objects.get(username="maya_reads").user
        outcome = sync.sync_account(maya.pk)
        assert outcome.status == SyncState.WAITING  # ~50 pages do not fit in 15 requests
        state = SyncState.objects.get(owner=maya)
        assert state.rate_limit == 15
        assert state.rate_remaining == 3  # held back for the person reading
        # The newest conversations are already in the inbox ...
        assert Conversation.objects.filter(owner=maya).count() >= 10
        # ... and the one being read still jumps the queue.
        quiet = (
            Conversation.objects.filter(owner=maya, history_complete=False)
            .order_by("last_event_at")
            .first()
        )
        assert sync.sync_conversation(maya.pk, quiet.x_id, pages=1).status == SyncState.IDLE
        assert SyncState.objects.get(owner=maya).rate_remaining == 2
    finally:
        slow.stop()


def test_signing_in_queues_the_first_sync_and_the_worker_runs_it(sandbox):
    sign_in(Client(), sandbox, "jonas_k")
    jonas = XAccount.objects.get(username="jonas_k").user
    assert not DmEvent.objects.filter(owner=jonas).exists()
    env = {
        **os.environ,
        **sandbox.urls,
        "DATABASE_URL": _database_url(),
        "XSANDBOX_URL": sandbox.base_url,
    }
    worker = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert SyncState.objects.get(owner=jonas).status == SyncState.IDLE
    assert_cache_equals(jonas, window_truth(sandbox, "jonas_k"))


def test_a_read_timeout_is_retried_and_loses_nothing(sandbox, maya, settings):
    settings.X_TIMEOUT = (5.0, 0.5)
    sandbox.fault("maya_reads", "slow", count=1, seconds=2)
    outcome = sync.sync_account(maya.pk)
    assert outcome.status == SyncState.IDLE
    run = SyncRun.objects.filter(owner=maya).latest("started_at")
    assert run.requests_made == math.ceil(len(window_truth(sandbox)["events"]) / 100) + 1
    assert_cache_equals(maya, window_truth(sandbox))


def test_the_syncdms_command_shows_progress_and_a_summary(sandbox, maya):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("syncdms", "--account", "@maya_reads", stdout=out)
    printed = out.getvalue()
    assert "@maya_reads:" in printed
    assert "[" in printed and "pages" in printed and "back to" in printed
    assert "done:" in printed
    assert DmEvent.objects.filter(owner=maya).exists()
    with pytest.raises(Exception, match="No signed-in account @nobody"):
        call_command("syncdms", "--account", "@nobody", stdout=StringIO())
