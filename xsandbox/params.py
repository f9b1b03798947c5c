"""Query and path parameters of the DM lookup endpoints and /2/users/me, checked the way X checks them.

X speaks two vocabularies at once (docs/x-api.md §0.2, §9.1): the classic one of spec v2.166
(`tweet.fields`, `referenced_tweets.id`, `includes.tweets`) and the post one of v2.167 (`post.fields`,
`referenced_posts`, `includes.posts`). It takes every name of both and answers in the one the request
used. The enums of both specs are copied here from docs/x-api/openapi-v2.166.json and
openapi-v2.167.json so the sandbox needs nothing outside the repository at run time;
tests/test_sandbox_contract.py pins each copy to its spec. A bad value is answered with X's 400
`invalid-request` body and a message from docs/x-api.md §5.2.
This module imports no models: the token codec is unit-tested without the sandbox's database.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.http import JsonResponse

from xsandbox import errors

EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
DM_EVENT_FIELDS = (
    "attachments",
    "created_at",
    "dm_conversation_id",
    "entities",
    "event_type",
    "id",
    "participant_ids",
    "referenced_tweets",
    "sender_id",
    "text",
)
DM_EXPANSIONS = ("attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id")
MEDIA_FIELDS = (
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
)
USER_FIELDS = (
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
)
TWEET_FIELDS = (
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "matched_media_notes",
    "media_metadata",
    "non_public_metrics",
    "note_request_suggestions",
    "note_tweet",
    "organic_metrics",
    "paid_partnership",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "suggested_source_links",
    "suggested_source_links_with_counts",
    "text",
    "withheld",
)
USER_EXPANSIONS = ("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")

# The same parameters in v2.167's post vocabulary (docs/x-api/openapi-v2.167.json). The DM events lost
# sender_id, participant_ids and referenced_tweets as fields (they became expansions, §9.1); users lost
# affiliation, most_recent_tweet_id and pinned_tweet_id as fields (they became the user expansions) and
# gained subscribes_to_you. media.fields and event_types are the same in both.
POST_DM_EVENT_FIELDS = (
    "attachments",
    "created_at",
    "dm_conversation_id",
    "entities",
    "event_type",
    "id",
    "text",
)
# The spec lists attachments.media_keys twice; X, and this copy, take it once.
POST_DM_EXPANSIONS = ("attachments.media_keys", "participant_ids", "referenced_posts", "sender_id")
POST_USER_FIELDS = (
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "name",
    "parody",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscribes_to_you",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
)
POST_FIELDS = (
    "article",
    "article_title",
    "attachments",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "entities",
    "geo",
    "id",
    "lang",
    "matched_media_notes",
    "media_metadata",
    "non_public_metrics",
    "note_post",
    "note_request_suggestions",
    "organic_metrics",
    "paid_partnership",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "reply_settings",
    "scopes",
    "source",
    "suggested_source_links",
    "suggested_source_links_with_counts",
    "text",
    "withheld",
)
POST_USER_EXPANSIONS = ("affiliation", "most_recent_post_id", "pinned_post_id")

# Internally the sandbox uses the classic names; these are the post names that differ. (`affiliation`
# is a user field in v2.166 and the expansion of affiliation.user_id in v2.167.)
CLASSIC_EXPANSION = {
    "referenced_posts": "referenced_tweets.id",
    "affiliation": "affiliation.user_id",
    "most_recent_post_id": "most_recent_tweet_id",
    "pinned_post_id": "pinned_tweet_id",
}
CLASSIC_POST_FIELD = {"note_post": "note_tweet"}
POST_EXPANSION = "referenced_posts"  # v2.167's name for referenced_tweets.id

MAX_RESULTS_MIN, MAX_RESULTS_MAX, MAX_RESULTS_DEFAULT = 1, 100, 100

USER_ID = "^[0-9]{1,19}$"
EVENT_ID = "^[0-9]{1,19}$"
CONVERSATION_ID = "^([0-9]{1,19}-[0-9]{1,19}|[0-9]{15,19})$"

# The query parameters each endpoint takes, in the spec's order: X lists them in this order when it
# rejects an unknown one (docs/x-api.md §5.2). post.fields is the v2.167 alias.
LIST_PARAMETERS = (
    "max_results",
    "pagination_token",
    "event_types",
    "dm_event.fields",
    "expansions",
    "media.fields",
    "user.fields",
    "tweet.fields",
    "post.fields",
)
EVENT_PARAMETERS = LIST_PARAMETERS[3:]
# GET /2/users/me and /2/users/by/username/{username}.
USER_PARAMETERS = ("expansions", "tweet.fields", "user.fields", "post.fields")

# A snowflake id fits a signed 64-bit integer, which is also SQLite's limit.
MAX_SNOWFLAKE = 2**63 - 1

CLASSIC_PROBLEMS = "https://api.twitter.com/2/problems/"  # spec v2.166 and every recorded body
POST_PROBLEMS = "https://api.x.com/2/problems/"  # spec v2.167's Problem types


@dataclass(frozen=True)
class Names:
    """The vocabulary of a response: the one the request used (docs/x-api.md §9.1)."""

    referenced: str  # the DmEvent and Tweet key of referenced posts
    includes: str  # the includes key of posts
    edit_history: str  # the Tweet key
    expansion: str  # the `parameter` of a missing post in `errors`
    most_recent: str  # the User key of their newest post
    reposts: str  # the member of Tweet.public_metrics counting reposts
    # User.public_metrics' count of posts: v2.167 requires post_count; v2.166 requires tweet_count,
    # so a classic answer keeps it and carries post_count beside it, the same number (both count
    # posts including reposts), which lets a client built on v2.167 (xdk) read a classic answer.
    user_post_counts: tuple[str, ...]
    problems: str  # the base of every Problem `type` but about:blank


TWEET_NAMES = Names(
    referenced="referenced_tweets",
    includes="tweets",
    edit_history="edit_history_tweet_ids",
    expansion="referenced_tweets.id",
    most_recent="most_recent_tweet_id",
    reposts="retweet_count",
    user_post_counts=("tweet_count", "post_count"),
    problems=CLASSIC_PROBLEMS,
)
POST_NAMES = Names(
    referenced="referenced_posts",
    includes="posts",
    edit_history="edit_history_post_ids",
    expansion=POST_EXPANSION,
    most_recent="most_recent_post_id",
    reposts="repost_count",
    user_post_counts=("post_count",),
    problems=POST_PROBLEMS,
)
# The names only v2.167 has: a request using any of them is answered in the post vocabulary. One
# using none of them (no fields at all, or tweet.fields) is answered as X answered before v2.167.
_POST_ONLY = {"referenced_posts", "most_recent_post_id", "pinned_post_id", "affiliation"}


def vocabulary(params: Mapping[str, str]) -> Names:
    """The vocabulary a request speaks: post.fields or a v2.167-only expansion makes it the post one.
    Only names are looked at, so a request about to be refused still gets its error in its own
    words (the Problem `type` differs)."""
    if "post.fields" in params or _POST_ONLY & set(params.get("expansions", "").split(",")):
        return POST_NAMES
    return TWEET_NAMES


class InvalidParameter(Exception):
    """A parameter X would reject with 400 invalid-request."""

    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.value, self.message = parameter, value, message

    def response(self, names: Names = TWEET_NAMES) -> JsonResponse:
        return errors.invalid_request(
            self.parameter, self.value, self.message, problems=names.problems
        )


@dataclass(frozen=True)
class Cursor:
    """Where a page starts. `older`: events strictly older than `anchor` (a next_token);
    otherwise the events strictly newer than `anchor` (a previous_token)."""

    older: bool
    anchor: int


@dataclass(frozen=True)
class DmQuery:
    """A validated request. Expansions and fields use the v2.166 names internally."""

    max_results: int = MAX_RESULTS_DEFAULT
    cursor: Cursor | None = None
    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    event_fields: frozenset[str] = frozenset()
    expansions: frozenset[str] = frozenset()
    media_fields: frozenset[str] = frozenset()
    user_fields: frozenset[str] = frozenset()
    tweet_fields: frozenset[str] = frozenset()
    names: Names = TWEET_NAMES


@dataclass(frozen=True)
class UserQuery:
    """A validated user lookup, in the v2.166 names internally."""

    user_fields: frozenset[str] = frozenset()
    expansions: frozenset[str] = frozenset()
    tweet_fields: frozenset[str] = frozenset()
    names: Names = TWEET_NAMES


def _both(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return (*first, *(name for name in second if name not in first))


# What each parameter accepts, listed in the request's vocabulary first (the order of X's message).
_ACCEPTED = {
    TWEET_NAMES: {
        "dm_event.fields": _both(DM_EVENT_FIELDS, POST_DM_EVENT_FIELDS),
        "expansions": _both(DM_EXPANSIONS, POST_DM_EXPANSIONS),
        "user.fields": _both(USER_FIELDS, POST_USER_FIELDS),
        "tweet.fields": _both(TWEET_FIELDS, POST_FIELDS),
        "user expansions": _both(USER_EXPANSIONS, POST_USER_EXPANSIONS),
    },
    POST_NAMES: {
        "dm_event.fields": _both(POST_DM_EVENT_FIELDS, DM_EVENT_FIELDS),
        "expansions": _both(POST_DM_EXPANSIONS, DM_EXPANSIONS),
        "user.fields": _both(POST_USER_FIELDS, USER_FIELDS),
        "tweet.fields": _both(POST_FIELDS, TWEET_FIELDS),
        "user expansions": _both(POST_USER_EXPANSIONS, USER_EXPANSIONS),
    },
}

# Every field and expansion: what ground truth renders.
EVERYTHING = DmQuery(
    event_fields=frozenset(DM_EVENT_FIELDS),
    expansions=frozenset(DM_EXPANSIONS),
    media_fields=frozenset(MEDIA_FIELDS),
    user_fields=frozenset(_both(USER_FIELDS, POST_USER_FIELDS)),
    tweet_fields=frozenset(TWEET_FIELDS),
)


def parse_list_query(params: Mapping[str, str]) -> DmQuery:
    """The query of the three list endpoints; raises InvalidParameter."""
    _reject_unknown(params, LIST_PARAMETERS)
    return DmQuery(
        max_results=_max_results(params.get("max_results")),
        cursor=_cursor(params.get("pagination_token")),
        event_types=_csv(params, "event_types", EVENT_TYPES) or frozenset(EVENT_TYPES),
        **_fields(params),
    )


def parse_event_query(params: Mapping[str, str]) -> DmQuery:
    """The query of GET /2/dm_events/{event_id}: fields and expansions only (docs/x-api.md §2.2)."""
    _reject_unknown(params, EVENT_PARAMETERS)
    return DmQuery(**_fields(params))


def parse_user_query(params: Mapping[str, str]) -> UserQuery:
    """The query of a user lookup; raises InvalidParameter."""
    _reject_unknown(params, USER_PARAMETERS)
    names = vocabulary(params)
    accepted = _ACCEPTED[names]
    return UserQuery(
        user_fields=_csv(params, "user.fields", accepted["user.fields"]) or frozenset(),
        expansions=_classic(_csv(params, "expansions", accepted["user expansions"])),
        tweet_fields=_post_fields(params, accepted["tweet.fields"]),
        names=names,
    )


def check_path(name: str, value: str, pattern: str) -> None:
    """X reports a malformed path id as a query parameter (docs/x-api.md §5.2)."""
    if not re.fullmatch(pattern, value):
        raise InvalidParameter(
            name, value, f"The `{name}` query parameter value [{value}] does not match {pattern}"
        )


def _reject_unknown(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise InvalidParameter(
                name,
                params[name],
                f"The query parameter [{name}] is not one of [{','.join(allowed)}]",
            )


def _fields(params: Mapping[str, str]) -> dict:
    names = vocabulary(params)
    accepted = _ACCEPTED[names]
    return {
        "event_fields": _csv(params, "dm_event.fields", accepted["dm_event.fields"]) or frozenset(),
        "expansions": _classic(_csv(params, "expansions", accepted["expansions"])),
        "media_fields": _csv(params, "media.fields", MEDIA_FIELDS) or frozenset(),
        "user_fields": _csv(params, "user.fields", accepted["user.fields"]) or frozenset(),
        "tweet_fields": _post_fields(params, accepted["tweet.fields"]),
        "names": names,
    }


def _post_fields(params: Mapping[str, str], accepted: tuple[str, ...]) -> frozenset[str]:
    """tweet.fields and post.fields take the same names (both specs' enums)."""
    tweet_fields = _csv(params, "tweet.fields", accepted) or frozenset()
    fields = tweet_fields | (_csv(params, "post.fields", accepted) or frozenset())
    return frozenset(CLASSIC_POST_FIELD.get(name, name) for name in fields)


def _classic(expansions: frozenset[str] | None) -> frozenset[str]:
    return frozenset(CLASSIC_EXPANSION.get(name, name) for name in expansions or ())


def _csv(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
    """A comma-separated enum list (style=form, explode=false). Absent → None; an empty item
    (`user.fields=`, `a,,b`) fails like any value outside the enum (minItems 1)."""
    raw = params.get(name)
    if raw is None:
        return None
    values = raw.split(",")
    for value in values:
        if value not in allowed:
            raise InvalidParameter(
                name,
                value,
                f"The `{name}` query parameter value [{value}] is not one of [{','.join(allowed)}]",
            )
    return frozenset(values)


def _max_results(raw: str | None) -> int:
    if raw is None:
        return MAX_RESULTS_DEFAULT
    if re.fullmatch(r"[0-9]{1,4}", raw) and MAX_RESULTS_MIN <= int(raw) <= MAX_RESULTS_MAX:
        return int(raw)
    raise InvalidParameter(
        "max_results",
        raw,
        f"The `max_results` query parameter value [{raw}] is not between "
        f"{MAX_RESULTS_MIN} and {MAX_RESULTS_MAX}",
    )


def _cursor(raw: str | None) -> Cursor | None:
    if raw is None:
        return None
    cursor = decode_token(raw)
    if cursor is None:
        # X's words for a token it cannot use, measured with a 15-character value, i.e. one that
        # also fails minLength 16 (strohne/Facepager#191).
        raise InvalidParameter(
            "pagination_token",
            raw,
            f"The `pagination_token` query parameter value [{raw}] is not a valid token.",
        )
    return cursor


# Pagination tokens, byte for byte in X's format (docs/x-api.md §8.1): 20 base32hex digits of a 100-bit
# number, then "ZZZZ". The number is a 24-bit direction tag, the 64-bit anchor event id and 12 zero
# bits; the tags are those of the recorded tokens, so next = "18LAA5…", previous = "1BLC45…". The
# anchor is an event id, not an offset, so events arriving later never shift a page (keyset paging).
_BASE32HEX = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
_NEXT_TAG, _PREVIOUS_TAG = 0xA2AA5, 0xAEAC2
_TOKEN_SUFFIX = "ZZZZ"


def encode_token(cursor: Cursor) -> str:
    tag = _NEXT_TAG if cursor.older else _PREVIOUS_TAG
    number = (tag << 76) | (cursor.anchor << 12)
    digits = (_BASE32HEX[(number >> shift) & 31] for shift in range(95, -5, -5))
    return "".join(digits) + _TOKEN_SUFFIX


def decode_token(token: str) -> Cursor | None:
    """The cursor a token of ours encodes, or None for anything we did not mint."""
    body, suffix = token[:-4], token[-4:]
    if len(token) != 24 or suffix != _TOKEN_SUFFIX or not set(body) <= set(_BASE32HEX):
        return None
    number = 0
    for digit in body:
        number = number << 5 | _BASE32HEX.index(digit)
    tag, anchor, padding = number >> 76, (number >> 12) & (2**64 - 1), number & 0xFFF
    if tag not in (_NEXT_TAG, _PREVIOUS_TAG) or padding or anchor > MAX_SNOWFLAKE:
        return None
    return Cursor(older=tag == _NEXT_TAG, anchor=anchor)
