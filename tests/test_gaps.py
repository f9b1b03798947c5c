"""Honest gaps (issue 10 §2): when the cache and what X still holds no longer meet, the person is
told where, in the conversation and on the inbox. Driven by the sandbox's clock."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conversations import gaps, sync
from conversations.models import DmEvent, HistoryGap, SyncState
from dmreader.models import XAccount
from tests.sandbox import Sandbox
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "could not be fetched: X keeps only the last 30 days."


@pytest.fixture
def sandbox(tmp_path_factory):
    """Each test's own sandbox: they move its clock by weeks."""
    server = Sandbox(
        tmp_path_factory.mktemp("gaps-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def jonas(sandbox):
    client = Client()
    sign_in(client, sandbox, "jonas_k")
    owner = XAccount.objects.get(username="jonas_k").user
    assert sync.sync_account(owner.pk).status == SyncState.IDLE
    return client, owner


def send(sandbox, conversation_id: str, text: str) -> str:
    body = {"conversation_id": conversation_id, "sender": "jonas_k", "text": text}
    return sandbox.admin("POST", "events", json=body)["id"]


def test_a_gap_from_forty_days_away_is_shown_where_it_is(sandbox, jonas):
    client, owner = jonas
    last_cached = DmEvent.objects.filter(owner=owner).latest("created_at")
    conversation = last_cached.conversation
    lost = send(sandbox, conversation.x_id, "Sent while DM Reader was off")
    # DM Reader is off for 40 days: X's window lets the message above go meanwhile.
    sandbox.admin("POST", "clock", json={"advance_seconds": 40 * 86400})
    SyncState.objects.filter(owner=owner).update(
        last_success_at=timezone.now() - timedelta(days=40)
    )
    back = send(sandbox, conversation.x_id, "Back online")

    assert sync.sync_account(owner.pk).status == SyncState.IDLE
    assert not DmEvent.objects.filter(owner=owner, x_id=lost).exists()
    after = DmEvent.objects.get(owner=owner, x_id=back)
    line = (
        f"Messages from {gaps._day(last_cached.created_at)} to {gaps._day(after.created_at)} "
        + SENTENCE
    )
    page = client.get(f"/c/{conversation.x_id}/").content.decode()
    page = page[page.index('id="thread"') :]  # the thread, not the inbox pane beside it
    assert line in page
    # At its place: after the last message cached before it, before the first one after it.
    assert page.index(f'id="e{last_cached.x_id}"') < page.index(line) < page.index(f'id="e{back}"')
    inbox = client.get("/").content.decode()
    assert SENTENCE in inbox
    assert HistoryGap.objects.filter(owner=owner, conversation=conversation).count() == 1


def test_no_gap_when_the_last_sync_was_within_x_window(sandbox, jonas):
    client, owner = jonas
    conversation = DmEvent.objects.filter(owner=owner).latest("created_at").conversation
    # A quiet inbox: its newest event ages out of X's window while DM Reader keeps syncing.
    sandbox.admin("POST", "clock", json={"advance_seconds": 40 * 86400})
    send(sandbox, conversation.x_id, "Hello again")
    assert sync.sync_account(owner.pk).status == SyncState.IDLE
    assert not HistoryGap.objects.exists()
    assert SENTENCE not in client.get(f"/c/{conversation.x_id}/").content.decode()
    assert SENTENCE not in client.get("/").content.decode()
