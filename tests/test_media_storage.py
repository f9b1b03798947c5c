"""The media cache on Django's storage API: the filesystem by default, and an S3-compatible bucket
shared by several app servers (a local moto server in server mode stands in for S3).

The origin is a small HTTP server on this machine posing as X's API base (the one non-CDN origin
the proxy fetches from), so each test can count what reached X."""

import hashlib
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests

from conversations import media
from tests.sandbox import REPO, free_port

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 800  # a JPEG's signature, 200 kB
BUCKET = "dmreader-media-test"
KEYS = {"MEDIA_S3_ACCESS_KEY_ID": "testing", "MEDIA_S3_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def origin(settings):
    """X's API base on 127.0.0.1, serving one DM photo as X does (application/octet-stream),
    slowly enough that concurrent requests overlap. Returns (photo URL, hit counter)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            for i in range(0, len(PHOTO), 50_000):
                self.wfile.write(PHOTO[i : i + 50_000])
                time.sleep(0.02)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.X_API_BASE_URL = base
    yield f"{base}/2/dm_conversations/media/11/22/photo.jpg", hits
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 in server mode, a separate process on a free port, with an empty bucket."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(endpoint + "/moto-api/", timeout=2)
            break
        except requests.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.2)
    yield endpoint
    process.terminate()
    process.wait(10)


@pytest.fixture
def bucket(s3_server, settings):
    """The app's media storage pointed at a fresh bucket; returns the bucket for inspection."""
    s3 = boto3.resource(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = s3.Bucket(BUCKET)
    bucket.create()
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "location": "media-cache",
                "max_memory_size": 2_000_000,
            },
        },
    }
    yield bucket
    bucket.objects.all().delete()
    bucket.delete()


def served(response) -> bytes:
    assert response.status_code == 200
    try:
        return b"".join(response.streaming_content)
    finally:
        # The file only: response.close() would also signal request_finished (a database check).
        response.file_to_stream.close()


def test_a_photo_is_cached_in_the_bucket_and_served_from_it_without_asking_x_again(origin, bucket):
    url, hits = origin
    first = media.proxy(url, owner_id=7, max_bytes=1_000_000)
    assert first["Content-Type"] == "image/jpeg"
    assert first["Content-Length"] == str(len(PHOTO))
    assert served(first) == PHOTO
    second = media.proxy(url, owner_id=7, max_bytes=1_000_000)
    assert served(second) == PHOTO
    assert len(hits) == 1
    name = hashlib.sha256(url.encode()).hexdigest()
    assert [o.key for o in bucket.objects.all()] == [f"media-cache/7/{name}"]


def test_a_second_app_server_configured_from_the_environment_serves_what_the_first_cached(
    origin, bucket, s3_server, tmp_path
):
    """Another process, set up only by the documented environment variables (MEDIA_STORAGE=s3),
    fetches the photo into the bucket; this one then serves it without reaching X."""
    url, hits = origin
    env = {
        **os.environ,
        **KEYS,
        "MEDIA_STORAGE": "s3",
        "MEDIA_S3_BUCKET": BUCKET,
        "MEDIA_S3_ENDPOINT_URL": s3_server,
        "MEDIA_S3_REGION": "us-east-1",
        "X_API_BASE_URL": url.split("/2/")[0],
        "MEDIA_CACHE_DIR": str(tmp_path / "unused"),
    }
    script = (
        "from conversations import media\n"
        f"r = media.proxy({url!r}, owner_id=7, max_bytes=1_000_000)\n"
        "print(r.status_code, len(b''.join(r.streaming_content)))\n"
    )
    other = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.stdout.split()[-2:] == ["200", str(len(PHOTO))], other.stderr[-2000:]
    assert len(hits) == 1
    assert not (tmp_path / "unused").exists()
    assert served(media.proxy(url, owner_id=7, max_bytes=1_000_000)) == PHOTO
    assert len(hits) == 1


def test_deleting_an_owners_files_empties_their_prefix_in_the_bucket_only(origin, bucket):
    url, _hits = origin
    for owner_id in (7, 8):
        served(media.proxy(url, owner_id=owner_id, max_bytes=1_000_000))
    assert media.delete_owner_files(7) == 1
    assert [o.key.split("/")[1] for o in bucket.objects.all()] == ["8"]
    assert media.delete_owner_files(7) == 0


def test_a_file_over_the_limit_is_neither_served_nor_stored(origin, bucket):
    url, _hits = origin
    assert media.proxy(url, owner_id=7, max_bytes=len(PHOTO) - 1).status_code == 404
    assert list(bucket.objects.all()) == []


def test_on_the_filesystem_requests_racing_for_one_file_all_get_it_whole(
    origin, settings, tmp_path
):
    """Every avatar of a page is asked for at once: a reader must never be served a file another
    request is still writing."""
    settings.MEDIA_CACHE_DIR = tmp_path / "cache"
    url, hits = origin
    bodies: list[bytes] = []

    def fetch():
        bodies.append(served(media.proxy(url, owner_id=7, max_bytes=1_000_000)))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bodies == [PHOTO] * 6
    name = hashlib.sha256(url.encode()).hexdigest()
    assert sorted(os.listdir(tmp_path / "cache")) == ["7"]  # no download left half-way
    assert os.listdir(tmp_path / "cache" / "7") == [name]
    assert len(hits) >= 1
    served(media.proxy(url, owner_id=7, max_bytes=1_000_000))
    assert media.delete_owner_files(7) == 1
    assert os.listdir(tmp_path / "cache") == []
