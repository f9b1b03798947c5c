"""A thin client for the X API v2 endpoints DM Reader reads. One function per endpoint; every
failure is an XApiError subclass whose message is safe to show (it never contains a token)."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

USER_FIELDS = "created_at,description,location,profile_image_url,protected,public_metrics,url,username,verified,verified_type"


class XApiError(Exception):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class Unauthorized(XApiError):
    """401: the access token is expired or revoked."""


class Forbidden(XApiError):
    """403: the token lacks a scope (dm.read) or the app lacks access."""


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


def get(path: str, *, token: str, params: dict | None = None) -> Answer:
    try:
        response = requests.get(
            settings.X_API_BASE_URL + path,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.X_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise Unavailable(f"X could not be reached ({type(exc).__name__}).") from None
    rate_limit = RateLimit.from_headers(response.headers)
    if response.status_code == 401:
        raise Unauthorized("X no longer accepts this sign-in.", status=401)
    if response.status_code == 403:
        raise Forbidden("X refused access: " + _detail(response), status=403)
    if response.status_code == 429:
        raise RateLimited(
            "X's rate limit is used up.", reset_at=rate_limit.reset_at if rate_limit else None
        )
    if response.status_code >= 500:
        raise Unavailable(f"X answered {response.status_code}.", status=response.status_code)
    try:
        body = response.json()
    except ValueError:
        raise Unavailable("X's answer was not valid JSON.", status=response.status_code) from None
    if not isinstance(body, dict):
        raise Unavailable("X's answer was not a JSON object.", status=response.status_code)
    if response.status_code >= 400:
        raise XApiError("X refused the request: " + _detail(response), status=response.status_code)
    return Answer(body=body, rate_limit=rate_limit)


def get_me(*, token: str) -> dict:
    """GET /2/users/me: the signed-in account."""
    data = get("/2/users/me", token=token, params={"user.fields": USER_FIELDS}).body.get("data")
    if not isinstance(data, dict) or not data.get("id") or not data.get("username"):
        raise Unavailable("X's answer about the account was incomplete.")
    return data


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"
