"""Minting and checking OAuth values. Only sha256 hashes are stored."""

import base64
import hashlib
import secrets
import time
from datetime import timedelta

from xsandbox import clock
from xsandbox.models import Client, Grant, User

_KIND_TAG = {Grant.CODE: "ac", Grant.ACCESS: "at", Grant.REFRESH: "rt"}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def mint(
    kind: str,
    *,
    client: Client,
    user: User,
    scopes: str,
    family: str,
    ttl: int | None,
    **extra,
) -> str:
    # X's tokens decode to "<random>:<epoch ms>:1:<0|1>:<ac|at|rt>:1" (docs/x-api.md §6.2).
    raw = f"{secrets.token_urlsafe(34)[:45]}:{int(time.time() * 1000)}:1:1:{_KIND_TAG[kind]}:1"
    value = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    now = clock.now()
    Grant.objects.create(
        token_hash=digest(value),
        kind=kind,
        client=client,
        user=user,
        scopes=scopes,
        family=family,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
        **extra,
    )
    return value


def new_family() -> str:
    return secrets.token_hex(16)


def live_access_grant(value: str) -> Grant | None:
    grant = (
        Grant.objects.select_related("user", "client")
        .filter(token_hash=digest(value), kind=Grant.ACCESS, revoked_at=None)
        .first()
    )
    if grant is None or grant.user.gone:
        return None
    if grant.expires_at and grant.expires_at <= clock.now():
        return None
    return grant
