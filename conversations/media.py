"""Fetching images and video from X's hosts on the server, so the page loads nothing third-party.

Only allow-listed hosts are fetched (so this can never be pointed at an arbitrary URL), the
person's X token goes only to X's API, and what comes back is cached by owner and URL on Django's
storage API: the filesystem (MEDIA_CACHE_DIR) by default, or the `media` storage of
settings.STORAGES (an S3-compatible bucket that several app servers share, settings.MEDIA_STORAGE).
Each owner's files are under their own prefix, so leaving deletes exactly theirs.
"""

import hashlib
import logging
import os
import re
import tempfile
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
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
MAX_LINK_IMAGE_BYTES = 5_000_000

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
    """A photo (`full`), a video's MP4 (`video`) or a preview image of a cached DM. One imported
    from X's archive is served from the media storage, where the import put it: no X needed."""
    owner_id = item.owner_id
    if is_from_archive(item) and kind != "preview":  # an archive keeps no preview images
        stored = _open_cached(cache_storage(), archive_file_name(owner_id, item.media_key))
        if stored is not None:
            return _file_response(*stored)
    if kind in ("preview", "video"):
        return proxy(source_of(item, kind), owner_id=owner_id, max_bytes=MAX_MEDIA_BYTES)
    if kind == "full" and item.url and account is not None:
        # DM photos are private: X serves them to the participants' own token only.
        url = source_of(item, kind)
        token = ""
        if sends_token_to(url):
            try:
                token = xauth.fresh_access_token(account.pk)
            except xauth.XAuthError:
                return HttpResponseNotFound("Sign in again to load this photo")
        return proxy(url, owner_id=owner_id, max_bytes=MAX_MEDIA_BYTES, token=token)
    return HttpResponseNotFound("No such media file")


# A download is named after the media and what its first bytes are (media._sniffed).
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def download_response(item: Media, account: XAccount | None) -> HttpResponse:
    """The original of a photo, or a video's or GIF's MP4, as a file to save (`Content-Disposition:
    attachment`), named after its media key."""
    response = file_response(item, "full" if item.type == Media.PHOTO else "video", account)
    if response.status_code != 200:
        return response
    content_type = response["Content-Type"]
    extension = _EXTENSIONS.get(content_type, "mp4" if content_type == "video/mp4" else "bin")
    # media keys are X's "3_123…": digits and "_", safe in a header as they are.
    name = "".join(c for c in item.media_key if c.isascii() and (c.isalnum() or c == "_"))
    response["Content-Disposition"] = f'attachment; filename="dm-{name}.{extension}"'
    return response


def link_image(url: str, *, owner_id: int) -> HttpResponse:
    """A link card's picture (X's news_img host, pbs.twimg.com), or a neutral placeholder when it
    can't be had, so a card never shows a broken image."""
    response = proxy(url, owner_id=owner_id, max_bytes=MAX_LINK_IMAGE_BYTES) if url else None
    if response is not None and response.status_code == 200:
        if response["Content-Type"].startswith("image/"):
            return response
        response.close()  # a video or anything else is no card picture
    return HttpResponseRedirect(static("img/link.svg"))


def image_or_placeholder(url: str, *, owner_id: int) -> HttpResponse:
    """A profile image, or the neutral placeholder when there is none or it can't be fetched,
    so a page never shows a broken image."""
    response = proxy(url, owner_id=owner_id, max_bytes=MAX_AVATAR_BYTES) if url else None
    if response is None or response.status_code != 200:
        return HttpResponseRedirect(static("img/avatar.svg"))
    return response


def proxy(url: str, *, owner_id: int, max_bytes: int, token: str = "") -> HttpResponse:
    """The file at `url` for the user `owner_id` (whose cache it joins), fetched once and then
    streamed from the media storage."""
    source = safe_source(url)
    if not source:
        return HttpResponseNotFound()
    if token and not sends_token_to(source):
        token = ""
    storage = cache_storage()
    name = f"{int(owner_id)}/{hashlib.sha256(source.encode()).hexdigest()}"
    cached = _open_cached(storage, name)
    if cached is None:
        if not _fetch_into(storage, name, source, max_bytes=max_bytes, token=token):
            return HttpResponseNotFound()
        cached = _open_cached(storage, name)
        if cached is None:  # deleted in between (the owner left)
            return HttpResponseNotFound()
    return _file_response(*cached)


def _file_response(content_type: str, file: File) -> FileResponse:
    response = FileResponse(file, content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def source_of(item: Media, kind: str) -> str:
    """The URL file_response fetches for a media item's `full`, `video` or `preview` file."""
    if kind == "preview":
        return item.preview_image_url
    if kind == "video":
        return best_mp4(item.variants)
    return download_url(item.url) if item.url else ""


# Media from X's archive -------------------------------------------------------------------------
# The archive's DM photos, videos and GIFs (data/direct_messages_media/, …group_media/) are copied
# into the same storage as fetched media, in the same one-object format, under a name made from
# the owner and the media key only: a name inside the archive never becomes a path here, so a
# hostile one ("../../etc/passwd", an absolute path) can lead nowhere (archive.py refuses such an
# archive outright anyway). Each file is capped at MAX_MEDIA_BYTES and must be an image or video.


def is_from_archive(item: Media) -> bool:
    return isinstance(item.raw, dict) and bool(item.raw.get("archive_file"))


def archive_file_name(owner_id: int, media_key: str) -> str:
    return f"{int(owner_id)}/archive-{hashlib.sha256(media_key.encode()).hexdigest()}"


def store_archive_file(
    owner_id: int, media_key: str, source, *, size: int, max_bytes: int = MAX_MEDIA_BYTES
) -> bool:
    """Copy one media file of an archive (`source`: a binary stream, `size` its length as the
    archive says) into the media storage for its owner. False when it is refused: too big, or
    not a picture or video. Storing a file already there does nothing."""
    if size > max_bytes:
        logger.info("Archive media %s refused: %s bytes", media_key, size)
        return False
    head = source.read(16)
    content_type = _sniffed(head)
    if not content_type.startswith(("image/", "video/")):
        logger.info("Archive media %s refused: not a picture or video", media_key)
        return False
    # The archive's directory may lie about the size: the copy is capped too.
    return _keep(archive_file_name(owner_id, media_key), content_type, head, source, max_bytes)


def keep_file(owner_id: int, url: str, content_type: str, file, *, max_bytes: int) -> bool:
    """A file brought back from a backup (conversations/backup.py) into the owner's cache, under
    the name `proxy` finds it by, so it shows without asking X. Only for a URL the proxy would
    fetch and a type it serves; a copy already cached is kept. False when not kept."""
    source = safe_source(url)
    if not source or not content_type.startswith(("image/", "video/")):
        return False
    name = f"{int(owner_id)}/{hashlib.sha256(source.encode()).hexdigest()}"
    return _keep(name, content_type, b"", file, max_bytes)


def _keep(name: str, content_type: str, head: bytes, rest, max_bytes: int) -> bool:
    """`head` then the stream `rest` into the media storage as object `name` (the cache's
    one-object format below), unless it is there already; False past `max_bytes`."""
    storage = cache_storage()
    if storage.exists(name):
        return True

    def write(out) -> bool:
        out.write(content_type.encode("ascii") + b"\n" + head)
        copied = len(head)
        while chunk := rest.read(64 * 1024):
            copied += len(chunk)
            if copied > max_bytes:
                return False
            out.write(chunk)
        return True

    return _save_written(storage, name, ".keep-", write)


# The cache ----------------------------------------------------------------------------------------
# One object per owner and URL, `{owner_id}/{sha256 of the URL}`: a first line with the content
# type, then the file. One object, not a file and a sidecar, so what is stored is complete or
# absent on any storage: an S3 PUT is atomic, and on the filesystem the finished download is moved
# into place with one rename (_Downloaded).

_HEADER_MAX = 200


def cache_storage() -> Storage:
    """The `media` storage when settings.STORAGES names one, else the filesystem at
    MEDIA_CACHE_DIR (read on each call, so a test's or an operator's setting applies)."""
    if "media" in settings.STORAGES:
        return storages["media"]
    return FileSystemStorage(location=settings.MEDIA_CACHE_DIR, allow_overwrite=True)


def delete_owner_files(owner_id: int) -> int:
    """Delete every cached file of one owner; returns how many there were."""
    storage = cache_storage()
    prefix = str(int(owner_id))
    try:
        _dirs, files = storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    for name in files:
        storage.delete(f"{prefix}/{name}")
    if isinstance(storage, FileSystemStorage):
        storage.delete(prefix)  # the directory, now empty
    return len(files)


def _open_cached(storage: Storage, name: str) -> tuple[str, File] | None:
    try:
        file = storage.open(name, "rb")
        header = file.readline(_HEADER_MAX)
    except FileNotFoundError:
        return None
    content_type = header.rstrip(b"\n").decode("ascii", "replace")
    if not header.endswith(b"\n") or not content_type.startswith(ALLOWED_TYPES):
        file.close()
        logger.warning("Ignoring a media cache file without a valid header")
        return None
    return content_type, file


class _Downloaded(File):
    """A finished download on local disk. FileSystemStorage moves a file that has a
    temporary_file_path into place with os.rename, so no reader ever sees half of it."""

    def temporary_file_path(self) -> str:
        return self.name


def _temp_file(storage: Storage, prefix: str) -> tuple[int, str]:
    """A file to write an object into before it is saved: on the storage's own filesystem, so the
    rename into place is atomic; in the system's temporary folder for other storages."""
    if isinstance(storage, FileSystemStorage):
        os.makedirs(storage.location, exist_ok=True)
        return tempfile.mkstemp(dir=storage.location, prefix=prefix)
    return tempfile.mkstemp(prefix=prefix)


def _fetch_into(storage: Storage, name: str, url: str, *, max_bytes: int, token: str) -> bool:
    return _save_written(
        storage,
        name,
        ".download-",
        lambda out: _download(url, out, max_bytes=max_bytes, token=token),
    )


def _save_written(storage: Storage, name: str, prefix: str, write) -> bool:
    """The object `write(file)` writes (False: nothing to keep), saved into `storage` as `name`
    whole or not at all: written to a temporary file first, then saved from it."""
    fd, tmp = _temp_file(storage, prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            if not write(out):
                return False
        with _Downloaded(open(tmp, "rb"), name=tmp) as written:
            saved = storage.save(name, written)
        if saved != name:
            # A storage that does not overwrite kept another request's copy: drop ours.
            storage.delete(saved)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# X's DM media download endpoint answers application/octet-stream; browsers show an image or
# play a video only when told what it is (we send nosniff), so read it from the file's first bytes.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _sniffed(head: bytes) -> str:
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


def _download(url: str, out, *, max_bytes: int, token: str) -> bool:
    """Write the content type, a newline, then the file at `url` into `out`; False (and `out`
    to be thrown away) when it can't be had or is too big."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with requests.get(
            url, headers=headers, stream=True, timeout=settings.X_TIMEOUT, allow_redirects=False
        ) as response:
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if (
                response.status_code != 200
                or not content_type.startswith(ALLOWED_TYPES)
                or not content_type.isascii()
                or len(content_type) > 100
            ):
                logger.info("Media fetch answered %s %s", response.status_code, content_type)
                return False
            body = bytearray()
            chunks = response.iter_content(64 * 1024)
            # The type is the first line, so it is known before the body is written: read
            # enough of the body to sniff it first.
            for chunk in chunks:
                body += chunk
                if len(body) >= 16:
                    break
            if content_type == "application/octet-stream":
                content_type = _sniffed(bytes(body[:16]))
            out.write(content_type.encode("ascii") + b"\n")
            size = len(body)
            out.write(body)
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    return False
                out.write(chunk)
            return size <= max_bytes
    except requests.RequestException as exc:
        logger.info("Media fetch failed: %s", type(exc).__name__)
        return False
