"""Importing X's archive: maya signs in against the sandbox, syncs X's 30 days, then imports an
archive (written by tests/archive_factory.py) holding her API events and older history."""

from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from conversations import sync
from conversations.models import Conversation, DmEvent, ImportJob
from dmreader.models import XAccount
from tests import archive_factory as af
from tests.sandbox import Sandbox
from tests.signin_helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

OLD_WORD = "zanzibarquokka"
ANA = "1400000000000000777"
BEN = "1400000000000000778"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(
        tmp_path_factory.mktemp("import-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture
def maya(sandbox):
    client = Client()
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    sync.sync_account(account.user_id)
    return client, account


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def archive_of(sandbox, account, tmp_path, *, account_id=None, username="maya_reads", edit=None):
    """Maya's archive: every MessageCreate X's API has for her (as the archive spells them) and
    an older one-to-one and group the API's 30 days no longer reach."""
    me = account.x_user_id
    truth = sandbox.admin("GET", "truth/maya_reads")
    by_conversation: dict[str, af.Conversation] = {}
    for event in truth["events"]:
        if event["event_type"] != "MessageCreate":
            continue
        key = event["dm_conversation_id"]
        group = "-" not in key
        conversation = by_conversation.setdefault(key, af.Conversation(key, group))
        text = (edit or {}).get(event["id"], event.get("text", ""))
        others = [u for u in key.split("-") if u != event["sender_id"]]
        recipient = None if group else (others or [me])[0]
        conversation.messages.append(
            af.message_create(
                event["id"], event["sender_id"], parse(event["created_at"]), text,
                recipient_id=recipient,
            )
        )  # fmt: skip
    for conversation in by_conversation.values():
        conversation.messages.sort(key=lambda m: m["messageCreate"]["createdAt"], reverse=True)
    old = datetime.fromisoformat("2024-03-01T10:00:00+00:00")
    one_to_one = af.Conversation("-".join(sorted([me, ANA], key=int)), False)
    first = af.snowflake(old, 1)
    one_to_one.messages = [
        af.message_create(
            af.snowflake(old + timedelta(minutes=m), m), ANA if m % 2 else me,
            old + timedelta(minutes=m), f"old message {m} about {OLD_WORD}" if m == 3
            else f"old message {m}", recipient_id=me if m % 2 else ANA,
            reactions=[af.reaction(me, "funny", first, old + timedelta(minutes=m, seconds=5))]
            if m == 3 else (),
        )
        for m in range(60, 0, -1)
    ]  # fmt: skip
    group_id = af.snowflake(old, 50)
    group = af.Conversation(group_id, True)
    group.messages = [
        af.message_create(af.snowflake(old + timedelta(hours=2), 51), ANA,
                          old + timedelta(hours=2), "who's in for Lisbon?"),
        af.conversation_name_update(ANA, "Lisbon trip", old + timedelta(hours=1)),
        af.participants_join(me, [BEN], old + timedelta(minutes=30)),
        af.join_conversation(ANA, [me, ANA], old),
    ]  # fmt: skip
    return af.write_archive(
        tmp_path / "archive.zip",
        [c for c in by_conversation.values() if not c.group] + [one_to_one],
        [c for c in by_conversation.values() if c.group] + [group],
        account_id=account_id or me,
        username=username,
    )


def snapshot(owner_id) -> dict:
    return {
        e.x_id: (e.text, e.event_type, e.conversation.x_id, e.created_at)
        for e in DmEvent.objects.filter(owner_id=owner_id).select_related("conversation")
    }


def test_an_import_adds_older_history_once_and_a_second_changes_nothing(sandbox, maya, tmp_path):
    client, account = maya
    synced = snapshot(account.user_id)
    some_id = next(iter(synced))
    archive = archive_of(sandbox, account, tmp_path, edit={some_id: "the archive's older text"})

    call_command("importarchive", str(archive.path), "--account", "@maya_reads")

    after = snapshot(account.user_id)
    ids = list(DmEvent.objects.filter(owner_id=account.user_id).values_list("x_id", flat=True))
    assert not [x for x, n in Counter(ids).items() if n > 1]  # no event twice
    assert {k: after[k] for k in synced} == synced  # what X's API said wins
    truth = sandbox.admin("GET", "truth/maya_reads")["events"]
    messages = {e["id"] for e in truth if e["event_type"] == "MessageCreate"}
    assert messages - set(synced)  # the archive reaches past X's 30 days
    # X's history past its 30 days, the older one-to-one and the group's four events.
    assert len(after) == len(set(synced) | messages) + 60 + 4
    old = DmEvent.objects.get(owner_id=account.user_id, text__contains=OLD_WORD)
    assert old.raw["archive"]["messageCreate"]["reactions"][0]["reactionKey"] == "funny"

    # Older history reads, scrolls and searches like the rest, and now ends where the
    # conversation began (the archive holds everything before it), not at X's 30 days.
    page = client.get(f"/c/{old.conversation.x_id}/")
    assert page.status_code == 200
    events = DmEvent.objects.filter(owner_id=account.user_id, conversation=old.conversation)
    anchor = events.order_by("created_at", "sort_id")[10]
    oldest = client.get(f"/c/{old.conversation.x_id}/", {"before": anchor.x_id}).content.decode()
    assert '<li class="history-end">Beginning of the conversation</li>' in oldest
    job = ImportJob.objects.get(owner_id=account.user_id)  # the Import page lists it too
    assert (job.status, job.messages_new) == (ImportJob.DONE, len(after) - len(synced))
    assert "archive.zip" in client.get("/import/").content.decode()
    found = client.get("/search/", {"q": OLD_WORD})
    assert OLD_WORD in found.content.decode()
    assert Conversation.objects.filter(owner_id=account.user_id, x_id=old.conversation.x_id)

    # A rename is a system line in the group (its author shown by id: the archive names no one).
    rename = DmEvent.objects.get(owner_id=account.user_id, event_type="ConversationNameUpdate")
    group_page = client.get(f"/c/{rename.conversation.x_id}/").content.decode()
    assert f"user {ANA} named the group “Lisbon trip”" in group_page
    assert f"user {ANA} added you to the group" in group_page

    call_command("importarchive", str(archive.path), "--account", "maya_reads")
    assert snapshot(account.user_id) == after


def test_another_accounts_archive_is_refused_naming_both_before_anything_is_stored(
    sandbox, maya, tmp_path
):
    _, account = maya
    before = snapshot(account.user_id)
    archive = archive_of(
        sandbox, account, tmp_path, account_id="1400000000000000999", username="jonas_k"
    )
    with pytest.raises(CommandError) as refused:
        call_command("importarchive", str(archive.path), "--account", "@maya_reads")
    assert "@jonas_k" in str(refused.value) and "@maya_reads" in str(refused.value)
    assert snapshot(account.user_id) == before


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"not a zip at all"), "ZIP"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), ""),
    ],
    ids=["not-a-zip", "truncated"],
)
def test_a_bad_archive_gets_its_message_and_stores_nothing(
    sandbox, maya, tmp_path, damage, message
):
    _, account = maya
    before = snapshot(account.user_id)
    archive = archive_of(sandbox, account, tmp_path)
    damage(archive.path)
    with pytest.raises(CommandError) as refused:
        call_command("importarchive", str(archive.path), "--account", "@maya_reads")
    assert message in str(refused.value)
    assert snapshot(account.user_id) == before


def test_an_import_before_the_first_sync_gives_way_to_what_x_api_says(sandbox, tmp_path):
    client = Client()
    sign_in(client, sandbox, "maya_reads")
    account = XAccount.objects.get(username="maya_reads")
    truth = sandbox.admin("GET", "truth/maya_reads")["events"]
    newest = max(
        (e for e in truth if e["event_type"] == "MessageCreate"), key=lambda e: e["created_at"]
    )
    archive = archive_of(sandbox, account, tmp_path, edit={newest["id"]: "the archive's text"})
    call_command("importarchive", str(archive.path), "--account", "@maya_reads")
    assert DmEvent.objects.get(owner_id=account.user_id, x_id=newest["id"]).text == (
        "the archive's text"
    )

    sync.sync_account(account.user_id)

    ids = list(DmEvent.objects.filter(owner_id=account.user_id).values_list("x_id", flat=True))
    assert not [x for x, n in Counter(ids).items() if n > 1]
    row = DmEvent.objects.get(owner_id=account.user_id, x_id=newest["id"])
    assert row.text == newest["text"]
    assert row.raw["archive"]["messageCreate"]["text"] == "the archive's text"  # nothing lost
    after = snapshot(account.user_id)
    call_command("importarchive", str(archive.path), "--account", "@maya_reads")
    assert snapshot(account.user_id) == after
