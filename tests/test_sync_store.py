"""Odd and hostile pages stored by sync.store_page: stored as sent or reported, never a crash."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from conversations import store, xapi
from conversations.models import Conversation, DmEvent, SharedPost, XUser
from conversations.sync import Progress, store_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return get_user_model().objects.create_user("x1")


def message(x_id, text="hi", conversation="100-200", sender="100", **extra):
    return {
        "id": x_id,
        "event_type": "MessageCreate",
        "text": text,
        "created_at": "2026-11-01T10:00:00.000Z",
        "dm_conversation_id": conversation,
        "sender_id": sender,
        **extra,
    }


def test_nineteen_digit_ids_are_kept_as_given_and_ordered_as_numbers(owner):
    body = {"data": [message("9999999999999999999"), message("1000000000000000000"), message("42")]}
    store_page(owner.pk, body, progress=Progress())
    ordered = DmEvent.objects.filter(owner=owner).order_by("sort_id").values_list("x_id", flat=True)
    assert list(ordered) == ["42", "1000000000000000000", "9999999999999999999"]


def test_an_unknown_event_type_and_unknown_fields_are_stored_as_sent(owner):
    odd = message("7", event_type="ReactionCreate", reaction={"emoji": "🔥"})
    store_page(owner.pk, {"data": [odd]}, progress=Progress())
    event = DmEvent.objects.get(owner=owner, x_id="7")
    assert event.event_type == "ReactionCreate"
    assert event.raw["reaction"] == {"emoji": "🔥"}


def test_a_huge_text_is_stored_whole(owner):
    text = "<script>alert(1)</script>" + "ש" * 200_000
    store_page(owner.pk, {"data": [message("8", text=text)]}, progress=Progress())
    assert DmEvent.objects.get(owner=owner, x_id="8").text == text


def test_events_without_what_places_them_are_reported_not_stored(owner):
    progress = Progress()
    broken = [
        {"id": "9", "event_type": "MessageCreate", "text": "no conversation"},
        message("not-a-number"),
        message("10", created_at="yesterday"),
        "not even an object",
    ]
    new, _ = store_page(owner.pk, {"data": broken}, progress=progress)
    assert new == 0
    assert len(progress.problems) == 3
    assert not DmEvent.objects.filter(owner=owner).exists()


def test_missing_includes_leave_placeholders_that_later_pages_fill_in(owner):
    store_page(
        owner.pk,
        {"data": [message("11", sender="300", conversation="100-300")]},
        progress=Progress(),
    )
    sender = XUser.objects.get(owner=owner, x_id="300")
    assert sender.username == ""
    later = {
        "data": [message("12", sender="300", conversation="100-300")],
        "includes": {"users": [{"id": "300", "name": "Ana", "username": "ana"}]},
    }
    store_page(owner.pk, later, progress=Progress())
    sender.refresh_from_db()
    assert (sender.username, sender.name) == ("ana", "Ana")
    assert DmEvent.objects.get(x_id="11").sender == sender


def test_a_page_of_garbage_shapes_stores_nothing_and_raises_nothing(owner):
    for body in (
        {"data": "nope"},
        {"data": None, "includes": []},
        {},
        {"includes": {"users": "x"}},
    ):
        assert store_page(owner.pk, body, progress=Progress()) == (0, False)


def test_a_deleted_post_keeps_what_was_cached_before(owner):
    shared = message("13", referenced_tweets=[{"id": "555"}])
    page = {
        "data": [shared],
        "includes": {"tweets": [{"id": "555", "text": "original words", "author_id": "100"}]},
    }
    store_page(owner.pk, page, progress=Progress())
    gone = {
        "data": [message("14", referenced_tweets=[{"id": "555"}])],
        "errors": [
            {
                "resource_type": "tweet",
                "resource_id": "555",
                "value": "555",
                "title": "Not Found Error",
            }
        ],
    }
    store_page(owner.pk, gone, progress=Progress())
    post = SharedPost.objects.get(owner=owner, x_id="555")
    assert post.unavailable and post.text == "original words"
    assert list(DmEvent.objects.get(x_id="14").shared_posts.all()) == [post]


def test_storing_the_same_page_twice_changes_nothing(owner):
    page = {
        "data": [message("15"), message("16")],
        "includes": {"users": [{"id": "100", "name": "A", "username": "a"}]},
    }
    assert store_page(owner.pk, page, progress=Progress())[0] == 2
    assert store_page(owner.pk, page, progress=Progress())[0] == 0
    assert DmEvent.objects.filter(owner=owner).count() == 2
    assert Conversation.objects.filter(owner=owner).count() == 1


def test_a_page_reaching_the_stop_id_says_so(owner):
    page = {"data": [message("20"), message("19")]}
    assert store_page(owner.pk, page, progress=Progress(), stop_id="0000000000000000019") == (
        2,
        True,
    )
    assert store_page(
        owner.pk, {"data": [message("21")]}, progress=Progress(), stop_id="0000000000000000019"
    ) == (1, False)


def test_one_owners_rows_are_invisible_to_another(owner):
    other = get_user_model().objects.create_user("x2")
    store_page(owner.pk, {"data": [message("30")]}, progress=Progress())
    store_page(other.pk, {"data": [message("30")]}, progress=Progress())
    assert DmEvent.objects.filter(x_id="30").count() == 2
    assert DmEvent.objects.get(owner=other, x_id="30").conversation.owner == other


def test_partial_errors_are_recorded_once_for_the_run(owner):
    progress = Progress()
    gone = {"resource_type": "user", "resource_id": "811298434", "title": "Not Found Error"}
    page = {
        "data": [message("40", sender="811298434", conversation="100-811298434")],
        "errors": [gone],
    }
    store_page(owner.pk, page, progress=progress)
    store_page(
        owner.pk,
        {**page, "data": [message("41", sender="811298434", conversation="100-811298434")]},
        progress=progress,
    )
    assert progress.problems == ["X did not return user 811298434: Not Found Error"]
    assert XUser.objects.get(owner=owner, x_id="811298434").unavailable


def test_nul_is_shown_in_text_and_kept_reversibly_in_json_on_every_database(owner):
    # PostgreSQL's text and jsonb cannot hold U+0000; the private-use escape must survive too.
    tricky = "a\x00b \ue000 \ue0000 \x00\x00"
    sent = message("50", text=tricky, entities={"note": tricky, tricky: [tricky]})
    store_page(owner.pk, {"data": [sent]}, progress=Progress())
    event = DmEvent.objects.get(owner=owner, x_id="50")
    assert event.text == tricky.replace("\x00", "\u2400")
    assert len(event.text) == len(tricky)  # X's entity indices still point at the same places
    assert "\x00" not in str(event.raw)
    assert store.as_sent(event.raw) == sent
    assert store.as_sent(event.entities) == sent["entities"]


def test_the_store_takes_parsed_objects_from_any_source(owner):
    # What an X archive import will call: no X JSON, only the client's dataclasses.
    event = xapi.EventData(
        id="60",
        conversation_id="100-200",
        event_type="MessageCreate",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        text="from the archive",
        sender_id="100",
        participant_ids=[],
        entities={},
        media_keys=[],
        post_ids=[],
        raw={"id": "60"},
    )
    users = [xapi.UserData(id="100", raw={"id": "100", "username": "a"}, username="a")]
    assert store.store_events(owner.pk, [event], users=users).new == 1
    cached = DmEvent.objects.get(owner=owner, x_id="60")
    assert (cached.sender.username, cached.conversation.x_id) == ("a", "100-200")
