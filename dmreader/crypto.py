"""Encryption at rest for OAuth tokens (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    # The first key encrypts; every key decrypts, so keys can be rotated without losing tokens.
    return MultiFernet([Fernet(key.encode()) for key in settings.TOKEN_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        # A key that was removed from TOKEN_ENCRYPTION_KEYS: the token is lost, not leaked.
        # Treat it as empty so the account is asked to sign in again.
        return ""


class EncryptedTextField(models.TextField):
    """A TextField stored as Fernet ciphertext. Not searchable or orderable, by design."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
