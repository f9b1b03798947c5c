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


class Heartbeat(models.Model):
    """A background process (a task worker, the scheduler) that says it is alive: it writes
    `last_seen_at` every `interval` seconds (health.beating), so one that stopped without
    saying so (killed, its machine gone) shows as stale within three intervals."""

    WORKER, SCHEDULER = "worker", "scheduler"

    kind = models.CharField(max_length=20)
    name = models.CharField(max_length=100)  # the worker id, or whatever tells processes apart
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # last_seen_at + 3 intervals, written with every beat: "stale" is then one comparison that
    # needs no knowledge of each process's interval.
    stale_at = models.DateTimeField()
    # Set on a clean exit; a process that vanished keeps None and turns stale.
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The health check and the admin: the processes still expected to beat.
            models.Index(fields=["stopped_at", "stale_at"], name="heartbeat_live"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.host}:{self.pid})"

    @property
    def state(self) -> str:
        if self.stopped_at is not None:
            return "stopped"
        return "stale" if self.stale_at < timezone.now() else "running"
