"""Signing a Django test client in through the sandbox's real consent page."""

from urllib.parse import urlsplit

from django.test import Client

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
