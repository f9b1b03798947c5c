"""A thin client for the X API v2 endpoints DM Reader reads (docs/x-api.md).

`get` sends one request and turns every failure into an XApiError subclass whose message is safe
to show (it never contains a token). `Reader` adds what a sync needs around it: a fresh token
(refreshed once on a 401), the per-account rate-limit budget (never a request the window has no
room for), and retries with backoff and jitter for 5xx, timeouts, dropped connections and garbage.
`parse_dm_page` turns a page of DM events into typed objects: X's wire format ends here.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from conversations import xids

logger = logging.getLogger(__name__)

# Classic ("tweet") names: the API answers in the vocabulary it is asked in (docs/x-api.md §0.2, §9.1).
DM_EVENT_FIELDS = (
    "attachments,created_at,dm_conversation_id,entities,event_type,id,participant_ids,"
    "referenced_tweets,sender_id,text"
)
EXPANSIONS = "attachments.media_keys,participant_ids,referenced_tweets.id,sender_id"
MEDIA_FIELDS = (
    "alt_text,duration_ms,height,media_key,preview_image_url,public_metrics,type,url,variants,width"
)
TWEET_FIELDS = (
    "attachments,author_id,conversation_id,created_at,entities,id,in_reply_to_user_id,lang,"
    "possibly_sensitive,public_metrics,referenced_tweets,text"
)
USER_FIELDS = (
    "created_at,description,location,profile_image_url,protected,public_metrics,url,username,"
    "verified,verified_type"
)
PAGE_SIZE = 100


class XApiError(Exception):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class Unauthorized(XApiError):
    """401: the access token is expired or revoked."""


class Forbidden(XApiError):
    """403: the token lacks a scope (dm.read) or the app lacks access."""


class InvalidRequest(XApiError):
    """400: X refused a parameter, e.g. a pagination token it no longer knows."""


class RateLimited(XApiError):
    def __init__(self, message: str, *, reset_at: datetime | None):
        super().__init__(message, status=429)
        self.reset_at = reset_at


class Unavailable(XApiError):
    """5xx, a timeout, a dropped connection or an answer that is not JSON: worth retrying."""


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset_at: datetime

    @classmethod
    def from_headers(cls, headers) -> "RateLimit | None":
        try:
            return cls(
                limit=int(headers["x-rate-limit-limit"]),
                remaining=int(headers["x-rate-limit-remaining"]),
                reset_at=datetime.fromtimestamp(int(headers["x-rate-limit-reset"]), tz=UTC),
            )
        except (KeyError, ValueError, OverflowError):
            return None


@dataclass(frozen=True)
class Answer:
    body: dict
    rate_limit: RateLimit | None


def session() -> OAuth2Session:
    """An HTTP session for API calls; reusing one keeps the connection to X alive across pages."""
    return OAuth2Session(settings.X_CLIENT_ID)


def get(
    path: str, *, token: str, params: dict | None = None, http: OAuth2Session | None = None
) -> Answer:
    http = http or session()
    http.token = {"access_token": token, "token_type": "Bearer"}
    try:
        response = http.get(
            settings.X_API_BASE_URL + path, params=params, timeout=settings.X_TIMEOUT
        )
    except requests.RequestException as exc:
        raise Unavailable(f"X could not be reached ({type(exc).__name__}).") from None
    except OAuth2Error as exc:  # e.g. X_API_BASE_URL without https
        raise XApiError(f"The request to X was not sent: {exc.description}") from None
    rate_limit = RateLimit.from_headers(response.headers)
    status = response.status_code
    if status == 401:
        raise Unauthorized("X no longer accepts this sign-in.", status=401)
    if status == 403:
        raise Forbidden("X refused access: " + _detail(response), status=403)
    if status == 429:
        reset_at = rate_limit.reset_at if rate_limit else None
        raise RateLimited("X's rate limit is used up.", reset_at=reset_at)
    if status >= 500:
        raise Unavailable(f"X answered {status}.", status=status)
    try:
        body = response.json()
    except ValueError:
        raise Unavailable("X's answer was not valid JSON.", status=status) from None
    if not isinstance(body, dict):
        raise Unavailable("X's answer was not a JSON object.", status=status)
    if status == 400:
        raise InvalidRequest("X refused the request: " + _detail(response), status=status)
    if status >= 400:
        raise XApiError("X refused the request: " + _detail(response), status=status)
    return Answer(body=body, rate_limit=rate_limit)


def get_user_by_username(*, token: str, username: str) -> dict | None:
    """GET /2/users/by/username/{username}: who a name belongs to, or None if nobody (X says so
    in `errors` with a 200)."""
    body = get(
        f"/2/users/by/username/{username}", token=token, params={"user.fields": USER_FIELDS}
    ).body
    data = body.get("data")
    if isinstance(data, dict) and xids.is_x_id(data.get("id")):
        return data
    return None


def dm_events_params(pagination_token: str = "") -> dict:
    """Every field and expansion of a DM event page, so nothing X could tell us is left out."""
    params = {
        "max_results": PAGE_SIZE,
        "dm_event.fields": DM_EVENT_FIELDS,
        "expansions": EXPANSIONS,
        "media.fields": MEDIA_FIELDS,
        "tweet.fields": TWEET_FIELDS,
        "user.fields": USER_FIELDS,
    }
    if pagination_token:
        params["pagination_token"] = pagination_token
    return params


def all_events_path() -> str:
    return "/2/dm_events"


def conversation_events_path(conversation_id: str) -> str:
    return f"/2/dm_conversations/{conversation_id}/dm_events"


def participant_events_path(participant_id: str) -> str:
    return f"/2/dm_conversations/with/{participant_id}/dm_events"


class Budget:
    """Where an account's rate-limit window stands, kept by the caller between requests."""

    def __init__(
        self,
        *,
        limit: int | None,
        remaining: int | None,
        reset_at: datetime | None,
        interactive: bool = False,
    ):
        self.limit = limit
        self.remaining = remaining
        self.reset_at = reset_at
        self.interactive = interactive

    @property
    def reserve(self) -> int:
        """Requests a background sync leaves in each window for the conversation a person opens:
        3 of X's 15 today, and as few of the old 300 (a person reads one page at a time)."""
        if self.interactive or not self.limit:
            return 0
        return min(3, self.limit // 5)

    def seconds_until_room(self) -> float:
        if self.remaining is None or self.reset_at is None:
            return 0
        wait = (self.reset_at - timezone.now()).total_seconds()
        if wait <= 0:
            return 0
        return wait if self.remaining <= self.reserve else 0

    def record(self, rate_limit: RateLimit | None) -> None:
        if rate_limit is not None:
            self.limit = rate_limit.limit
            self.remaining, self.reset_at = rate_limit.remaining, rate_limit.reset_at

    def exhausted(self, reset_at: datetime | None) -> None:
        self.remaining = 0
        self.reset_at = reset_at or timezone.now()


USERS_PER_REQUEST = 100  # GET /2/users?ids=: the spec's maxItems


@dataclass(frozen=True)
class UsersAnswer:
    """GET /2/users?ids=, parsed: the users X returned, and the ids it reported missing
    (deleted, suspended: `errors` beside `data`)."""

    users: list["UserData"]
    gone: set[str]
    rate_limit: RateLimit | None = None


def get_users(*, token: str, ids: list[str], http: OAuth2Session | None = None) -> UsersAnswer:
    """Who up to 100 X user ids are (people an imported archive names by id only)."""
    if not 0 < len(ids) <= USERS_PER_REQUEST or not all(xids.is_x_id(i) for i in ids):
        raise ValueError(f"1 to {USERS_PER_REQUEST} X user ids, not {ids!r}")
    answer = get(
        "/2/users",
        token=token,
        params={"ids": ",".join(ids), "user.fields": USER_FIELDS},
        http=http,
    )
    users = [_user(u) for u in _objects(answer.body.get("data")) if xids.is_x_id(u.get("id"))]
    errors = [_partial_error(e) for e in _objects(answer.body.get("errors"))]
    asked = set(ids)
    gone = {e.resource_id for e in errors if e.resource_type == "user"} & asked
    return UsersAnswer(
        users=[u for u in users if u.id in asked],
        gone=gone - {u.id for u in users},
        rate_limit=answer.rate_limit,
    )


class Reader:
    """GETs for one account: fresh tokens, the budget, retries. `on_wait(until)` is told before
    each wait for the rate limit; waits longer than `max_wait` raise RateLimited instead, so a
    task can end and come back at the reset rather than hold a worker."""

    def __init__(
        self,
        *,
        token: Callable[[str], str],
        budget: Budget,
        max_wait: float = 0,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[RateLimit | None], None] = lambda _: None,
        on_wait: Callable[[datetime], None] = lambda _: None,
    ):
        self.token = token
        self.budget = budget
        self.max_wait = max_wait
        self.retries = retries
        self.sleep = sleep
        self.on_request = on_request
        self.on_wait = on_wait
        self.requests_made = 0
        self.http = session()

    def get(self, path: str, params: dict) -> Answer:
        stale, failures = "", 0
        while True:
            self._wait_for_room()
            token = self.token(stale)
            self.requests_made += 1
            try:
                answer = get(path, token=token, params=params, http=self.http)
            except Unauthorized:
                if stale:
                    raise
                stale = token  # refresh once, then try again
                continue
            except RateLimited as exc:
                self.budget.exhausted(exc.reset_at)
                self.on_request(None)
                continue
            except Unavailable as exc:
                failures += 1
                if failures > self.retries:
                    raise
                delay = min(30.0, 0.5 * 2**failures) * random.uniform(0.5, 1.0)  # noqa: S311
                logger.info("Retrying %s in %.1fs after: %s", path, delay, exc)
                self.sleep(delay)
                continue
            self.budget.record(answer.rate_limit)
            self.on_request(answer.rate_limit)
            return answer

    def _wait_for_room(self) -> None:
        wait = self.budget.seconds_until_room()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise RateLimited("Waiting for X's rate limit to reset.", reset_at=self.budget.reset_at)
        self.on_wait(self.budget.reset_at)
        self.sleep(wait + 1)  # X's reset is whole seconds; one more avoids an early 429
        self.budget.remaining = None


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


# A page of DM events, parsed -------------------------------------------------------------------
#
# The wire format of /2/dm_events (and of a conversation's events) ends here: the store takes
# these objects, whatever they were read from. Nothing in a page can raise: odd values are left
# out (None: "X did not say"), unusable events are reported in `problems`, and every object keeps
# `raw`, exactly what X sent, so nothing is lost.


@dataclass(frozen=True)
class EventData:
    id: str
    conversation_id: str
    event_type: str
    created_at: datetime
    text: str
    sender_id: str  # "" for events without a sender (ParticipantsLeave)
    participant_ids: list[str]
    entities: dict
    media_keys: list[str]
    post_ids: list[str]  # referenced_tweets
    raw: dict

    @property
    def has_own_link(self) -> bool:
        """A link the sender wrote, not the one X appends for an attachment or a shared post."""
        for url in self.entities.get("urls") or []:
            if not isinstance(url, dict) or url.get("media_key"):
                continue
            target = str(url.get("unwound_url") or url.get("expanded_url") or "")
            if not any(target.rstrip("/").endswith(f"/status/{p}") for p in self.post_ids):
                return True
        return False


@dataclass(frozen=True)
class UserData:
    """includes.users. None: X left the field out (what we knew before is kept)."""

    id: str
    raw: dict
    username: str | None = None
    name: str | None = None
    profile_image_url: str | None = None
    description: str | None = None
    location: str | None = None
    url: str | None = None
    protected: bool | None = None
    verified: bool | None = None
    verified_type: str | None = None
    public_metrics: dict | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class MediaData:
    media_key: str
    raw: dict
    type: str | None = None
    url: str | None = None
    preview_image_url: str | None = None
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    variants: list | None = None
    public_metrics: dict | None = None


@dataclass(frozen=True)
class PostData:
    """includes.tweets: a post shared into a DM."""

    id: str
    raw: dict
    author_id: str = ""
    text: str | None = None
    created_at: datetime | None = None
    lang: str | None = None
    entities: dict | None = None
    referenced_tweets: list | None = None
    public_metrics: dict | None = None


@dataclass(frozen=True)
class PartialError:
    """One of X's `errors` beside `data`: an object it could not return (a deleted post, a
    suspended sender). resource_id is "" when it is not an id."""

    resource_type: str
    resource_id: str
    note: str


@dataclass(frozen=True)
class DmPage:
    events: list[EventData] = field(default_factory=list)
    users: list[UserData] = field(default_factory=list)
    media: list[MediaData] = field(default_factory=list)
    posts: list[PostData] = field(default_factory=list)
    errors: list[PartialError] = field(default_factory=list)
    next_token: str = ""
    problems: list[str] = field(default_factory=list)  # what could not be used, and why

    def gone(self, resource_type: str) -> set[str]:
        """Ids X reported missing: resource_type "user" or "tweet"."""
        return {
            e.resource_id for e in self.errors if e.resource_type == resource_type and e.resource_id
        }


def parse_dm_page(body: dict, *, conversation_id: str = "") -> DmPage:
    """A page of /2/dm_events or /2/dm_conversations/…/dm_events. `conversation_id` is the
    conversation asked for, for events that do not name theirs."""
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    problems: list[str] = []
    events = []
    for raw in _objects(body.get("data")):
        event = _event(raw, conversation_id, problems)
        if event is not None:
            events.append(event)
    errors = [_partial_error(e) for e in _objects(body.get("errors"))]
    return DmPage(
        events=events,
        users=[_user(o) for o in _objects(includes.get("users")) if xids.is_x_id(o.get("id"))],
        media=[_media(o) for o in _objects(includes.get("media")) if _str(o.get("media_key"))],
        posts=[_post(o) for o in _objects(includes.get("tweets")) if xids.is_x_id(o.get("id"))],
        errors=errors,
        next_token=_next_token(body),
        problems=problems,
    )


def _objects(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _datetime(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _next_token(body: dict) -> str:
    meta = body.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) else ""


def _event(raw: dict, conversation_id: str, problems: list[str]) -> EventData | None:
    x_id = raw.get("id")
    conversation = raw.get("dm_conversation_id") or conversation_id
    created_at = _datetime(raw.get("created_at"))
    if not xids.is_x_id(x_id):
        problems.append(f"Skipped an event with an unusable id: {str(x_id)[:40]!r}")
        return None
    if not xids.is_conversation_id(conversation) or created_at is None:
        problems.append(f"Skipped event {x_id}: no conversation id or creation time")
        return None
    attachments = raw.get("attachments") if isinstance(raw.get("attachments"), dict) else {}
    participants = raw.get("participant_ids")
    return EventData(
        id=x_id,
        conversation_id=conversation,
        event_type=str(raw.get("event_type", ""))[:40],
        created_at=created_at,
        text=_str(raw.get("text")) or "",
        sender_id=xids.x_id_or_empty(raw.get("sender_id")),
        participant_ids=[p for p in participants if xids.is_x_id(p)]
        if isinstance(participants, list)
        else [],
        entities=raw.get("entities") if isinstance(raw.get("entities"), dict) else {},
        media_keys=[k for k in attachments.get("media_keys") or [] if isinstance(k, str)]
        if isinstance(attachments.get("media_keys"), list)
        else [],
        post_ids=[
            r["id"] for r in _objects(raw.get("referenced_tweets")) if xids.is_x_id(r.get("id"))
        ],
        raw=raw,
    )


def _user(raw: dict) -> UserData:
    return UserData(
        id=raw["id"],
        raw=raw,
        username=_str(raw.get("username")),
        name=_str(raw.get("name")),
        profile_image_url=_str(raw.get("profile_image_url")),
        description=_str(raw.get("description")),
        location=_str(raw.get("location")),
        url=_str(raw.get("url")),
        protected=raw.get("protected") if isinstance(raw.get("protected"), bool) else None,
        verified=raw.get("verified") if isinstance(raw.get("verified"), bool) else None,
        verified_type=_str(raw.get("verified_type")),
        public_metrics=raw.get("public_metrics")
        if isinstance(raw.get("public_metrics"), dict)
        else None,
        created_at=_datetime(raw.get("created_at")),
    )


def _media(raw: dict) -> MediaData:
    return MediaData(
        media_key=raw["media_key"],
        raw=raw,
        type=str(raw["type"]) if "type" in raw else None,
        url=_str(raw.get("url")),
        preview_image_url=_str(raw.get("preview_image_url")),
        alt_text=_str(raw.get("alt_text")),
        width=_count(raw.get("width")),
        height=_count(raw.get("height")),
        duration_ms=_count(raw.get("duration_ms")),
        variants=raw.get("variants") if isinstance(raw.get("variants"), list) else None,
        public_metrics=raw.get("public_metrics") or None,
    )


def _post(raw: dict) -> PostData:
    refs = raw.get("referenced_tweets")
    return PostData(
        id=raw["id"],
        raw=raw,
        author_id=xids.x_id_or_empty(raw.get("author_id")),
        text=_str(raw.get("text")),
        created_at=_datetime(raw.get("created_at")),
        lang=str(raw["lang"]) if raw.get("lang") else None,
        entities=raw.get("entities") if isinstance(raw.get("entities"), dict) else None,
        referenced_tweets=refs if isinstance(refs, list) else None,
        public_metrics=raw.get("public_metrics") or None,
    )


def _partial_error(raw: dict) -> PartialError:
    what_id = raw.get("resource_id") or raw.get("value")
    what = f"{raw.get('resource_type', 'object')} {what_id}"
    reason = raw.get("title") or raw.get("detail") or "no reason given"
    return PartialError(
        resource_type=str(raw.get("resource_type", "")),
        resource_id=xids.x_id_or_empty(what_id),
        note=f"X did not return {what}: {reason}"[:300],
    )
