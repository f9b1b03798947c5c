"""An export a person asked for: its scope, its progress in the worker, and the file it made.

The file lives on disk under its unguessable token (files.path_of) and belongs to its owner alone:
every read of an export starts from the owner (queries in exports/views.py go through `mine`)."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

KEEP_FOR = timedelta(days=7)


def new_token() -> str:
    # 256 bits: the download URL and the file's name on disk can't be guessed or enumerated.
    return secrets.token_urlsafe(32)


def default_expiry():
    return timezone.now() + KEEP_FOR


class Export(models.Model):
    HTML, JSON, BACKUP, MARKDOWN, CSV = "html", "json", "backup", "md", "csv"
    FORMATS = [
        (HTML, "HTML to read offline (a ZIP with photos and videos)"),
        (JSON, "JSON, documented, for other tools"),
        (BACKUP, "Backup to restore: the JSON with its photos and videos (a ZIP)"),
        (MARKDOWN, "Markdown"),
        (CSV, "CSV, one row per event"),
    ]
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, "Queued"), (RUNNING, "Exporting"), (DONE, "Ready"), (FAILED, "Failed")]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    format = models.CharField(max_length=10, choices=FORMATS)
    # scope.Scope.as_dict(): conversation ids, dates, search query.
    scope = models.JSONField(default=dict)
    description = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    events_total = models.PositiveBigIntegerField(default=0)
    events_done = models.PositiveBigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)  # what the download is called
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=default_expiry)
    # One worker at a time, as for imports (conversations/import_jobs.py): the writer renews this
    # while it writes; a killed one's runs out and the check-back (tasks.build_export, queued
    # again for then) starts the file anew. `attempts` tells the holder apart and bounds retries.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The export page's list: an owner's exports, newest first.
            models.Index(fields=["owner", "-created_at"], name="export_owner_recent"),
            # files.remove_expired(): what a week has passed on.
            models.Index(fields=["expires_at"], name="export_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.format} export {self.pk} of user {self.owner_id}"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)

    @property
    def interrupted(self) -> bool:
        """Its worker stopped renewing the lease (killed, redeployed): another takes it over."""
        lease_gone = self.lease_until is not None and self.lease_until < timezone.now()
        return self.status == self.RUNNING and lease_gone

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        if not self.events_total:
            return 0
        return min(99, self.events_done * 100 // self.events_total)
