"""Fetching images and video from X's hosts on the server, so the page loads nothing third-party.

Only allow-listed hosts are fetched (so this can never be pointed at an arbitrary URL), the
person's X token goes only to X's API, and what comes back is cached on disk by URL.
"""

import hashlib
import logging
import os
import re
import tempfile
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.templatetags.static import static
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from conversations.models import Media
from dmreader import xauth
from dmreader.models import XAccount

logger = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 100_000_000
MAX_AVATAR_BYTES = 2_000_000

# X's CDNs, plus wherever X_API_BASE_URL points (the sandbox serves media itself).
X_MEDIA_HOSTS = {"pbs.twimg.com", "video.twimg.com", "ton.twitter.com", "api.x.com"}
ALLOWED_TYPES = ("image/", "video/", "application/octet-stream", "application/x-mpegurl")
_DEFAULT_PORTS = {"http": 80, "https": 443}


# A legacy DM photo URL (ton.twitter.com) names the event, the media and the file; X's OAuth 2
# download endpoint takes the same three (docs/x-api.md §4, since v2.160).
_TON_PATH = re.compile(r"/1\.1/ton/data/dm/([0-9]{1,19})/([0-9]{1,19})/([A-Za-z0-9_.-]{1,50})$")


def download_url(url: str) -> str:
    match = _TON_PATH.search(urlsplit(url).path)
    if match is None:
        return url
    dm_id, media_id, resource = match.groups()
    return f"{settings.X_API_BASE_URL}/2/dm_conversations/media/{dm_id}/{media_id}/{resource}"


def best_mp4(variants: list) -> str:
    """The highest bit rate MP4 of a video or GIF (the HLS playlist needs a player we don't ship)."""
    mp4s = [
        v
        for v in variants
        if isinstance(v, dict)
        and v.get("content_type") == "video/mp4"
        and isinstance(v.get("url"), str)
    ]
    if not mp4s:
        return ""
    return max(mp4s, key=lambda v: v.get("bit_rate") or 0)["url"]


def _origin(scheme: str | None, host: str | None, port: int | None) -> tuple:
    scheme = (scheme or "").lower()
    return scheme, (host or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _api_origin() -> tuple:
    api = parse_url(settings.X_API_BASE_URL)
    return _origin(api.scheme, api.host, api.port)


def safe_source(url: object) -> str:
    """The URL to fetch, rebuilt from what the HTTP client itself parsed, or "" if it may not be
    fetched. Every URL comes from X's answers, so it is untrusted: a check made with one parser
    and a request made with another can disagree on the host. `https://evil\\@pbs.twimg.com/` is
    pbs.twimg.com to urlsplit but evil to requests (which uses urllib3's parser). So parse once with
    urllib3, refuse anything two parsers could read differently (user info, backslashes, control
    characters, an explicit port that is not the default), and request exactly what was checked."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        return ""
    if "\\" in url or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return ""
    try:
        parts = parse_url(url)
    except LocationParseError:
        return ""
    if parts.auth is not None or not parts.host or parts.scheme not in _DEFAULT_PORTS:
        return ""
    if urlsplit(url).hostname != parts.host.lower():  # the two parsers must agree
        return ""
    origin = _origin(parts.scheme, parts.host, parts.port)
    # X's CDNs over https on the default port; the API base (the sandbox) may name its own port.
    on_cdn = origin[0] == "https" and origin[1] in X_MEDIA_HOSTS and origin[2] == 443
    if not on_cdn and origin != _api_origin():
        return ""
    return parts.url


def allowed_host(url: str) -> bool:
    return bool(safe_source(url))


def sends_token_to(url: str) -> bool:
    """The person's X token goes to X's API only, never to a CDN or anywhere else a URL in a
    payload points: DM photos are downloaded through the API's own media endpoint."""
    try:
        parts = parse_url(url)
    except LocationParseError:
        return False
    return _origin(parts.scheme, parts.host, parts.port) == _api_origin()


def file_response(item: Media, kind: str, account: XAccount | None) -> HttpResponse:
    """A photo (`full`), a video's MP4 (`video`) or a preview image of a cached DM."""
    if kind == "preview":
        return proxy(item.preview_image_url, max_bytes=MAX_MEDIA_BYTES)
    if kind == "video":
        return proxy(best_mp4(item.variants), max_bytes=MAX_MEDIA_BYTES)
    if kind == "full" and item.url and account is not None:
        # DM photos are private: X serves them to the participants' own token only.
        url = download_url(item.url)
        token = ""
        if sends_token_to(url):
            try:
                token = xauth.fresh_access_token(account.pk)
            except xauth.XAuthError:
                return HttpResponseNotFound("Sign in again to load this photo")
        return proxy(url, max_bytes=MAX_MEDIA_BYTES, token=token)
    return HttpResponseNotFound("No such media file")


def image_or_placeholder(url: str) -> HttpResponse:
    """A profile image, or the neutral placeholder when there is none or it can't be fetched,
    so a page never shows a broken image."""
    response = proxy(url, max_bytes=MAX_AVATAR_BYTES) if url else None
    if response is None or response.status_code != 200:
        return HttpResponseRedirect(static("img/avatar.svg"))
    return response


def proxy(url: str, *, max_bytes: int, token: str = "") -> HttpResponse:
    source = safe_source(url)
    if not source:
        return HttpResponseNotFound()
    if token and not sends_token_to(source):
        token = ""
    path = settings.MEDIA_CACHE_DIR / hashlib.sha256(source.encode()).hexdigest()
    content_type_path = path.with_suffix(".type")
    if not path.exists():
        content_type = _download(source, path, max_bytes=max_bytes, token=token)
        if content_type is None:
            return HttpResponseNotFound()
        content_type_path.write_text(content_type)
    response = FileResponse(path.open("rb"), content_type=content_type_path.read_text())
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# X's DM media download endpoint answers application/octet-stream; browsers show an image or
# play a video only when told what it is (we send nosniff), so read it from the file's first bytes.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _sniffed(path) -> str:
    with open(path, "rb") as file:
        head = file.read(16)
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


def _download(url: str, path, *, max_bytes: int, token: str) -> str | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with requests.get(
            url, headers=headers, stream=True, timeout=settings.X_TIMEOUT, allow_redirects=False
        ) as response:
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or not content_type.startswith(ALLOWED_TYPES):
                logger.info("Media fetch answered %s %s", response.status_code, content_type)
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and rename: a half-downloaded file is never served.
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        os.unlink(tmp)
                        return None
                    out.write(chunk)
            os.replace(tmp, path)
            return _sniffed(path) if content_type == "application/octet-stream" else content_type
    except requests.RequestException as exc:
        logger.info("Media fetch failed: %s", type(exc).__name__)
        return None
