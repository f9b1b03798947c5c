"""Logs name no token, cookie or message text, even at DEBUG: a person signs in, the worker syncs
(with a fault to retry), the person reads, searches, loads a photo and signs out, and every line
logged on the way, in this process and in the worker's, is searched for their secrets and words."""

import logging
import os
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from conversations.models import DmEvent, Media
from dmreader.models import XAccount
from tests.sandbox import REPO, Sandbox
from tests.signin_helpers import follow_back, start_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server = Sandbox(tmp_path_factory.mktemp("logs-sandbox"), XSANDBOX_RATE_LIMIT="100000/900")
    yield server.start()
    server.stop()


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record as the configured handler (settings.LOGGING: a StreamHandler) writes it: the
    message with its arguments, and the traceback if any."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def secrets_of(username: str, client: Client, callback_url: str) -> dict[str, str]:
    account = XAccount.objects.get(username=username)
    found = {
        "access token": account.access_token,
        "refresh token": account.refresh_token,
        "session cookie": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "authorization code": parse_qs(urlsplit(callback_url).query)["code"][0],
    }
    assert all(found.values())
    return found


def message_texts(owner) -> list[str]:
    """Every cached text long enough to be told from words a log line has of its own."""
    texts = DmEvent.objects.filter(owner=owner).values_list("text", flat=True)
    return sorted({text for text in texts if len(text) >= 16})


def test_nothing_secret_or_private_reaches_the_logs_at_debug(sandbox, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    for name, value in sandbox.urls.items():
        setattr(settings, name, value)
    client = Client()
    callback_url = sandbox.consent(start_sign_in(client), "jonas_k")
    assert follow_back(client, callback_url).status_code == 302
    secrets = secrets_of("jonas_k", client, callback_url)

    # The sync that sign-in queued, run by scripts/worker as in production, at DEBUG, through a
    # fault that is retried and an access token that must be refreshed.
    sandbox.fault("jonas_k", "500", count=1)
    sandbox.admin("POST", "tokens", json={"username": "jonas_k", "action": "expire_access"})
    worker = subprocess.run(
        ["scripts/worker", "--batch", "--no-startup-delay", "-v", "3"],
        cwd=REPO,
        env={
            **os.environ,
            **sandbox.urls,
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            "LOG_LEVEL": "DEBUG",
            "SECRET_KEY": settings.SECRET_KEY,
            "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
            "MEDIA_CACHE_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    jonas = XAccount.objects.get(username="jonas_k")
    texts = message_texts(jonas.user)
    assert len(texts) > 10
    # The refresh in the worker replaced the tokens: the new ones must not be logged either.
    secrets.update(new_access=jonas.access_token, new_refresh=jonas.refresh_token)
    assert "Retrying" in worker.stderr + worker.stdout  # DEBUG and INFO lines were written

    # Reading, searching, a photo, a failed sign-in callback, then signing out.
    conversation = DmEvent.objects.filter(owner=jonas.user).first().conversation
    assert client.get("/").status_code == 200
    assert client.get(f"/c/{conversation.x_id}/").status_code == 200
    assert client.get("/search/", {"q": texts[0].split()[0]}).status_code == 200
    photo = Media.objects.filter(owner=jonas.user, type="photo").first()
    response = client.get(f"/media/{photo.media_key}/full/")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    client.get(f"/auth/callback/?code={secrets['authorization code']}&state=forged")
    secrets["session cookie, second"] = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/auth/logout/").status_code == 302

    logged = everything_logged(caplog.records) + worker.stdout + worker.stderr
    assert len(caplog.records) > 0
    for what, value in secrets.items():
        assert value not in logged, f"the {what} was logged"
    for text in texts:
        assert text not in logged, f"a message text was logged: {text!r}"
