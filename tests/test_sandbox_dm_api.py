"""The sandbox's DM lookup endpoints behave as docs/x-api.md §2 to §5, §8 and §9 describe X's."""

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import requests

from tests.sandbox import REPO, Sandbox
from xsandbox.params import Cursor, decode_token, encode_token

ALL_EVENT_FIELDS = (
    "attachments,created_at,dm_conversation_id,entities,event_type,id,participant_ids,"
    "referenced_tweets,sender_id,text"
)
ALL_EXPANSIONS = "attachments.media_keys,participant_ids,referenced_tweets.id,sender_id"
ALL_MEDIA_FIELDS = (
    "alt_text,duration_ms,height,media_key,preview_image_url,public_metrics,type,url,variants,width"
)
ENTITY_KINDS = {"urls", "mentions", "hashtags", "cashtags"}
WINDOW = timedelta(days=30)
TOKEN = re.compile(r"^[0-9A-V]{20}ZZZZ$")


class Api:
    """X's API on a sandbox, as one account."""

    def __init__(self, sandbox: Sandbox, token: str) -> None:
        self.base_url, self.token = sandbox.base_url, token

    def get(self, path: str, query: dict | None = None) -> requests.Response:
        return requests.get(
            self.base_url + path,
            params=query,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def body(self, path: str, query: dict | None = None) -> dict:
        response = self.get(path, query)
        assert response.status_code == 200, response.text
        return response.json()

    def walk(self, path: str, query: dict | None = None) -> list[dict]:
        """Every event of a list endpoint, following next_token to the end."""
        query, events = dict(query or {}), []
        while True:
            body = self.body(path, query)
            events += body.get("data", [])
            if "next_token" not in body["meta"]:
                return events
            query["pagination_token"] = body["meta"]["next_token"]


@pytest.fixture(scope="module")
def dm_sandbox(tmp_path_factory):
    """A sandbox of this module's own: these tests send many requests and move its clock."""
    server = Sandbox(tmp_path_factory.mktemp("dm-sandbox"), XSANDBOX_RATE_LIMIT="100000/900")
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def maya(dm_sandbox) -> Api:
    return Api(dm_sandbox, dm_sandbox.token("maya_reads")["access_token"])


@pytest.fixture(scope="module")
def world(dm_sandbox) -> dict:
    """maya_reads's ground truth as the module starts, indexed, with the events of the last 29 days
    (a day's margin from the window's edge, which moves while the tests run). Tests that add events
    or need every event fetch a fresh truth."""
    truth = dm_sandbox.admin("GET", "truth/maya_reads")
    now = datetime.fromisoformat(dm_sandbox.admin("GET", "clock")["now"])
    users = {u["id"]: u for u in truth["users"]}
    by_name = {u["username"]: u["id"] for u in truth["users"]}
    maya_id, theo_id = int(by_name["maya_reads"]), int(by_name["theo_park"])
    return {
        "truth": truth,
        "now": now,
        "recent": [e for e in truth["events"] if now - created(e) < WINDOW - timedelta(days=1)],
        "users": users,
        "gone": {uid for uid, u in users.items() if u["gone"]},
        "deleted": {t["id"] for t in truth["tweets"] if t["deleted"]},
        "media": {m["media_key"]: m for m in truth["media"]},
        "theo": str(theo_id),
        "with_theo": one_to_one(maya_id, theo_id),
        "group": next(c["id"] for c in truth["conversations"] if c["is_group"]),
    }


def created(event: dict) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


def newest(world: dict, test) -> dict:
    found = [e for e in world["recent"] if test(e)]
    assert found, "the seed data has no such event in the last 29 days"
    return found[0]


def ids(events: list[dict]) -> list[int]:
    return [int(e["id"]) for e in events]


# Fields ----------------------------------------------------------------------------------------------


def test_events_come_with_only_the_default_fields_when_none_are_requested(maya, world):
    body = maya.body(f"/2/dm_conversations/{world['group']}/dm_events")
    assert body["data"] and set(body) == {"data", "meta"}
    for event in body["data"]:
        if event["event_type"] == "MessageCreate":
            assert set(event) == {"id", "event_type", "text"}
        else:
            assert set(event) == {"id", "event_type", "participant_ids"}
        assert isinstance(event["id"], str) and event["id"].isdigit()


def test_requested_fields_appear_only_on_the_event_types_they_apply_to(maya, world):
    events = maya.walk(
        f"/2/dm_conversations/{world['group']}/dm_events", {"dm_event.fields": ALL_EVENT_FIELDS}
    )
    kinds = {e["event_type"] for e in events}
    assert kinds == {"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"}
    for event in events:
        assert event["dm_conversation_id"] == world["group"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", event["created_at"])
        if event["event_type"] == "MessageCreate":
            assert "participant_ids" not in event and "text" in event and "sender_id" in event
        else:
            assert not {"text", "attachments", "referenced_tweets", "entities"} & set(event)
            assert event["participant_ids"] and all(p.isdigit() for p in event["participant_ids"])
        if event["event_type"] == "ParticipantsJoin":
            assert event["sender_id"].isdigit()
        if event["event_type"] == "ParticipantsLeave":
            assert "sender_id" not in event


def test_events_are_rendered_as_the_ground_truth_has_them(dm_sandbox, maya):
    events = maya.walk("/2/dm_events", {"dm_event.fields": ALL_EVENT_FIELDS})
    truth = {e["id"]: e for e in dm_sandbox.admin("GET", "truth/maya_reads")["events"]}
    assert events and all(event == truth[event["id"]] for event in events)


def test_entities_are_nested_and_only_the_non_empty_arrays_are_sent(maya, world):
    event = newest(world, lambda e: "entities" in e)
    plain = maya.body(f"/2/dm_events/{event['id']}")["data"]
    assert "entities" not in plain
    data = maya.body(f"/2/dm_events/{event['id']}", {"dm_event.fields": "entities"})["data"]
    assert data["entities"] and set(data["entities"]) <= ENTITY_KINDS
    assert all(data["entities"].values())
    assert not ENTITY_KINDS & set(data)


def test_an_expansion_puts_its_id_field_on_the_event(maya, world):
    event = newest(world, lambda e: "attachments" in e)
    data = maya.body(f"/2/dm_events/{event['id']}", {"expansions": "attachments.media_keys"})
    assert data["data"]["attachments"] == event["attachments"]


# Expansions ------------------------------------------------------------------------------------------


def test_senders_appear_once_each_in_includes_with_the_default_user_fields(maya, world):
    body = maya.body(
        f"/2/dm_conversations/{world['with_theo']}/dm_events", {"expansions": "sender_id"}
    )
    senders = {e["sender_id"] for e in body["data"]}
    users = body["includes"]["users"]
    assert [u["id"] for u in users] == list(dict.fromkeys(u["id"] for u in users))
    assert {u["id"] for u in users} == senders
    assert all(set(u) == {"id", "name", "username"} for u in users)


def test_user_fields_add_profile_details_and_an_absolute_avatar_url(maya, world):
    fields = "created_at,description,profile_image_url,protected,public_metrics,verified"
    body = maya.body(
        f"/2/dm_conversations/{world['with_theo']}/dm_events",
        {"expansions": "sender_id", "user.fields": fields, "max_results": "20"},
    )
    for user in body["includes"]["users"]:
        assert user["profile_image_url"].startswith(f"{maya.base_url}/profile_images/{user['id']}/")
        assert user["profile_image_url"].endswith("_normal.jpg")
        assert {"created_at", "protected", "public_metrics", "verified"} <= set(user)
        assert requests.get(user["profile_image_url"], timeout=30).status_code == 200


def test_participant_ids_expand_to_the_users_who_joined_or_left(maya, world):
    event = newest(
        world,
        lambda e: (
            e["event_type"] != "MessageCreate" and not set(e["participant_ids"]) & world["gone"]
        ),
    )
    body = maya.body(f"/2/dm_events/{event['id']}", {"expansions": "participant_ids"})
    assert [u["id"] for u in body["includes"]["users"]] == event["participant_ids"]
    assert "errors" not in body


@pytest.mark.parametrize("media_type", ["photo", "video", "animated_gif"])
def test_media_expand_with_their_fields_and_absolute_urls(maya, world, media_type):
    event = newest(
        world,
        lambda e: any(
            world["media"][k]["type"] == media_type
            for k in e.get("attachments", {}).get("media_keys", [])
        ),
    )
    path = f"/2/dm_events/{event['id']}"
    plain = maya.body(path, {"expansions": "attachments.media_keys"})["includes"]["media"]
    assert all(set(m) == {"media_key", "type"} for m in plain)
    media = maya.body(
        path, {"expansions": "attachments.media_keys", "media.fields": ALL_MEDIA_FIELDS}
    )["includes"]["media"][0]
    truth = world["media"][media["media_key"]]
    assert without_base(media, maya.base_url) == without_base(truth, maya.base_url)
    assert media["width"] > 0 and media["height"] > 0
    if media_type == "photo":
        media_id = media["media_key"].split("_")[1]
        assert media["url"].startswith(f"{maya.base_url}/1.1/ton/data/dm/{event['id']}/{media_id}/")
        assert not {"variants", "preview_image_url", "duration_ms"} & set(media)
    else:
        assert "url" not in media and media["variants"]
        assert all(v["url"].startswith(maya.base_url + "/") for v in media["variants"])
        assert media["preview_image_url"].startswith(maya.base_url + "/")
    assert ("duration_ms" in media) == (media_type == "video")


def without_base(value, base_url: str):
    """URLs made root-relative: ground truth may have them so, the API never does."""
    if isinstance(value, dict):
        return {k: without_base(v, base_url) for k, v in value.items()}
    if isinstance(value, list):
        return [without_base(v, base_url) for v in value]
    if isinstance(value, str) and value.startswith(base_url + "/"):
        return value[len(base_url) :]
    return value


def shares_live_posts(world: dict):
    def test(event: dict) -> bool:
        shared = {r["id"] for r in event.get("referenced_tweets", [])}
        return bool(shared) and not shared & world["deleted"]

    return test


def test_shared_posts_expand_with_the_default_post_fields(maya, world):
    event = newest(world, shares_live_posts(world))
    body = maya.body(f"/2/dm_events/{event['id']}", {"expansions": "referenced_tweets.id"})
    assert body["data"]["referenced_tweets"] == event["referenced_tweets"]
    for tweet in body["includes"]["tweets"]:
        assert set(tweet) == {"id", "text", "edit_history_tweet_ids"}
        assert tweet["edit_history_tweet_ids"] == [tweet["id"]]


def test_tweet_fields_describe_the_shared_post(maya, world):
    event = newest(world, shares_live_posts(world))
    fields = "author_id,created_at,conversation_id,lang,public_metrics,possibly_sensitive"
    body = maya.body(
        f"/2/dm_events/{event['id']}",
        {"expansions": "referenced_tweets.id", "tweet.fields": fields},
    )
    truth = {t["id"]: t for t in world["truth"]["tweets"]}
    for tweet in body["includes"]["tweets"]:
        assert set(fields.split(",")) <= set(tweet)
        assert all(tweet[k] == truth[tweet["id"]][k] for k in tweet)


def test_post_names_are_answered_in_the_post_vocabulary(maya, world):
    event = newest(world, shares_live_posts(world))
    body = maya.body(
        f"/2/dm_events/{event['id']}",
        {"expansions": "referenced_posts", "post.fields": "created_at"},
    )
    assert body["data"]["referenced_posts"] == event["referenced_tweets"]
    assert "referenced_tweets" not in body["data"] and "tweets" not in body["includes"]
    post = body["includes"]["posts"][0]
    assert post["edit_history_post_ids"] == [post["id"]] and "created_at" in post


def test_a_gone_sender_is_reported_in_errors_instead_of_includes(maya, world):
    event = newest(world, lambda e: e.get("sender_id") in world["gone"])
    body = maya.body(f"/2/dm_events/{event['id']}", {"expansions": "sender_id"})
    assert body["data"]["sender_id"] == event["sender_id"]
    assert "users" not in body.get("includes", {})
    assert body["errors"] == [
        {
            "value": event["sender_id"],
            "detail": f"Could not find user with sender_id: [{event['sender_id']}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "sender_id",
            "resource_id": event["sender_id"],
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ]


def test_a_deleted_post_is_reported_in_errors_instead_of_includes(maya, world):
    event = newest(
        world, lambda e: {r["id"] for r in e.get("referenced_tweets", [])} & world["deleted"]
    )
    body = maya.body(f"/2/dm_events/{event['id']}", {"expansions": "referenced_tweets.id"})
    deleted = [r["id"] for r in event["referenced_tweets"] if r["id"] in world["deleted"]]
    shown = [t["id"] for t in body.get("includes", {}).get("tweets", [])]
    assert not set(deleted) & set(shown)
    assert [(e["parameter"], e["resource_type"], e["value"]) for e in body["errors"]] == [
        ("referenced_tweets.id", "tweet", tweet_id) for tweet_id in deleted
    ]


# Paging ----------------------------------------------------------------------------------------------


def test_next_tokens_walk_a_whole_conversation_once_newest_first(dm_sandbox, maya, world):
    events = maya.walk(
        f"/2/dm_conversations/{world['with_theo']}/dm_events",
        {"dm_event.fields": "created_at", "max_results": "100"},
    )
    walked = ids(events)
    assert walked == sorted(set(walked), reverse=True)
    truth = dm_sandbox.admin("GET", "truth/maya_reads")["events"]
    in_conversation = [e for e in truth if e["dm_conversation_id"] == world["with_theo"]]
    edge = datetime.fromisoformat(dm_sandbox.admin("GET", "clock")["now"]) - WINDOW
    surely_in = {int(e["id"]) for e in in_conversation if created(e) > edge + timedelta(minutes=5)}
    maybe_in = {int(e["id"]) for e in in_conversation if created(e) > edge - timedelta(minutes=5)}
    assert surely_in <= set(walked) <= maybe_in
    assert len(walked) > 1000


def test_previous_tokens_walk_back_to_the_newest_page(maya, world):
    path = f"/2/dm_conversations/{world['with_theo']}/dm_events"
    pages = [maya.body(path, {"max_results": "50"})]
    for _ in range(3):
        pages.append(
            maya.body(
                path, {"max_results": "50", "pagination_token": pages[-1]["meta"]["next_token"]}
            )
        )
    back = pages[-1]
    for page in reversed(pages[:-1]):
        back = maya.body(
            path, {"max_results": "50", "pagination_token": back["meta"]["previous_token"]}
        )
        assert back["data"] == page["data"]
    newer = maya.body(
        path, {"max_results": "50", "pagination_token": back["meta"]["previous_token"]}
    )
    assert newer == {"meta": {"result_count": 0}}


def test_every_page_has_a_previous_token_and_a_short_last_page_has_no_next_token(maya, world):
    body = maya.body(f"/2/dm_conversations/{world['group']}/dm_events", {"max_results": "100"})
    assert body["meta"]["result_count"] == len(body["data"]) < 100
    assert set(body["meta"]) == {"result_count", "previous_token"}
    assert TOKEN.match(body["meta"]["previous_token"])


def test_a_full_page_with_older_events_has_a_next_token(maya, world):
    body = maya.body(f"/2/dm_conversations/{world['with_theo']}/dm_events", {"max_results": "1"})
    assert body["meta"]["result_count"] == 1
    assert TOKEN.match(body["meta"]["next_token"]) and TOKEN.match(body["meta"]["previous_token"])
    assert decode_token(body["meta"]["next_token"]) == Cursor(
        older=True, anchor=int(body["data"][0]["id"])
    )


def test_new_events_do_not_shift_the_pages_of_a_walk_in_progress(dm_sandbox, maya, world):
    path = f"/2/dm_conversations/{world['with_theo']}/dm_events"
    first = maya.body(path, {"max_results": "5"})
    expected_second = maya.body(
        path, {"max_results": "5", "pagination_token": first["meta"]["next_token"]}
    )
    added = dm_sandbox.admin(
        "POST",
        "events",
        json={"with": ["maya_reads", "theo_park"], "sender": "theo_park", "text": "late arrival"},
    )
    second = maya.body(path, {"max_results": "5", "pagination_token": first["meta"]["next_token"]})
    assert second == expected_second
    newer = maya.body(
        path, {"max_results": "5", "pagination_token": first["meta"]["previous_token"]}
    )
    assert [e["id"] for e in newer["data"]] == [added["id"]]
    assert maya.body(path, {"max_results": "1"})["data"][0]["text"] == "late arrival"


def test_tokens_are_byte_for_byte_the_recorded_format():
    # The next and previous tokens of tweepy's recording (docs/x-api.md §8.1) and their anchors.
    assert (
        encode_token(Cursor(older=True, anchor=1585800613253812228)) == "18LAA5G1SL0NR5OG0G00ZZZZ"
    )
    assert (
        encode_token(Cursor(older=False, anchor=1585800613752881156)) == "1BLC45G1SL0PMLI00G00ZZZZ"
    )
    assert decode_token("18LAA5G1V9DLILOG0G00ZZZZ") == Cursor(
        older=True, anchor=1585823814058971140
    )
    assert decode_token("18LAA5G1V9DLILOG0G01ZZZZ") is None
    assert decode_token("meta.next_token") is None


# Filters and the window ------------------------------------------------------------------------------


def test_event_types_narrow_the_list(maya, world):
    events = maya.walk(
        f"/2/dm_conversations/{world['group']}/dm_events",
        {"event_types": "ParticipantsJoin,ParticipantsLeave"},
    )
    assert events and {e["event_type"] for e in events} == {"ParticipantsJoin", "ParticipantsLeave"}


def test_max_results_sizes_the_page(maya):
    assert maya.body("/2/dm_events", {"max_results": "7"})["meta"]["result_count"] == 7
    assert maya.body("/2/dm_events")["meta"]["result_count"] == 100


def test_all_conversations_are_listed_together_newest_first(maya, world):
    events = maya.walk("/2/dm_events", {"dm_event.fields": "dm_conversation_id"})
    assert ids(events) == sorted(ids(events), reverse=True)
    conversations = {e["dm_conversation_id"] for e in events}
    assert {world["with_theo"], world["group"]} <= conversations
    assert conversations <= {c["id"] for c in world["truth"]["conversations"]}


def test_the_two_one_to_one_endpoints_answer_alike(maya, world):
    query = {"dm_event.fields": ALL_EVENT_FIELDS, "max_results": "30"}
    by_participant = maya.body(f"/2/dm_conversations/with/{world['theo']}/dm_events", query)
    by_id = maya.body(f"/2/dm_conversations/{world['with_theo']}/dm_events", query)
    assert by_participant == by_id


def test_nothing_outside_the_30_day_window_or_after_now_is_returned(dm_sandbox, maya, world):
    path = f"/2/dm_conversations/{world['with_theo']}/dm_events"
    query = {"dm_event.fields": "created_at"}
    older_in_truth = [
        e
        for e in world["truth"]["events"]
        if e["dm_conversation_id"] == world["with_theo"]
        and world["now"] - created(e) > WINDOW + timedelta(days=2)
    ]
    assert older_in_truth, "the seed data should reach back further than the window"
    now_events = maya.walk(path, query)
    dm_sandbox.admin("POST", "clock", json={"advance_seconds": -2 * 86400})
    try:
        past = datetime.fromisoformat(dm_sandbox.admin("GET", "clock")["now"])
        past_events = maya.walk(path, query)
    finally:
        dm_sandbox.admin("POST", "clock", json={"advance_seconds": 2 * 86400})
    # created_at shows whole seconds: an event at the window's edge may read up to 1s older.
    assert all(past - WINDOW - timedelta(seconds=1) <= created(e) <= past for e in past_events)
    assert created(past_events[-1]) < created(now_events[-1])  # the window slid back
    assert created(past_events[0]) < created(now_events[0])  # later events aren't there yet
    by_id = maya.body(f"/2/dm_events/{older_in_truth[0]['id']}")
    assert "data" not in by_id and by_id["errors"][0]["resource_type"] == "dm_event"


# Cost ------------------------------------------------------------------------------------------------

# Run inside the sandbox's settings against the test sandbox's database: the views' own queries can
# only be counted in-process, and the app's test settings don't know the sandbox's models.
COUNT_QUERIES = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
token, queries = sys.argv[1], json.loads(sys.argv[2])
counts = []
for query in queries:
    with CaptureQueriesContext(connection) as captured:
        response = Client().get("/2/dm_events", query, HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 200, response.content
    counts.append(len(captured.captured_queries))
print(json.dumps(counts))
"""


def test_a_full_page_with_every_expansion_costs_three_queries_more_than_one_bare_event(
    dm_sandbox, maya
):
    everything = {
        "max_results": "100",
        "dm_event.fields": ALL_EVENT_FIELDS,
        "expansions": ALL_EXPANSIONS,
        "media.fields": ALL_MEDIA_FIELDS,
        "user.fields": "created_at,profile_image_url,public_metrics",
        "tweet.fields": "author_id,created_at,public_metrics",
    }
    full = maya.body("/2/dm_events", everything)
    assert {"users", "media", "tweets"} <= set(full["includes"])
    counted = subprocess.run(
        [
            sys.executable,
            "-c",
            COUNT_QUERIES,
            maya.token,
            json.dumps([{"max_results": "1"}, everything]),
        ],
        env=dm_sandbox.env | {"DJANGO_SETTINGS_MODULE": "xsandbox.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    bare, full_page = json.loads(counted.stdout)
    assert full_page - bare == 3  # one each for users, media and posts: no N+1


# Who may read what -----------------------------------------------------------------------------------


def test_another_users_conversation_reads_as_empty(dm_sandbox, maya, world):
    theirs = dm_sandbox.admin("GET", "truth/jonas_k")
    mine = {c["id"] for c in world["truth"]["conversations"]}
    conversation = next(c for c in theirs["conversations"] if c["id"] not in mine)
    assert maya.body(f"/2/dm_conversations/{conversation['id']}/dm_events") == {
        "meta": {"result_count": 0}
    }
    maya_id = int(next(u for u, v in world["users"].items() if v["username"] == "maya_reads"))
    strangers = [int(u["id"]) for u in theirs["users"]] + [12345]
    stranger = next(u for u in strangers if one_to_one(maya_id, u) not in mine)
    assert maya.body(f"/2/dm_conversations/with/{stranger}/dm_events") == {
        "meta": {"result_count": 0}
    }


def one_to_one(a: int, b: int) -> str:
    return f"{min(a, b)}-{max(a, b)}"


def test_another_users_event_reads_as_not_found(dm_sandbox, maya, world):
    mine = {c["id"] for c in world["truth"]["conversations"]}
    theirs = dm_sandbox.admin("GET", "truth/jonas_k")["events"]
    event = next(e for e in theirs if e["dm_conversation_id"] not in mine)
    response = maya.get(f"/2/dm_events/{event['id']}")
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "value": event["id"],
                "detail": f"Could not find dm_event with event_id: [{event['id']}].",
                "title": "Not Found Error",
                "resource_type": "dm_event",
                "parameter": "event_id",
                "resource_id": event["id"],
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }


def test_an_event_by_id_has_its_data_and_includes_and_no_meta(maya, world):
    event = newest(
        world,
        lambda e: e["event_type"] == "MessageCreate" and e.get("sender_id") not in world["gone"],
    )
    body = maya.body(
        f"/2/dm_events/{event['id']}",
        {"dm_event.fields": ALL_EVENT_FIELDS, "expansions": "sender_id"},
    )
    assert body["data"] == event
    assert [u["id"] for u in body["includes"]["users"]] == [event["sender_id"]]
    assert set(body) == {"data", "includes"}


# Errors ----------------------------------------------------------------------------------------------

ENUM = {
    "user.fields": "affiliation,confirmed_email,connection_status,created_at,description,entities,"
    "id,is_identity_verified,location,most_recent_tweet_id,name,parody,pinned_tweet_id,"
    "profile_banner_url,profile_image_url,protected,public_metrics,receives_your_dm,subscription,"
    "subscription_type,url,username,verified,verified_followers_count,verified_type,withheld,"
    # v2.167's one new user field: X takes the names of both specs (docs/x-api.md §9.1).
    "subscribes_to_you",
    "event_types": "MessageCreate,ParticipantsJoin,ParticipantsLeave",
    "dm_event.fields": ALL_EVENT_FIELDS,
    "expansions": ALL_EXPANSIONS + ",referenced_posts",
    "media.fields": "alt_text,duration_ms,height,media_key,non_public_metrics,organic_metrics,"
    "preview_image_url,promoted_metrics,public_metrics,type,url,variants,width",
}
LIST_PARAMETERS = (
    "max_results,pagination_token,event_types,dm_event.fields,expansions,media.fields,"
    "user.fields,tweet.fields,post.fields"
)


@pytest.mark.parametrize(
    ("query", "parameter", "value", "message"),
    [
        (
            {"max_results": "0"},
            "max_results",
            "0",
            "The `max_results` query parameter value [0] is not between 1 and 100",
        ),
        (
            {"max_results": "101"},
            "max_results",
            "101",
            "The `max_results` query parameter value [101] is not between 1 and 100",
        ),
        (
            {"max_results": "ten"},
            "max_results",
            "ten",
            "The `max_results` query parameter value [ten] is not between 1 and 100",
        ),
        (
            {"pagination_token": "meta.next_token"},
            "pagination_token",
            "meta.next_token",
            "The `pagination_token` query parameter value [meta.next_token] is not a valid token.",
        ),
        (
            {"pagination_token": "18LAA5G1SL0NR5OG0G01ZZZZ"},
            "pagination_token",
            "18LAA5G1SL0NR5OG0G01ZZZZ",
            "The `pagination_token` query parameter value [18LAA5G1SL0NR5OG0G01ZZZZ] is not a valid token.",
        ),
        (
            {"event_types": "MessageDelete"},
            "event_types",
            "MessageDelete",
            f"The `event_types` query parameter value [MessageDelete] is not one of [{ENUM['event_types']}]",
        ),
        (
            {"user.fields": "x"},
            "user.fields",
            "x",
            f"The `user.fields` query parameter value [x] is not one of [{ENUM['user.fields']}]",
        ),
        (
            {"user.fields": ""},
            "user.fields",
            "",
            f"The `user.fields` query parameter value [] is not one of [{ENUM['user.fields']}]",
        ),
        (
            {"dm_event.fields": "text,reactions"},
            "dm_event.fields",
            "reactions",
            f"The `dm_event.fields` query parameter value [reactions] is not one of [{ENUM['dm_event.fields']}]",
        ),
        (
            {"expansions": "author_id"},
            "expansions",
            "author_id",
            f"The `expansions` query parameter value [author_id] is not one of [{ENUM['expansions']}]",
        ),
        (
            {"media.fields": "size"},
            "media.fields",
            "size",
            f"The `media.fields` query parameter value [size] is not one of [{ENUM['media.fields']}]",
        ),
        (
            {"foo": "bar"},
            "foo",
            "bar",
            f"The query parameter [foo] is not one of [{LIST_PARAMETERS}]",
        ),
    ],
)
def test_a_bad_query_parameter_gets_xs_invalid_request_body(maya, query, parameter, value, message):
    response = maya.get("/2/dm_events", query)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    assert int(response.headers["x-rate-limit-remaining"]) >= 0


@pytest.mark.parametrize(
    ("path", "parameter", "value", "pattern"),
    [
        (
            "/2/dm_conversations/with/theo_park/dm_events",
            "participant_id",
            "theo_park",
            "^[0-9]{1,19}$",
        ),
        (
            "/2/dm_conversations/1-2-3/dm_events",
            "id",
            "1-2-3",
            "^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$",
        ),
        ("/2/dm_events/1.2", "event_id", "1.2", "^[0-9]{1,19}$"),
    ],
)
def test_a_malformed_path_id_gets_xs_pattern_message(maya, path, parameter, value, pattern):
    response = maya.get(path)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "parameters": {parameter: [value]},
            "message": f"The `{parameter}` query parameter value [{value}] does not match {pattern}",
        }
    ]


def test_paging_parameters_are_unknown_to_the_single_event_endpoint(maya, world):
    response = maya.get(f"/2/dm_events/{world['recent'][0]['id']}", {"max_results": "5"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "The query parameter [max_results] is not one of "
        "[dm_event.fields,expansions,media.fields,user.fields,tweet.fields,post.fields]"
    )


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-real-token", "Basic bWF5YTpwdw=="])
def test_a_missing_or_bad_token_gets_401_without_rate_limit_headers(dm_sandbox, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(dm_sandbox.base_url + "/2/dm_events", headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert not [h for h in response.headers if h.lower().startswith("x-rate-limit")]


def test_a_token_without_dm_read_gets_403(dm_sandbox):
    token = dm_sandbox.token("maya_reads", scopes="tweet.read users.read")["access_token"]
    response = Api(dm_sandbox, token).get("/2/dm_events")
    assert response.status_code == 403
    assert response.json() == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "Forbidden",
    }
    assert "x-rate-limit-remaining" in response.headers


def test_the_dm_endpoints_share_a_rate_limit_and_answer_429_when_it_is_spent(tmp_path):
    sandbox = Sandbox(tmp_path / "rate-limited", XSANDBOX_RATE_LIMIT="3/900").start()
    try:
        api = Api(sandbox, sandbox.token("maya_reads")["access_token"])
        answers = [
            api.get("/2/dm_events"),
            api.get("/2/dm_events", {"max_results": "0"}),  # a 400 counts too
            api.get("/2/dm_events/1"),
            api.get("/2/dm_events"),
        ]
    finally:
        sandbox.stop()
    assert [a.status_code for a in answers] == [200, 400, 200, 429]
    assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["x-rate-limit-limit"] for a in answers} == {"3"}
    assert len({a.headers["x-rate-limit-reset"] for a in answers}) == 1
    assert answers[-1].json() == {
        "title": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
        "detail": "Too Many Requests",
    }
