"""A thin client for the X API v2 endpoints DM Reader reads (docs/x-api.md).

`get` sends one request and turns every failure into an XApiError subclass whose message is safe
to show (it never contains a token). `Reader` adds what a sync needs around it: a fresh token
(refreshed once on a 401), the per-account rate-limit budget (never a request the window has no
room for), and retries with backoff and jitter for 5xx, timeouts, dropped connections and garbage.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

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
    if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"].isdigit():
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
