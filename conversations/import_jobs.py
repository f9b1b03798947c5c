"""Running an import the Import page asked for (ImportJob), in the task worker (tasks.run_import).

Two passes over the uploaded archive:
1. Checking: every event is read and nothing is stored. A damaged or truncated data file, a
   missing part, a ZIP bomb or another account's archive ends the job here with archive.py's
   message, and the cache is as it was. The pass also counts what the progress bar needs.
2. Importing: the events in batches through importing.store_batch (store.py writes them), each
   batch committed together with `messages_done`. A worker that dies (killed, redeployed) stops
   renewing the job's lease; the check-back (tasks.run_import again) resumes once it runs out,
   skipping the events already committed. Storing is idempotent by event id, so a batch done
   twice changes nothing.
Then the history gaps the archive covers are closed, and the upload is deleted.

A DM Reader backup (ImportJob.BACKUP: a JSON export, or its backup ZIP) runs the same two passes
through backup.py and importing.restore_backup: checked whole first (another account's, a newer
version, a damaged or hostile file end here, the cache as it was), then restored in batches that
commit with their progress, resumable the same way; then the ZIP's media files join the cache.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from conversations import backup, importing, store, sync, uploads
from conversations.archive import Archive, ArchiveError, open_archive
from conversations.models import ImportJob
from dmreader.models import XAccount

logger = logging.getLogger(__name__)

# The runner renews its lease far more often than this (every batch, every second of checking).
LEASE_SECONDS = 60
# A job whose runs keep dying (or hitting an unexpected error) stops after this many.
MAX_ATTEMPTS = 5
# Seconds between progress saves while checking.
SAVE_EVERY = 0.5


def lease() -> timedelta:
    # Tests shorten it through settings (a killed worker's lease runs out in seconds).
    return timedelta(seconds=getattr(settings, "IMPORT_LEASE_SECONDS", LEASE_SECONDS))


def archive_path(job: ImportJob) -> Path:
    return Path(settings.IMPORT_DIR) / job.path


def create(owner_id: int, path: Path, *, file_name: str, size: int) -> ImportJob:
    """A job for an upload; what it is (X's archive or a backup) is told from its content."""
    return ImportJob.objects.create(
        owner_id=owner_id,
        kind=ImportJob.BACKUP if backup.is_backup(path) else ImportJob.ARCHIVE,
        path=path.relative_to(settings.IMPORT_DIR).as_posix(),
        file_name=file_name[:255],
        size=size,
    )


def record_done(
    owner_id: int,
    *,
    file_name: str,
    size: int,
    imported: importing.Imported,
    conversations: int,
    generated_at=None,
) -> ImportJob:
    """An archive imported outside the worker (`manage.py importarchive`), recorded as the Import
    page's are: listed there and in the admin, and covering history the same way. Closes the
    gaps it covers. Called inside the import's transaction."""
    covered = [at for at in (generated_at, imported.newest) if at is not None]
    covered_until = max(covered) if covered else None
    now = timezone.now()
    return ImportJob.objects.create(
        owner_id=owner_id,
        file_name=file_name[:255],
        size=size,
        status=ImportJob.DONE,
        messages_done=imported.events,
        messages_total=imported.events,
        messages_new=imported.new,
        conversations_done=conversations,
        conversations_total=conversations,
        covered_until=covered_until,
        gaps_closed=store.close_gaps(owner_id, covered_until) if covered_until else 0,
        started_at=now,
        finished_at=now,
    )


class LeaseLost(Exception):
    """The job's lease ran out and another worker took the import over."""


class _Lease:
    """This run's hold on the job: `attempts` as it was when claimed tells the holder apart."""

    def __init__(self, job_id: int, attempt: int):
        self.job_id, self.attempt = job_id, attempt

    def renew(self, **fields) -> None:
        """Extend the lease, writing `fields` to the job with it; LeaseLost if it is gone."""
        renewed = ImportJob.objects.filter(pk=self.job_id, attempts=self.attempt).update(
            lease_until=timezone.now() + lease(), **fields
        )
        if not renewed:
            raise LeaseLost(f"Import {self.job_id} was taken over after its lease ran out.")


def _claim(job_id: int) -> _Lease | None:
    """Take the job if it is unfinished and nobody holds it (a conditional UPDATE: of two workers
    only one gets it)."""
    now = timezone.now()
    free = ImportJob.objects.filter(pk=job_id, status__in=ImportJob.UNFINISHED).exclude(
        lease_until__gte=now
    )
    if not free.update(lease_until=now + lease(), attempts=F("attempts") + 1):
        return None
    attempt = ImportJob.objects.filter(pk=job_id).values_list("attempts", flat=True).get()
    return _Lease(job_id, attempt)


def run(job_id: int) -> str:
    """Check, import and finish the job; resumes one a dead worker left. Returns its status, or
    "busy" when another worker holds it."""
    held = _claim(job_id)
    if held is None:
        job = ImportJob.objects.filter(pk=job_id).first()
        return job.status if job is None or job.finished else "busy"
    job = ImportJob.objects.get(pk=job_id)
    if job.attempts > MAX_ATTEMPTS:
        return _end(
            job,
            ImportJob.FAILED,
            error=f"The import stopped {MAX_ATTEMPTS} times before it could finish"
            + (f" (last: {job.error})" if job.error else "")
            + ". What it imported is kept; upload the archive again to finish it.",
        )
    account = XAccount.objects.filter(user_id=job.owner_id).first()
    try:
        if account is None:
            raise ArchiveError("This DM Reader account has no X account any more.")
        if job.kind == ImportJob.BACKUP:
            return _run_backup(job, account, held)
        if job.status in (ImportJob.QUEUED, ImportJob.CHECKING):
            with _open(job, account) as archive:
                _check(job, archive, held)
        with _open(job, account) as archive:
            _import(job, archive, held)
        store.refresh_statistics()
        closed = store.close_gaps(job.owner_id, job.covered_until) if job.covered_until else 0
        # People the archive names by id only: asked of X now, shown by id until then (and
        # after, if X can't say: the import is done either way).
        sync.resolve_unknown_users(job.owner_id)
        return _end(job, ImportJob.DONE, gaps_closed=closed)
    except ArchiveError as problem:
        return _end(job, ImportJob.FAILED, error=str(problem))
    except LeaseLost:
        logger.warning("Import %s: lease lost, another worker carries on", job_id)
        return "busy"
    except Exception as error:
        # Not the archive's fault (the database went away, a bug): let go at once so the
        # check-back tries again soon; MAX_ATTEMPTS bounds it.
        logger.exception("Import %s stopped on an unexpected error", job_id)
        ImportJob.objects.filter(pk=job_id, attempts=held.attempt).update(
            lease_until=None, error=f"{type(error).__name__}: {error}"[:500]
        )
        raise


def _run_backup(job: ImportJob, account: XAccount, held: _Lease) -> str:
    if job.status in (ImportJob.QUEUED, ImportJob.CHECKING):
        with _open_backup(job, account) as opened:
            _check_backup(job, opened, held)
    with _open_backup(job, account) as opened:
        held.renew(run_started_at=timezone.now(), run_started_done=job.messages_done)

        def committed(events: int, new: int) -> None:
            held.renew(
                messages_done=F("messages_done") + events, messages_new=F("messages_new") + new
            )

        restored = importing.restore_backup(
            job.owner_id, opened, skip_events=job.messages_done, on_batch=committed
        )
        importing.restore_files(job.owner_id, opened)
    for problem in restored.problems:
        logger.warning("Restore %s: %s", job.pk, problem)
    store.refresh_statistics()
    return _end(job, ImportJob.DONE, conversations_done=job.conversations_total)


def _open_backup(job: ImportJob, account: XAccount) -> backup.Backup:
    return backup.open_backup(
        archive_path(job),
        expected_x_user_id=account.x_user_id,
        expected_username=account.username,
    )


def _start_checking(job: ImportJob, held: _Lease, bytes_total: int) -> None:
    now = timezone.now()
    held.renew(
        status=ImportJob.CHECKING,
        started_at=job.started_at or now,
        run_started_at=now,
        run_started_done=0,
        bytes_read=0,
        bytes_total=bytes_total,
    )


def _check_backup(job: ImportJob, opened: backup.Backup, held: _Lease) -> None:
    _start_checking(job, held, opened.progress.bytes_total)
    saved = [time.monotonic()]

    def progress() -> None:
        if time.monotonic() - saved[0] > SAVE_EVERY:
            held.renew(bytes_read=opened.progress.bytes_read)
            saved[0] = time.monotonic()

    checked = importing.check_backup(opened, on_progress=progress)
    fields = dict(
        status=ImportJob.IMPORTING,
        bytes_read=opened.progress.bytes_total,
        messages_total=checked.events,
        conversations_total=checked.conversations,
        messages_done=0,
        messages_new=0,
        conversations_done=0,
    )
    held.renew(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def _open(job: ImportJob, account: XAccount) -> Archive:
    return open_archive(
        archive_path(job),
        expected_x_user_id=account.x_user_id,
        expected_username=account.username,
    )


def _check(job: ImportJob, archive: Archive, held: _Lease) -> None:
    _start_checking(job, held, archive.progress.bytes_total)
    count, newest, saved = 0, None, time.monotonic()
    for event in archive.events():
        count += 1
        if newest is None or event.created_at > newest:
            newest = event.created_at
        if time.monotonic() - saved > SAVE_EVERY:
            held.renew(bytes_read=archive.progress.bytes_read)
            saved = time.monotonic()
    covered = [at for at in (archive.manifest.generated_at, newest) if at is not None]
    fields = dict(
        status=ImportJob.IMPORTING,
        bytes_read=archive.progress.bytes_total,
        messages_total=count,
        conversations_total=archive.progress.conversations,
        messages_done=0,
        messages_new=0,
        conversations_done=0,
        covered_until=max(covered) if covered else None,
    )
    held.renew(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def _import(job: ImportJob, archive: Archive, held: _Lease) -> None:
    done = job.messages_done
    held.renew(run_started_at=timezone.now(), run_started_done=done)
    events = archive.events()
    # Committed by an earlier run: read past them (reading is cheap next to storing).
    for _ in itertools.islice(events, done):
        pass
    imported = importing.Imported()
    while batch := list(itertools.islice(events, importing.BATCH)):
        new_before = imported.new
        with transaction.atomic():
            importing.store_batch(job.owner_id, batch, imported, archive=archive)
            held.renew(
                messages_done=F("messages_done") + len(batch),
                messages_new=F("messages_new") + imported.new - new_before,
                conversations_done=archive.progress.conversations,
            )
    for problem in imported.problems:
        logger.warning("Import %s: %s", job.pk, problem)


def _end(job: ImportJob, status: str, **fields) -> str:
    """The job is over: record how, and delete the upload."""
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now(), lease_until=None, path="", **fields
    )
    if job.path:
        uploads.discard(archive_path(job))
    logger.info("Import %s of user %s: %s %s", job.pk, job.owner_id, status, fields)
    return status
