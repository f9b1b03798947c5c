"""The media proxy: which URLs from X's answers the server fetches, and who gets the X token.

Every URL in a payload is untrusted (a hostile or compromised API answer can carry any string), so
these tests hand the proxy URLs that parsers read differently and watch a real listener on this
machine that must never be reached."""

import socket
import threading

import pytest
import responses

from conversations import media
from conversations.models import Media


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 that counts the connections made to it (TLS or not)."""
    connections: list[tuple] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def hostile_urls(port: int) -> list[str]:
    return [
        # urlsplit says pbs.twimg.com; requests (urllib3) connects to 127.0.0.1:port.
        f"https://127.0.0.1:{port}\\@pbs.twimg.com/media/x.jpg",
        f"https://127.0.0.1:{port}\\\\@video.twimg.com/v.mp4",
        f"https://user:pass@127.0.0.1:{port}/x.jpg",
        f"https://pbs.twimg.com@127.0.0.1:{port}/x.jpg",
        f"https://pbs.twimg.com:{port}/x.jpg",
        f"http://127.0.0.1:{port}/x.jpg",
        f"https://127.0.0.1:{port}\t@pbs.twimg.com/x.jpg",
        f"https://127.0.0.1:{port}%5C@pbs.twimg.com/x.jpg",
    ]


def test_urls_that_parsers_read_differently_are_never_fetched(listener, settings, tmp_path):
    port, connections = listener
    settings.MEDIA_CACHE_DIR = tmp_path
    for url in hostile_urls(port):
        assert media.safe_source(url) == "", url
        assert media.proxy(url, owner_id=1, max_bytes=1000).status_code == 404, url
    assert connections == []


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["full", "preview", "video"])
def test_no_kind_of_media_file_reaches_a_hostile_host(listener, settings, tmp_path, kind):
    port, connections = listener
    settings.MEDIA_CACHE_DIR = tmp_path
    from django.contrib.auth.models import User

    owner = User.objects.create(username="x1")
    for i, url in enumerate(hostile_urls(port)):
        item = Media.objects.create(
            owner=owner,
            media_key=f"3_{i}",
            type="photo" if kind == "full" else "video",
            url=url,
            preview_image_url=url,
            variants=[{"content_type": "video/mp4", "bit_rate": 1, "url": url}],
        )
        assert media.file_response(item, kind, account=None).status_code == 404
    assert connections == []


def test_x_s_own_hosts_and_the_api_base_are_fetched_as_parsed(settings):
    settings.X_API_BASE_URL = "http://127.0.0.1:8765"
    assert media.safe_source("https://PBS.twimg.com/media/a.jpg?name=orig") == (
        "https://pbs.twimg.com/media/a.jpg?name=orig"
    )
    assert media.safe_source("https://video.twimg.com/dm_video/1/vid/a.mp4")
    assert media.safe_source("http://127.0.0.1:8765/2/dm_conversations/media/1/2/a.jpg")
    assert not media.safe_source("http://127.0.0.1:8766/2/dm_conversations/media/1/2/a.jpg")
    assert not media.safe_source("http://pbs.twimg.com/media/a.jpg")  # not over https


@responses.activate
def test_the_x_token_goes_to_the_api_and_never_to_a_cdn(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path
    settings.X_API_BASE_URL = "https://api.x.com"
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 100
    responses.get("https://pbs.twimg.com/media/a.jpg", body=jpeg, content_type="image/jpeg")
    responses.get(
        "https://api.x.com/2/dm_conversations/media/1/2/a.jpg",
        body=jpeg,
        content_type="application/octet-stream",
    )
    assert (
        media.proxy(
            "https://pbs.twimg.com/media/a.jpg", owner_id=1, max_bytes=1000, token="t0k"
        ).status_code
        == 200
    )
    assert "Authorization" not in responses.calls[-1].request.headers
    api = "https://api.x.com/2/dm_conversations/media/1/2/a.jpg"
    response = media.proxy(api, owner_id=1, max_bytes=1000, token="t0k")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer t0k"


def test_a_legacy_dm_photo_url_is_fetched_through_the_api_with_the_token(settings):
    settings.X_API_BASE_URL = "https://api.x.com"
    url = media.download_url("https://ton.twitter.com/1.1/ton/data/dm/11/22/AbC.jpg")
    assert url == "https://api.x.com/2/dm_conversations/media/11/22/AbC.jpg"
    assert media.sends_token_to(url)
    assert not media.sends_token_to("https://pbs.twimg.com/media/AbC.jpg")
    assert not media.sends_token_to("https://api.x.com.evil.example/2/x")


def test_a_profile_image_that_cannot_be_fetched_falls_back_to_the_placeholder(
    listener, settings, tmp_path
):
    port, connections = listener
    settings.MEDIA_CACHE_DIR = tmp_path
    for url in ["", *hostile_urls(port)]:
        response = media.image_or_placeholder(url, owner_id=1)
        assert response.status_code == 302
        assert response["Location"].endswith("/img/avatar.svg")
    assert connections == []
