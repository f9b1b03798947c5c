from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from dmreader.crypto import EncryptedTextField


class XAccount(models.Model):
    """The X account behind a DM Reader user, with its OAuth tokens (encrypted at rest)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="x_account")
    # X ids are strings of up to 19 digits; kept as X sends them.
    x_user_id = models.CharField("X user id", max_length=19, unique=True)
    username = models.CharField(max_length=15)
    name = models.CharField(max_length=100)
    profile_image_url = models.URLField(max_length=500, blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=300, blank=True)
    # Set when X refuses our tokens for good (revoked, refresh failed): the person must sign in again.
    needs_reauth = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "X account"

    def __str__(self) -> str:
        return f"@{self.username}"

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token) and not self.needs_reauth

    def token_expires_within(self, seconds: int) -> bool:
        if self.token_expires_at is None:
            return False
        return self.token_expires_at <= timezone.now() + timedelta(seconds=seconds)
