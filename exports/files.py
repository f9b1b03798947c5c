"""Export files: writing one (a ZIP as it goes, or a plain stream), keeping it for its owner under
an unguessable name, and removing it when a week has passed or the owner deletes it."""

import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from conversations import backup
from conversations.models import Media, XUser
from dmreader import accounts
from exports import html, writers
from exports.models import KEEP_FOR, Export
from exports.scope import Scope, ScopeError, Selection, select

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    Export.HTML: "application/zip",
    Export.BACKUP: "application/zip",
    Export.JSON: "application/json",
    Export.MARKDOWN: "text/markdown; charset=utf-8",
    Export.CSV: "text/csv; charset=utf-8",
}
EXTENSIONS = {
    Export.HTML: "zip",
    Export.BACKUP: "zip",
    Export.JSON: "json",
    Export.MARKDOWN: "md",
    Export.CSV: "csv",
}


def exports_dir() -> Path:
    return Path(settings.EXPORTS_DIR)


def path_of(export: Export) -> Path:
    # The token is the name: 256 random bits, nothing a person or another account can derive.
    return exports_dir() / f"{export.token}.{EXTENSIONS[export.format]}"


def stem(owner: AbstractBaseUser, moment: datetime, kind: str = "export") -> str:
    """dm-export-maya_reads-20261201-0450: the download's name, and the HTML export's folder
    (dm-backup-… for a backup)."""
    account = accounts.account_of(owner)
    who = account.username if account else f"user{owner.pk}"
    return f"dm-{kind}-{who}-{timezone.localtime(moment):%Y%m%d-%H%M%S}"


def file_name(export_format: str, owner: AbstractBaseUser, moment: datetime) -> str:
    kind = "backup" if export_format == Export.BACKUP else "export"
    return f"{stem(owner, moment, kind)}.{EXTENSIONS[export_format]}"


def job_for(
    owner: AbstractBaseUser, selection: Selection, *, progress=None, with_media: bool = True
) -> writers.Job:
    job = writers.Job(owner, accounts.account_of(owner), selection, with_media=with_media)
    if progress is not None:
        job.progress = progress
    return job


def chunks(job: writers.Job, export_format: str) -> Iterator[bytes]:
    """The export's bytes, as they are written."""
    if export_format == Export.HTML:
        return zip_chunks(html.members(job, stem(job.owner, job.generated_at)))
    if export_format == Export.BACKUP:
        return zip_chunks(backup_members(job, stem(job.owner, job.generated_at, "backup")))
    writer = {
        Export.JSON: writers.json_chunks,
        Export.MARKDOWN: writers.markdown_chunks,
        Export.CSV: writers.csv_chunks,
    }[export_format]
    return writer(job)


def zip_chunks(members: Iterable[html.Member]) -> Iterator[bytes]:
    """A ZIP written member by member as the members are made: only the central directory (a
    hundred bytes a file) is kept until the end."""
    stream = ZipStream(compress_type=ZIP_DEFLATED)
    for member in members:
        method = ZIP_DEFLATED if member.compress else ZIP_STORED
        stream.add(iter(member.chunks), member.name, compress_type=method)
        yield from stream.all_files()
    yield from stream.footer()


def backup_members(job: writers.Job, root: str) -> Iterator[html.Member]:
    """The backup ZIP (conversations/backup.py reads it): the JSON export, then the files of the
    photos, videos and avatars it refers to, named as the HTML export names them
    (media/<media key>[-preview].<ext>, avatars/<user id>.<ext>), fetched as it fetches them."""
    yield html.Member(f"{root}/{backup.JSON_NAME}", writers.json_chunks(job))
    # The JSON member is written whole before this generator goes on: its ids are known now.
    found = html.Files(job)
    for start in range(0, len(job.media_ids), writers.IN_BULK):
        chunk = job.media_ids[start : start + writers.IN_BULK]
        for item in Media.objects.filter(owner=job.owner, pk__in=chunk).order_by("pk"):
            for kind in ("full",) if item.type == Media.PHOTO else ("video", "preview"):
                for member in found.media_item(item, kind):
                    yield html.Member(f"{root}/{member.name}", member.chunks, member.compress)
    for start in range(0, len(job.user_ids), writers.IN_BULK):
        chunk = job.user_ids[start : start + writers.IN_BULK]
        for user in XUser.objects.filter(owner=job.owner, x_id__in=chunk).order_by("x_id"):
            for member in found.avatar(user):
                yield html.Member(f"{root}/{member.name}", member.chunks, member.compress)


def write_folder(members: Iterable[html.Member], folder: Path) -> None:
    """The HTML export as files in `folder` (exportdms -o a folder)."""
    folder = folder.resolve()
    for member in members:
        target = (folder / member.name).resolve()
        if folder not in target.parents:  # names are ours, but never write outside the folder
            raise ValueError(f"{member.name} is outside the export")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for chunk in member.chunks:
                out.write(chunk)


# Background exports ------------------------------------------------------------------------------
# As the Import page's jobs (conversations/import_jobs.py): one worker writes an export at a time,
# holding a lease it renews with each progress update. A worker killed mid-export stops renewing;
# the check-back (tasks.build_export queued again for when the lease would run out) claims it and
# writes the file anew (a ZIP written as it goes can't be continued, and most exports take a
# minute or two). `attempts` tells the holder apart: a run that lost its lease stops at its next
# update, and its half-written file (named after its attempt) is discarded.

LEASE_SECONDS = 60
MAX_ATTEMPTS = 3
PROGRESS_EVERY = 1.0  # seconds between progress updates (and lease renewals) in the database


def lease() -> timedelta:
    # Tests shorten it through settings (a killed worker's lease runs out at once).
    return timedelta(seconds=getattr(settings, "EXPORT_LEASE_SECONDS", LEASE_SECONDS))


class _Stop(Exception):
    """The export was deleted, or another worker took it over, while this run wrote it."""


class _Run:
    """This run's hold on the export."""

    def __init__(self, export_id: int, attempt: int):
        self.export_id, self.attempt = export_id, attempt

    def renew(self, **fields) -> None:
        held = Export.objects.filter(pk=self.export_id, attempts=self.attempt)
        if not held.update(lease_until=timezone.now() + lease(), **fields):
            raise _Stop

    def end(self, **fields) -> bool:
        held = Export.objects.filter(pk=self.export_id, attempts=self.attempt)
        return bool(held.update(lease_until=None, finished_at=timezone.now(), **fields))


def _claim(export_id: int) -> _Run | None:
    """Take the export if it is unfinished and nobody holds it (a conditional UPDATE)."""
    now = timezone.now()
    free = Export.objects.filter(pk=export_id, status__in=(Export.QUEUED, Export.RUNNING)).exclude(
        lease_until__gte=now
    )
    if not free.update(
        status=Export.RUNNING, lease_until=now + lease(), attempts=F("attempts") + 1
    ):
        return None
    attempt = Export.objects.filter(pk=export_id).values_list("attempts", flat=True).get()
    return _Run(export_id, attempt)


def build(export_id: int) -> str:
    """Write a queued export to its file (the worker's task), or take over one whose worker died.
    Returns its status, or "busy" when another worker holds it."""
    remove_expired()
    run = _claim(export_id)
    if run is None:
        export = Export.objects.filter(pk=export_id).first()
        return "busy" if export and not export.finished else (export.status if export else "gone")
    export = Export.objects.select_related("owner").get(pk=export_id)
    if export.attempts > MAX_ATTEMPTS:
        run.end(
            status=Export.FAILED,
            error=f"The export was interrupted {MAX_ATTEMPTS} times: start it again.",
        )
        return Export.FAILED
    try:
        selection = select(export.owner, Scope.from_dict(export.scope))
    except (ScopeError, Http404) as problem:
        error = str(problem) or "A conversation of this export is no longer cached."
        run.end(status=Export.FAILED, error=error)
        return Export.FAILED
    run.renew(events_total=selection.total, events_done=0)
    shown = [time.monotonic()]

    def progress(done: int) -> None:
        if time.monotonic() - shown[0] >= PROGRESS_EVERY:
            shown[0] = time.monotonic()
            run.renew(events_done=done)

    job = job_for(export.owner, selection, progress=progress)
    job.generated_at = export.created_at
    target = path_of(export)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f"{export.token}.partial-*"):
        stale.unlink(missing_ok=True)  # what an earlier, killed attempt left
    partial = target.with_name(f"{export.token}.partial-{run.attempt}")
    try:
        with open(partial, "wb") as out:
            for chunk in chunks(job, export.format):
                out.write(chunk)
        run.renew()  # still ours: only then does the file take the export's name
        os.replace(partial, target)
    except _Stop:
        partial.unlink(missing_ok=True)
        return "stopped"
    except Exception as problem:
        partial.unlink(missing_ok=True)
        logger.exception("Export %s failed", export.pk)
        run.end(status=Export.FAILED, error=f"The export stopped: {type(problem).__name__}.")
        return Export.FAILED
    done = run.end(status=Export.DONE, events_done=job.done, size=target.stat().st_size)
    if not done and not Export.objects.filter(pk=export.pk).exists():
        target.unlink(missing_ok=True)  # deleted just now
        return "deleted"
    return Export.DONE if done else "stopped"


def delete(export: Export) -> None:
    """The export and its file (and a half-written one: a run under way stops at its next
    progress update, finding its row gone)."""
    path = path_of(export)
    export.delete()
    path.unlink(missing_ok=True)
    for partial in path.parent.glob(f"{export.token}.partial-*"):
        partial.unlink(missing_ok=True)


def remove_expired(now: datetime | None = None) -> int:
    """Delete the exports a week has passed on, and their files, and any file in EXPORTS_DIR a
    week old that no export names (a row gone with its user, a killed run's half). Run by the
    scheduler's housekeeping every hour, before every background export and whenever someone
    starts one; downloads and lists never show an expired one. Returns the exports removed."""
    now = now or timezone.now()
    removed = 0
    for export in Export.objects.filter(expires_at__lte=now).iterator():
        delete(export)
        removed += 1
    folder = exports_dir()
    if folder.is_dir():
        old = (now - KEEP_FOR).timestamp()
        for path in folder.iterdir():
            token = path.name.split(".")[0]
            stale = path.is_file() and path.stat().st_mtime < old
            if stale and not Export.objects.filter(token=token).exists():
                path.unlink(missing_ok=True)
    return removed


def erase_owner(owner_id: int) -> int:
    """Every export of a person who leaves, with its file (dmreader.leaving's `erasing`)."""
    removed = 0
    for export in Export.objects.filter(owner_id=owner_id).iterator():
        delete(export)
        removed += 1
    return removed


def erase_on_leaving(sender, *, user_id: int, **kwargs) -> None:
    erase_owner(user_id)
