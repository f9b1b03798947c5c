"""X's official Python SDK reads the sandbox as it reads X.

xdk 0.10.6 is generated from spec v2.167 (docs/x-api/openapi-v2.167.json) and parses every answer into
strict pydantic models. Through it, against a real sandbox process over HTTP, these tests page every
DM endpoint and read /2/users/me with every field and expansion, in both of X's vocabularies
(docs/x-api.md §9.1): the post one the SDK speaks, and the classic one of spec v2.166 that DM Reader
speaks (the SDK passes classic names through; it has no tweet.fields argument, so that one goes in
the session's query parameters).

One thing the SDK cannot read is X's, not the sandbox's: a classic answer's partial errors keep their
https://api.twitter.com/2/problems/ types, which v2.167's Problem models do not list. The classic
pages that carry such errors are checked to fail in the SDK on those types and nothing else, and
are then parsed by the same models with the errors set aside.
"""

import inspect
import json
import typing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from xdk import Client, schemas

from tests.sandbox import Sandbox

SPEC_166 = json.loads(
    (Path(__file__).parents[1] / "docs" / "x-api" / "openapi-v2.166.json").read_text()
)
WINDOW = timedelta(days=30)
CLASSIC_PROBLEMS = "https://api.twitter.com/2/problems/"
POST_PROBLEMS = "https://api.x.com/2/problems/"


def sdk_names(method, parameter: str) -> list[str]:
    """Every value the SDK offers for one parameter of one of its methods (its Literal)."""
    # The SDK's annotations are strings naming typing's Literal, which its modules never import.
    annotation = inspect.signature(method).parameters[parameter].annotation
    hint = eval(annotation, vars(typing)) if isinstance(annotation, str) else annotation
    listed = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    (literal,) = typing.get_args(listed)
    return list(typing.get_args(literal))


def classic_names(component: str) -> list[str]:
    return SPEC_166["components"]["parameters"][component]["schema"]["items"]["enum"]


@pytest.fixture(scope="module")
def xdk_sandbox(tmp_path_factory):
    """A sandbox of this module's own: the sweep sends a few hundred requests."""
    server = Sandbox(
        tmp_path_factory.mktemp("xdk-sandbox"),
        XSANDBOX_RATE_LIMIT="100000/900",
        XSANDBOX_USERS_ME_RATE_LIMIT="100000/900",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(xdk_sandbox) -> str:
    return xdk_sandbox.token("maya_reads")["access_token"]


@pytest.fixture(scope="module")
def truth(xdk_sandbox) -> dict:
    """maya_reads's ground truth, its events cut to X's 30-day window, indexed."""
    truth = xdk_sandbox.admin("GET", "truth/maya_reads")
    since = datetime.fromisoformat(xdk_sandbox.admin("GET", "clock")["now"]) - WINDOW
    events = [e for e in truth["events"] if _created(e) >= since]
    return truth | {
        "events": events,
        "users_by_id": {u["id"]: u for u in truth["users"]},
        "tweets_by_id": {t["id"]: t for t in truth["tweets"]},
        "maya": next(u for u in truth["users"] if u["username"] == "maya_reads"),
    }


def _created(event: dict) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


class Vocabulary:
    """How to ask the SDK for every field and expansion in one vocabulary, and what comes back."""

    def __init__(self, name: str, sandbox: Sandbox, token: str) -> None:
        self.name = name
        self.client = Client(base_url=sandbox.base_url, access_token=token)
        dms, users = self.client.direct_messages, self.client.users
        self.bodies: list[dict] = []  # every JSON body the SDK received, for the classic errors
        self.client.session.hooks["response"].append(
            lambda r, *a, **k: self.bodies.append(r.json())
        )
        if name == "post":
            self.dm_query = {
                "dm_event_fields": sdk_names(dms.get_events, "dm_event_fields"),
                "expansions": sdk_names(dms.get_events, "expansions"),
                "user_fields": sdk_names(dms.get_events, "user_fields"),
                "post_fields": sdk_names(dms.get_events, "post_fields"),
                "media_fields": sdk_names(dms.get_events, "media_fields"),
            }
            self.me_query = {
                "user_fields": sdk_names(users.get_me, "user_fields"),
                "expansions": sdk_names(users.get_me, "expansions"),
                "post_fields": sdk_names(users.get_me, "post_fields"),
            }
            self.reposts, self.most_recent = "repost_count", "most_recent_post_id"
            self.problem_base = POST_PROBLEMS
        else:
            self.client.session.params["tweet.fields"] = ",".join(
                classic_names("TweetFieldsParameter")
            )
            self.dm_query = {
                "dm_event_fields": classic_names("DmEventFieldsParameter"),
                "expansions": classic_names("DmEventExpansionsParameter"),
                "user_fields": classic_names("UserFieldsParameter"),
                "media_fields": classic_names("MediaFieldsParameter"),
            }
            self.me_query = {
                "user_fields": classic_names("UserFieldsParameter"),
                "expansions": classic_names("UserExpansionsParameter"),
            }
            self.reposts, self.most_recent = "retweet_count", "most_recent_tweet_id"
            self.problem_base = CLASSIC_PROBLEMS

    def pages(self, method, model: type, **query) -> list:
        """Every page of a list endpoint, as the SDK pages it (next_token to the end)."""
        pages, token = [], None
        while True:
            try:
                for page in method(
                    **self.dm_query, **query, max_results=100, pagination_token=token
                ):
                    pages.append(page)
                return pages
            except ValidationError as refused:
                body = self.bodies[-1]
                pages.append(self.set_errors_aside(refused, body, model))
                token = body["meta"].get("next_token")
                if token is None:
                    return pages

    def one(self, method, model: type, **query):
        try:
            return method(**self.dm_query, **query)
        except ValidationError as refused:
            return self.set_errors_aside(refused, self.bodies[-1], model)

    def set_errors_aside(self, refused: ValidationError, body: dict, model: type):
        """A classic page the SDK refused: only for its classic problem types, which X sends too."""
        assert self.name == "classic", refused
        assert {error["loc"][0] for error in refused.errors()} == {"errors"}, refused
        assert {p["type"] for p in body["errors"]} <= {CLASSIC_PROBLEMS + "resource-not-found"}
        page = model.model_validate({k: v for k, v in body.items() if k != "errors"})
        page.classic_errors = body["errors"]
        return page

    # What a page holds, wherever the vocabulary puts it.

    def includes(self, page, key: str) -> list:
        if page.includes is None:
            return []
        if key == "posts" and self.name == "classic":
            return page.includes.model_extra.get("tweets", [])
        return getattr(page.includes, key) or []

    def problems(self, page) -> list[dict]:
        if getattr(page, "classic_errors", None):
            return page.classic_errors
        return [p.model_dump() for p in page.errors or []]

    def referenced_ids(self, event: schemas.DmEvent) -> list[str]:
        if self.name == "post":
            return [ref.id for ref in event.referenced_posts or []]
        return [ref["id"] for ref in (event.model_extra or {}).get("referenced_tweets", [])]


@pytest.fixture(scope="module", params=["post", "classic"])
def vocabulary(request, xdk_sandbox, token) -> Vocabulary:
    return Vocabulary(request.param, xdk_sandbox, token)


def assert_pages_hold(vocabulary: Vocabulary, pages: list, expected: list[dict], truth: dict):
    """The pages hold exactly the expected events, newest first, each with every field X has for
    it, and their includes and errors account for every user, media and post they reference."""
    events = [event for page in pages for event in _listed(page.data)]
    assert [e.id for e in events] == [e["id"] for e in expected]
    if isinstance(pages[0].data, list):
        assert sum(page.meta.result_count for page in pages) == len(expected)
    for event, want in zip(events, expected, strict=True):
        assert event.event_type == want["event_type"]
        assert event.dm_conversation_id == want["dm_conversation_id"]
        assert event.created_at == want["created_at"]
        assert event.sender_id == want.get("sender_id")
        assert event.text == want.get("text")
        assert vocabulary.referenced_ids(event) == [
            r["id"] for r in want.get("referenced_tweets", [])
        ]
        media_keys = event.attachments.media_keys if event.attachments else None
        assert media_keys == want.get("attachments", {}).get("media_keys")
    users = {u.id: u for page in pages for u in vocabulary.includes(page, "users")}
    media = {m.media_key for page in pages for m in vocabulary.includes(page, "media")}
    posts = {
        p["id"] if isinstance(p, dict) else p.id: p
        for page in pages
        for p in vocabulary.includes(page, "posts")
    }
    problems = {
        (p["resource_type"], p["resource_id"]): p
        for page in pages
        for p in vocabulary.problems(page)
    }
    user_ids = {e["sender_id"] for e in expected if "sender_id" in e}
    user_ids |= {p for e in expected for p in e.get("participant_ids", [])}
    gone = {u for u in user_ids if truth["users_by_id"][u]["gone"]}
    post_ids = {r["id"] for e in expected for r in e.get("referenced_tweets", [])}
    deleted = {p for p in post_ids if truth["tweets_by_id"][p]["deleted"]}
    assert set(users) == user_ids - gone
    assert media == {k for e in expected for k in e.get("attachments", {}).get("media_keys", [])}
    assert set(posts) == post_ids - deleted
    assert set(problems) == {("user", u) for u in gone} | {("tweet", p) for p in deleted}
    assert {p["type"] for p in problems.values()} <= {
        vocabulary.problem_base + "resource-not-found"
    }
    for user_id, user in users.items():
        want = truth["users_by_id"][user_id]
        assert (user.username, user.name) == (want["username"], want["name"])
        assert user.public_metrics.post_count == want["public_metrics"]["tweet_count"]
        assert user.receives_your_dm is True and user.connection_status == []
        if vocabulary.name == "post":
            assert user.subscribes_to_you is False
    for post_id, post in posts.items():
        want = truth["tweets_by_id"][post_id]
        metrics = (
            post["public_metrics"] if isinstance(post, dict) else post.public_metrics.model_dump()
        )
        assert metrics[vocabulary.reposts] == want["public_metrics"]["retweet_count"]
        text = post["text"] if isinstance(post, dict) else post.text
        assert text == want["text"]


def _listed(data) -> list:
    return data if isinstance(data, list) else [data] if data else []


def test_every_dm_event_of_the_window_pages_through_the_sdk(vocabulary, truth):
    dms = vocabulary.client.direct_messages
    pages = vocabulary.pages(dms.get_events, schemas.GetDirectMessagesEventsResponse)
    assert len(pages) == -(-len(truth["events"]) // 100)
    assert_pages_hold(vocabulary, pages, truth["events"], truth)


def test_every_conversation_pages_through_the_sdk(vocabulary, truth):
    dms = vocabulary.client.direct_messages
    in_window = {e["dm_conversation_id"] for e in truth["events"]}
    conversations = [c for c in truth["conversations"] if c["id"] in in_window]
    assert any(c["is_group"] for c in conversations) and not all(
        c["is_group"] for c in conversations
    )
    for conversation in conversations:
        expected = [e for e in truth["events"] if e["dm_conversation_id"] == conversation["id"]]
        pages = vocabulary.pages(
            dms.get_events_by_conversation_id,
            schemas.GetDirectMessagesEventsByConversationIdResponse,
            id=conversation["id"],
        )
        assert_pages_hold(vocabulary, pages, expected, truth)


def test_every_one_to_one_pages_by_participant_through_the_sdk(vocabulary, truth):
    dms = vocabulary.client.direct_messages
    in_window = {e["dm_conversation_id"] for e in truth["events"]}
    for conversation in truth["conversations"]:
        if conversation["is_group"] or conversation["id"] not in in_window:
            continue
        (other,) = set(conversation["participant_ids"]) - {truth["maya"]["id"]}
        expected = [e for e in truth["events"] if e["dm_conversation_id"] == conversation["id"]]
        pages = vocabulary.pages(
            dms.get_events_by_participant_id,
            schemas.GetDirectMessagesEventsByParticipantIdResponse,
            participant_id=other,
        )
        assert_pages_hold(vocabulary, pages, expected, truth)


def test_events_by_id_read_through_the_sdk(vocabulary, truth):
    dms = vocabulary.client.direct_messages
    deleted = {t["id"] for t in truth["tweets"] if t["deleted"]}
    gone = {u["id"] for u in truth["users"] if u["gone"]}
    kinds = [
        lambda e: e["event_type"] == "MessageCreate",
        lambda e: "attachments" in e,
        lambda e: {r["id"] for r in e.get("referenced_tweets", [])} - deleted,
        lambda e: {r["id"] for r in e.get("referenced_tweets", [])} & deleted,
        lambda e: e.get("sender_id") in gone,
        lambda e: e["event_type"] == "ParticipantsJoin",
        lambda e: e["event_type"] == "ParticipantsLeave",
    ]
    for kind in kinds:
        event = next(e for e in truth["events"] if kind(e))
        page = vocabulary.one(
            dms.get_events_by_id, schemas.GetDirectMessagesEventsByIdResponse, event_id=event["id"]
        )
        assert isinstance(page, schemas.GetDirectMessagesEventsByIdResponse)
        assert_pages_hold(vocabulary, [page], [event], truth)


def test_an_event_that_is_not_theirs_reads_as_not_found_through_the_sdk(
    vocabulary, xdk_sandbox, truth
):
    mine = {c["id"] for c in truth["conversations"]}
    theirs = xdk_sandbox.admin("GET", "truth/jonas_k")["events"]
    event = next(e for e in theirs if e["dm_conversation_id"] not in mine)
    page = vocabulary.one(
        vocabulary.client.direct_messages.get_events_by_id,
        schemas.GetDirectMessagesEventsByIdResponse,
        event_id=event["id"],
    )
    assert page.data is None
    (problem,) = vocabulary.problems(page)
    assert (problem["resource_id"], problem["type"]) == (
        event["id"],
        vocabulary.problem_base + "resource-not-found",
    )
    if vocabulary.name == "post":
        assert isinstance(page.errors[0], schemas.ResourceNotFoundProblem)


def test_users_me_reads_through_the_sdk_with_every_field_and_expansion(vocabulary, truth):
    me = vocabulary.client.users.get_me(**vocabulary.me_query)
    assert isinstance(me, schemas.GetUsersMeResponse) and me.errors is None
    maya = truth["maya"]
    user = me.data
    assert (user.id, user.username, user.name) == (maya["id"], maya["username"], maya["name"])
    assert user.public_metrics.post_count == maya["public_metrics"]["tweet_count"]
    assert user.created_at == maya["created_at"] and user.description == maya["description"]
    assert user.entities.url is not None
    latest = (user.model_dump() | (user.model_extra or {}))[vocabulary.most_recent]
    assert latest == maya["most_recent_tweet_id"]
    (post,) = vocabulary.includes(me, "posts")
    post = post if isinstance(post, dict) else post.model_dump(exclude_none=True)
    assert post["id"] == latest and post["author_id" if vocabulary.name == "classic" else "id"]
    assert vocabulary.reposts in post["public_metrics"]


def test_the_classic_vocabulary_keeps_its_classic_answers(xdk_sandbox, token, truth):
    """What DM Reader reads: classic names, includes.tweets, retweet_count, api.twitter.com types
    (the user's post count rides beside tweet_count, which v2.166 requires)."""
    classic = Vocabulary("classic", xdk_sandbox, token)
    pages = classic.pages(
        classic.client.direct_messages.get_events, schemas.GetDirectMessagesEventsResponse
    )
    # The SDK refused the pages with X's classic problem types, and only those.
    refused = [page for page in pages if getattr(page, "classic_errors", None)]
    assert refused and len(refused) < len(pages)
    bodies = [b for b in classic.bodies if "data" in b]
    assert len(bodies) == len(pages)
    for body in bodies:
        assert "posts" not in body.get("includes", {})
        for event in body["data"]:
            assert "referenced_posts" not in event
        for post in body.get("includes", {}).get("tweets", []):
            assert (
                "retweet_count" in post["public_metrics"]
                and "repost_count" not in post["public_metrics"]
            )
            assert post["edit_history_tweet_ids"] == [post["id"]]
        for user in body.get("includes", {}).get("users", []):
            metrics = user["public_metrics"]
            assert metrics["tweet_count"] == metrics["post_count"]
        for problem in body.get("errors", []):
            assert problem["type"] == CLASSIC_PROBLEMS + "resource-not-found"
    assert any("tweets" in b.get("includes", {}) for b in bodies)
    assert any("errors" in b for b in bodies)


# Each way the SDK used to fail, on its own ---------------------------------------------------------


@pytest.fixture(scope="module")
def sdk(xdk_sandbox, token) -> Client:
    return Client(base_url=xdk_sandbox.base_url, access_token=token)


def test_the_sdk_can_ask_whether_a_user_subscribes_to_you(sdk):
    assert sdk.users.get_me(user_fields=["subscribes_to_you"]).data.subscribes_to_you is False


def test_the_sdk_can_expand_the_users_posts_on_users_me(sdk, truth):
    me = sdk.users.get_me(expansions=["affiliation", "most_recent_post_id", "pinned_post_id"])
    assert me.data.most_recent_post_id == truth["maya"]["most_recent_tweet_id"]
    assert [post.id for post in me.includes.posts] == [me.data.most_recent_post_id]


def test_the_sdk_reads_the_public_metrics_of_senders(sdk, truth):
    page = next(
        sdk.direct_messages.get_events(expansions=["sender_id"], user_fields=["public_metrics"])
    )
    assert page.includes.users
    for user in page.includes.users:
        assert (
            user.public_metrics.post_count
            == (truth["users_by_id"][user.id]["public_metrics"]["tweet_count"])
        )


def test_the_sdk_reads_the_repost_count_of_shared_posts(sdk, truth):
    event = next(
        e
        for e in truth["events"]
        if any(
            not truth["tweets_by_id"][r["id"]]["deleted"] for r in e.get("referenced_tweets", [])
        )
    )
    page = sdk.direct_messages.get_events_by_id(
        event["id"], expansions=["referenced_posts"], post_fields=["public_metrics"]
    )
    assert page.includes.posts
    for post in page.includes.posts:
        want = truth["tweets_by_id"][post.id]["public_metrics"]
        assert post.public_metrics.repost_count == want["retweet_count"]


def test_the_sdk_reads_a_gone_sender_as_a_resource_not_found_problem(sdk, truth):
    gone = {u["id"] for u in truth["users"] if u["gone"]}
    event = next(e for e in truth["events"] if e.get("sender_id") in gone)
    page = sdk.direct_messages.get_events_by_id(
        event["id"], expansions=["sender_id"], post_fields=["id"]
    )
    (problem,) = page.errors
    assert isinstance(problem, schemas.ResourceNotFoundProblem)
    assert (problem.resource_type, problem.resource_id) == ("user", event["sender_id"])
