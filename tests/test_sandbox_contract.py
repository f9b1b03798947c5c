"""Every body the sandbox's DM endpoints and /2/users/me send, errors included, validates against X's
OpenAPI spec in the vocabulary the request used (docs/x-api.md §1, §9.1): v2.166 for classic names,
v2.167 for the post names. The enums the sandbox copied from each spec are that spec's."""

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.sandbox import Sandbox
from xsandbox import params

# X's official OpenAPI description, vendored: docs/x-api/README.md says where it came from.
SPEC_PATH = Path(__file__).parents[1] / "docs" / "x-api" / "openapi-v2.166.json"
SPEC = json.loads(SPEC_PATH.read_text())
SPEC_URI = "urn:x-api:v2.166"
SCHEMAS = SPEC["components"]["schemas"]
# The post vocabulary's spec.
POST_SPEC_PATH = SPEC_PATH.parent / "openapi-v2.167.json"
POST_SPEC = json.loads(POST_SPEC_PATH.read_text())
POST_SPEC_URI = "urn:x-api:v2.167"

LIST = "/2/dm_events"
WITH = "/2/dm_conversations/with/{participant_id}/dm_events"
CONVERSATION = "/2/dm_conversations/{id}/dm_events"
EVENT = "/2/dm_events/{event_id}"
ME = "/2/users/me"


def _enum(component: str, spec: dict = SPEC) -> list[str]:
    return spec["components"]["parameters"][component]["schema"]["items"]["enum"]


ALL_FIELDS = {
    "dm_event.fields": ",".join(_enum("DmEventFieldsParameter")),
    "expansions": ",".join(_enum("DmEventExpansionsParameter")),
    "media.fields": ",".join(_enum("MediaFieldsParameter")),
    "user.fields": ",".join(_enum("UserFieldsParameter")),
    "tweet.fields": ",".join(_enum("TweetFieldsParameter")),
}
FIELD_QUERIES = [
    {},
    {"dm_event.fields": ALL_FIELDS["dm_event.fields"]},
    ALL_FIELDS,
    {"expansions": "sender_id", "user.fields": ALL_FIELDS["user.fields"]},
    {"expansions": "participant_ids", "user.fields": "created_at,profile_image_url"},
    {"expansions": "attachments.media_keys", "media.fields": ALL_FIELDS["media.fields"]},
    {"expansions": "referenced_tweets.id", "tweet.fields": ALL_FIELDS["tweet.fields"]},
    {"expansions": "referenced_posts", "post.fields": ",".join(params.POST_FIELDS)},
]
# Every name of v2.167, the vocabulary of X's own SDK (tests/test_sandbox_xdk.py).
ALL_POST_FIELDS = {
    "dm_event.fields": ",".join(_enum("DmEventFieldsParameter", POST_SPEC)),
    "expansions": ",".join(dict.fromkeys(_enum("DmEventExpansionsParameter", POST_SPEC))),
    "media.fields": ",".join(_enum("MediaFieldsParameter", POST_SPEC)),
    "user.fields": ",".join(_enum("UserFieldsParameter", POST_SPEC)),
    "post.fields": ",".join(_enum("PostFieldsParameter", POST_SPEC)),
}
FIELD_QUERIES += [
    ALL_POST_FIELDS,
    {"expansions": "sender_id,referenced_posts", "user.fields": "public_metrics"},
    {"expansions": "referenced_posts", "post.fields": "public_metrics,created_at"},
]
LIST_QUERIES = [
    *FIELD_QUERIES,
    {"max_results": "1"},
    {"max_results": "100", **ALL_FIELDS},
    {"event_types": "MessageCreate"},
    {"event_types": "ParticipantsJoin,ParticipantsLeave", "dm_event.fields": "sender_id"},
]
BAD_QUERIES = [
    {"max_results": "0"},
    {"max_results": "101"},
    {"max_results": "ten"},
    {"pagination_token": "meta.next_token"},
    {"pagination_token": "A" * 24},
    {"event_types": "MessageDelete"},
    {"dm_event.fields": "reactions"},
    {"expansions": "author_id"},
    {"media.fields": "size"},
    {"user.fields": "email"},
    {"tweet.fields": "views"},
    {"since_id": "1"},
    {"post.fields": "views"},
    {"expansions": "referenced_posts,author_id"},
]
# (spec path, path with {placeholders} filled from the `world` fixture)
LIST_ENDPOINTS = [
    (LIST, "/2/dm_events"),
    (WITH, "/2/dm_conversations/with/{theo}/dm_events"),
    (CONVERSATION, "/2/dm_conversations/{one_to_one}/dm_events"),
    (CONVERSATION, "/2/dm_conversations/{group}/dm_events"),
    (CONVERSATION, "/2/dm_conversations/{not_mine}/dm_events"),
]
EVENT_PATHS = ["{message}", "{with_media}", "{with_post}", "{join}", "{leave}", "{not_mine_event}"]


def _registry() -> Registry:
    spec = json.loads(SPEC_PATH.read_text())
    # The one deviation we accept: X's resource_type enum has no member for a DM event, which the
    # sandbox reports as "dm_event" when GET /2/dm_events/{event_id} finds nothing (dm_views.py).
    # (v2.167's resource_type is any string.)
    not_found = spec["components"]["schemas"]["ResourceNotFoundProblem"]["allOf"][1]
    not_found["properties"]["resource_type"]["enum"].append("dm_event")
    return Registry().with_resources(
        [
            (SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4)),
            (POST_SPEC_URI, Resource.from_contents(POST_SPEC, default_specification=DRAFT4)),
        ]
    )


REGISTRY = _registry()
FORMATS = FormatChecker()
FORMATS.checkers = dict(oas30_format_checker.checkers)


@FORMATS.checks("uri")
def _is_absolute_uri(value: object) -> bool:
    # openapi-schema-validator leaves "uri" unchecked without the rfc3987 package.
    parts = urlsplit(str(value))
    return bool(parts.scheme in ("http", "https") and parts.netloc)


def schema_errors(body: object, ref: str, uri: str = SPEC_URI) -> list[str]:
    validator = OAS30Validator({"$ref": uri + ref}, registry=REGISTRY, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)
    ]


def discriminated_errors(body: dict, spec: dict = SPEC, uri: str = SPEC_URI) -> list[str]:
    """OAS 3.0 discriminators, which the validator ignores: each Problem against its `type`'s
    schema, each Media against its `type`'s (v2.167's Media has no subtypes)."""
    found, schemas = [], spec["components"]["schemas"]
    problems = body.get("errors", []) if "title" not in body else [body]
    for problem in problems:
        mapping = schemas["Problem"]["discriminator"]["mapping"]
        assert problem["type"] in mapping, problem
        found += schema_errors(problem, mapping[problem["type"]], uri)
    for media in body.get("includes", {}).get("media", []):
        if "discriminator" in schemas["Media"]:
            mapping = schemas["Media"]["discriminator"]["mapping"]
            found += schema_errors(media, mapping[media["type"]], uri)
    return found


def response_ref(spec_path: str, status: int, spec: dict = SPEC) -> str:
    responses = spec["paths"][spec_path]["get"]["responses"]
    if status == 200:
        return responses["200"]["content"]["application/json"]["schema"]["$ref"]
    return responses["default"]["content"]["application/problem+json"]["schema"]["$ref"]


def uses_post_names(url: str) -> bool:
    """Whether a request names post.fields or an expansion only v2.167 has (docs/x-api.md §9.1)."""
    query = parse_qs(urlsplit(url).query)
    expansions = set(",".join(query.get("expansions", [])).split(","))
    only_v2_167 = {"referenced_posts", "most_recent_post_id", "pinned_post_id", "affiliation"}
    return "post.fields" in query or bool(expansions & only_v2_167)


def assert_matches_spec(response: requests.Response, spec_path: str) -> dict:
    """The body against the spec of the request's vocabulary. 401, 403 and 429 bodies are X's
    about:blank problems, which only v2.166 describes."""
    body = response.json()
    post = uses_post_names(response.request.url) and response.status_code in (200, 400)
    spec, uri = (POST_SPEC, POST_SPEC_URI) if post else (SPEC, SPEC_URI)
    ref = response_ref(spec_path, response.status_code, spec)
    problems = schema_errors(body, ref, uri) + discriminated_errors(body, spec, uri)
    assert not problems, f"{response.request.url} → {response.status_code}: {problems}"
    return body


@pytest.fixture(scope="module")
def contract_sandbox(tmp_path_factory):
    """A sandbox of this module's own, generous with requests: the sweep sends a few hundred."""
    server = Sandbox(
        tmp_path_factory.mktemp("contract-sandbox"), XSANDBOX_RATE_LIMIT="100000/900"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def get(contract_sandbox):
    token = contract_sandbox.token("maya_reads")["access_token"]

    def get(path: str, query: dict | None = None, token: str = token) -> requests.Response:
        return requests.get(
            contract_sandbox.base_url + path,
            params=query,
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )

    return get


@pytest.fixture(scope="module")
def world(contract_sandbox) -> dict[str, str]:
    """Ids to put in paths, found in the ground truth of maya_reads and jonas_k."""
    truth = contract_sandbox.admin("GET", "truth/maya_reads")
    users = {u["username"]: u["id"] for u in truth["users"]}
    maya, theo = int(users["maya_reads"]), int(users["theo_park"])
    jonas = contract_sandbox.admin("GET", "truth/jonas_k")
    mine = {c["id"] for c in truth["conversations"]}
    now = datetime.fromisoformat(contract_sandbox.admin("GET", "clock")["now"])
    recent = [e for e in truth["events"] if now - _created(e) < timedelta(days=29)]

    def newest(test) -> str:
        return next(e["id"] for e in recent if test(e))

    return {
        "theo": str(theo),
        "one_to_one": f"{min(maya, theo)}-{max(maya, theo)}",
        "group": next(c["id"] for c in truth["conversations"] if c["is_group"]),
        "not_mine": next(c["id"] for c in jonas["conversations"] if c["id"] not in mine),
        "not_mine_event": next(
            e["id"] for e in jonas["events"] if e["dm_conversation_id"] not in mine
        ),
        "message": newest(lambda e: e["event_type"] == "MessageCreate"),
        "with_media": newest(lambda e: "attachments" in e),
        "with_post": newest(lambda e: "referenced_tweets" in e),
        "join": newest(lambda e: e["event_type"] == "ParticipantsJoin"),
        "leave": newest(lambda e: e["event_type"] == "ParticipantsLeave"),
    }


def _created(event: dict) -> datetime:
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))


# The sandbox's copies of the spec's enums ------------------------------------------------------------


@pytest.mark.parametrize(
    ("copy", "component"),
    [
        (params.DM_EVENT_FIELDS, "DmEventFieldsParameter"),
        (params.DM_EXPANSIONS, "DmEventExpansionsParameter"),
        (params.MEDIA_FIELDS, "MediaFieldsParameter"),
        (params.USER_FIELDS, "UserFieldsParameter"),
        (params.TWEET_FIELDS, "TweetFieldsParameter"),
    ],
)
def test_the_sandboxs_field_enums_are_the_specs(copy, component):
    assert list(copy) == _enum(component)


@pytest.mark.parametrize(
    ("copy", "component"),
    [
        (params.POST_DM_EVENT_FIELDS, "DmEventFieldsParameter"),
        (params.MEDIA_FIELDS, "MediaFieldsParameter"),
        (params.POST_USER_FIELDS, "UserFieldsParameter"),
        (params.POST_FIELDS, "PostFieldsParameter"),
        (params.POST_USER_EXPANSIONS, "UserExpansionsParameter"),
    ],
)
def test_the_sandboxs_post_vocabulary_enums_are_v2_167s(copy, component):
    assert list(copy) == _enum(component, POST_SPEC)


def test_the_dm_expansions_are_v2_167s_listed_once():
    # v2.167 lists attachments.media_keys twice; a name is a name.
    enum = _enum("DmEventExpansionsParameter", POST_SPEC)
    assert list(params.POST_DM_EXPANSIONS) == list(dict.fromkeys(enum))


def test_the_user_expansions_are_v2_166s():
    assert list(params.USER_EXPANSIONS) == _enum("UserExpansionsParameter")


@pytest.mark.parametrize("spec", [SPEC, POST_SPEC])
@pytest.mark.parametrize("spec_path", ["/2/users/me", "/2/users/by/username/{username}", EVENT])
def test_every_query_parameter_of_either_spec_is_taken(spec, spec_path):
    taken = {ME: params.USER_PARAMETERS, EVENT: params.EVENT_PARAMETERS}
    names = {
        spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
        if "$ref" in p
        else p["name"]
        for p in spec["paths"][spec_path]["get"]["parameters"]
        if p.get("in", "query") == "query"
    }
    names -= {"username", "event_id"}
    assert names <= set(taken.get(spec_path, params.USER_PARAMETERS))


@pytest.mark.parametrize("spec_path", [LIST, WITH, CONVERSATION])
def test_the_list_endpoints_take_the_specs_query_parameters_in_its_order(spec_path):
    operation = SPEC["paths"][spec_path]["get"]["parameters"]
    names = [
        SPEC["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
        if "$ref" in p
        else p["name"]
        for p in operation
    ]
    query_names = [n for n in names if n not in ("participant_id", "id")]
    assert [*query_names, "post.fields"] == list(params.LIST_PARAMETERS)
    event_types = next(p for p in operation if p.get("name") == "event_types")["schema"]
    assert event_types["items"]["enum"] == list(params.EVENT_TYPES)


def test_path_id_patterns_are_the_specs():
    assert SCHEMAS["UserId"]["pattern"] == params.USER_ID
    assert SCHEMAS["DmEventId"]["pattern"] == params.EVENT_ID
    assert SCHEMAS["DmConversationId"]["pattern"] == params.CONVERSATION_ID
    # Tokens the sandbox mints are 24 characters, so they pass PaginationToken32's minLength.
    assert SCHEMAS["PaginationToken32"]["minLength"] <= 24


# Bodies against the response schemas ---------------------------------------------------------------


@pytest.mark.parametrize(("spec_path", "path"), LIST_ENDPOINTS)
@pytest.mark.parametrize("query", LIST_QUERIES)
def test_list_responses_match_the_spec(get, world, spec_path, path, query):
    response = get(path.format(**world), query)
    assert response.status_code == 200
    assert_matches_spec(response, spec_path)


@pytest.mark.parametrize(("spec_path", "path"), LIST_ENDPOINTS[:4])
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_list_error_bodies_match_the_spec(get, world, spec_path, path, query):
    response = get(path.format(**world), query)
    assert response.status_code == 400
    assert assert_matches_spec(response, spec_path)["errors"][0]["parameters"]


@pytest.mark.parametrize(("spec_path", "path"), LIST_ENDPOINTS[:4])
def test_pages_reached_by_tokens_match_the_spec(get, world, spec_path, path):
    query = {"max_results": "7", **ALL_FIELDS}
    body = assert_matches_spec(get(path.format(**world), query), spec_path)
    for _ in range(3):
        if "next_token" not in body["meta"]:
            break
        older = get(path.format(**world), query | {"pagination_token": body["meta"]["next_token"]})
        body = assert_matches_spec(older, spec_path)
    newer = get(path.format(**world), query | {"pagination_token": body["meta"]["previous_token"]})
    assert_matches_spec(newer, spec_path)


@pytest.mark.parametrize("event", EVENT_PATHS)
@pytest.mark.parametrize("query", FIELD_QUERIES)
def test_single_event_responses_match_the_spec(get, world, event, query):
    response = get(f"/2/dm_events/{event.format(**world)}", query)
    assert response.status_code == 200
    assert_matches_spec(response, EVENT)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/2/dm_events/{message}", {"max_results": "5"}),
        ("/2/dm_events/{message}", {"pagination_token": "18LAA5G1SL0NR5OG0G00ZZZZ"}),
        ("/2/dm_events/{message}", {"user.fields": "email"}),
        ("/2/dm_events/12345678901234567890", {}),
        ("/2/dm_events/1e5", {}),
    ],
)
def test_single_event_error_bodies_match_the_spec(get, world, path, query):
    response = get(path.format(**world), query)
    assert response.status_code == 400
    assert_matches_spec(response, EVENT)


@pytest.mark.parametrize(
    ("spec_path", "path"),
    [
        (WITH, "/2/dm_conversations/with/theo_park/dm_events"),
        (WITH, "/2/dm_conversations/with/12345678901234567890/dm_events"),
        (CONVERSATION, "/2/dm_conversations/123-abc/dm_events"),
        (CONVERSATION, "/2/dm_conversations/12345/dm_events"),
    ],
)
def test_malformed_path_ids_get_bodies_matching_the_spec(get, spec_path, path):
    response = get(path)
    assert response.status_code == 400
    assert_matches_spec(response, spec_path)


@pytest.mark.parametrize(("spec_path", "path"), [*LIST_ENDPOINTS[:2], (EVENT, "/2/dm_events/1")])
def test_auth_error_bodies_match_the_spec(contract_sandbox, get, world, spec_path, path):
    no_dm_read = contract_sandbox.token("maya_reads", scopes="tweet.read users.read")
    for token, status in (
        ("", 401),
        ("not-a-token", 401),
        (no_dm_read["access_token"], 403),
    ):
        response = get(path.format(**world), token=token)
        assert response.status_code == status
        assert_matches_spec(response, spec_path)


@pytest.mark.parametrize(
    "query",
    [{}, {"user.fields": "created_at,description,location,url,protected,verified"}],
)
def test_users_me_matches_the_spec(get, query):
    response = get(ME, query)
    assert response.status_code == 200
    assert_matches_spec(response, ME)


@pytest.mark.parametrize(
    "query",
    [
        {
            "user.fields": ALL_FIELDS["user.fields"],
            "expansions": ",".join(_enum("UserExpansionsParameter")),
            "tweet.fields": ALL_FIELDS["tweet.fields"],
        },
        {
            "user.fields": ALL_POST_FIELDS["user.fields"],
            "expansions": ",".join(_enum("UserExpansionsParameter", POST_SPEC)),
            "post.fields": ALL_POST_FIELDS["post.fields"],
        },
    ],
    ids=["classic", "post"],
)
def test_users_me_with_every_field_and_expansion_matches_the_spec(get, query):
    response = get(ME, query)
    assert response.status_code == 200
    body = assert_matches_spec(response, ME)
    # maya_reads has posted: the most_recent expansion has something to show.
    assert len(body["includes"]["posts" if "post.fields" in query else "tweets"]) == 1


@pytest.mark.parametrize(
    ("username", "status", "found"),
    [
        ("theo_park", 200, True),
        ("THEO_PARK", 200, True),
        ("nobody_here", 200, False),
        ("no-such!", 400, None),
    ],
)
def test_user_lookup_by_username_matches_the_spec(get, username, status, found):
    response = get(
        f"/2/users/by/username/{username}", {"user.fields": "profile_image_url,created_at"}
    )
    assert response.status_code == status
    body = assert_matches_spec(response, "/2/users/by/username/{username}")
    if found is True:
        assert body["data"]["username"] == "theo_park"
    elif found is False:
        assert "data" not in body and body["errors"][0]["resource_type"] == "user"
