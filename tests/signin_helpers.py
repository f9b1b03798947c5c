"""Signing a Django test client in through the sandbox's real consent page."""

from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.core.management import call_command
from django.test import Client

from conversations import sync
from conversations.models import SyncState
from dmreader.models import XAccount
from tests.sandbox import Sandbox


def start_sign_in(client: Client, next_path: str = "") -> str:
    """Press "Sign in with X"; returns the X authorize URL the app sent the browser to."""
    response = client.get("/auth/login/", {"next": next_path} if next_path else {})
    assert response.status_code == 302
    return response["Location"]


def follow_back(client: Client, callback_url: str):
    """The browser arriving back at the app's callback from X."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Client, sandbox: Sandbox, username: str, next_path: str = ""):
    authorize_url = start_sign_in(client, next_path)
    return follow_back(client, sandbox.consent(authorize_url, username))


@dataclass(frozen=True)
class Reader:
    """A signed-in person as module fixtures hand them to tests."""

    user: AbstractBaseUser
    client: Client
    x_id: str


def signed_in_and_synced(sandbox: Sandbox, username: str) -> tuple[Client, XAccount]:
    """A client signed in as `username` through the consent page, the account synced once (in
    the settings the caller put the sandbox's URLs in)."""
    client = Client()
    sign_in(client, sandbox, username)
    account = XAccount.objects.get(username=username)
    assert sync.sync_account(account.user_id).status == SyncState.IDLE
    return client, account


def synced_reader(sandbox: Sandbox, username: str) -> Reader:
    client, account = signed_in_and_synced(sandbox, username)
    return Reader(account.user, client, account.x_user_id)


@contextmanager
def flushed_after(django_db_blocker):
    """Around a module fixture that commits: the database is flushed after it, even when its
    setup failed, so later tests never see its rows."""
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
