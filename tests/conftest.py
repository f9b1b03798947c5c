import os

import pytest

from tests.sandbox import Sandbox

# pytest-django's live_server and Playwright's sync API share the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One local X API for the whole run, seeded as a new user would find it."""
    server = Sandbox(tmp_path_factory.mktemp("xsandbox")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _app_talks_to_sandbox(request, settings, tmp_path):
    """Point the app's X_* settings at the test sandbox, as the environment would in production."""
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"
    if "sandbox" not in request.fixturenames and "signed_in" not in request.fixturenames:
        return
    server = request.getfixturevalue("sandbox")
    for name, value in server.urls.items():
        setattr(settings, name, value)
