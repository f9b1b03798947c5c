"""Fetching images and video from X's hosts on the server, so the page loads nothing third-party.

Only allow-listed hosts are fetched (so this can never be pointed at an arbitrary URL), and what
comes back is cached on disk by URL.
"""

import hashlib
import logging
import os
import re
import tempfile
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseNotFound

logger = logging.getLogger(__name__)

# X's CDNs and API hosts, plus wherever X_API_BASE_URL points (the sandbox serves media itself).
X_MEDIA_HOSTS = {"pbs.twimg.com", "video.twimg.com", "ton.twitter.com", "api.x.com"}
ALLOWED_TYPES = ("image/", "video/", "application/octet-stream", "application/x-mpegurl")


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


def allowed_host(url: str) -> bool:
    parts = urlsplit(url)
    api = urlsplit(settings.X_API_BASE_URL)
    if parts.scheme == "https" and parts.hostname in X_MEDIA_HOSTS:
        return True
    return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


def proxy(url: str, *, max_bytes: int, token: str = "") -> HttpResponse:
    if not url or not allowed_host(url):
        return HttpResponseNotFound()
    path = settings.MEDIA_CACHE_DIR / hashlib.sha256(url.encode()).hexdigest()
    content_type_path = path.with_suffix(".type")
    if not path.exists():
        content_type = _download(url, path, max_bytes=max_bytes, token=token)
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
