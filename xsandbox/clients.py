"""The apps registered with the sandbox by default: DM Reader as a public and as a confidential client."""

import os

from xsandbox.models import Client

PUBLIC_CLIENT_ID = "ZG1yZWFkZXItc2FuZGJveDoxOmNp"  # base64("dmreader-sandbox:1:ci"), X's shape
CONFIDENTIAL_CLIENT_ID = "ZG1yZWFkZXItY29uZmlkZW50aWFsOjE6Y2k"
CONFIDENTIAL_CLIENT_SECRET = "sandbox-confidential-secret"
DEFAULT_REDIRECT_URIS = [
    "http://127.0.0.1:8000/auth/callback/",
    "http://localhost:8000/auth/callback/",
]


def ensure_defaults() -> None:
    extra = [u.strip() for u in os.environ.get("XSANDBOX_EXTRA_REDIRECT_URIS", "").split(",")]
    redirect_uris = list(dict.fromkeys(DEFAULT_REDIRECT_URIS + [u for u in extra if u]))
    for client_id, secret in (
        (PUBLIC_CLIENT_ID, ""),
        (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
    ):
        client, created = Client.objects.get_or_create(
            client_id=client_id,
            defaults={"client_secret": secret, "name": "DM Reader", "redirect_uris": redirect_uris},
        )
        if not created:
            client.redirect_uris = list(dict.fromkeys(client.redirect_uris + redirect_uris))
            client.save(update_fields=["redirect_uris"])
