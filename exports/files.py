"""Export files: writing one (a ZIP as it goes, or a plain stream), keeping it for its owner under
an unguessable name, and removing it when a week has passed or the owner deletes it."""

import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404
from django.utils import timezone
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from conversations import backup
from conversations.models import Media, XUser
from dmreader import accounts
from exports import html, writers
from exports.models import Export
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
    return Path(getattr(settings, "EXPORTS_DIR", settings.BASE_DIR / "var" / "exports"))


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


class _Deleted(Exception):
    """The owner deleted the export while it was being written."""


PROGRESS_EVERY = 1.0  # seconds between progress updates in the database


def build(export_id: int) -> str:
    """Write a queued export to its file (the worker's task). Claimed by a conditional UPDATE, so
    two workers never write the same one."""
    remove_expired()
    if not Export.objects.filter(pk=export_id, status=Export.QUEUED).update(status=Export.RUNNING):
        return "not queued"
    export = Export.objects.select_related("owner").get(pk=export_id)
    try:
        selection = select(export.owner, Scope.from_dict(export.scope))
    except (ScopeError, Http404) as problem:
        _fail(export, str(problem) or "A conversation of this export is no longer cached.")
        return Export.FAILED
    Export.objects.filter(pk=export.pk).update(events_total=selection.total)
    shown = [0.0]

    def progress(done: int) -> None:
        if time.monotonic() - shown[0] < PROGRESS_EVERY:
            return
        shown[0] = time.monotonic()
        if not Export.objects.filter(pk=export.pk).update(events_done=done):
            raise _Deleted

    job = job_for(export.owner, selection, progress=progress)
    job.generated_at = export.created_at
    target = path_of(export)
    partial = target.with_suffix(".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(partial, "wb") as out:
            for chunk in chunks(job, export.format):
                out.write(chunk)
        os.replace(partial, target)
    except _Deleted:
        partial.unlink(missing_ok=True)
        return "deleted"
    except Exception as problem:
        partial.unlink(missing_ok=True)
        logger.exception("Export %s failed", export.pk)
        _fail(export, f"The export stopped: {type(problem).__name__}.")
        return Export.FAILED
    done = Export.objects.filter(pk=export.pk).update(
        status=Export.DONE,
        events_done=job.done,
        size=target.stat().st_size,
        finished_at=timezone.now(),
    )
    if not done:  # deleted just now
        target.unlink(missing_ok=True)
        return "deleted"
    return Export.DONE


def _fail(export: Export, error: str) -> None:
    Export.objects.filter(pk=export.pk).update(
        status=Export.FAILED, error=error, finished_at=timezone.now()
    )


def delete(export: Export) -> None:
    path = path_of(export)
    export.delete()
    path.unlink(missing_ok=True)
    path.with_suffix(".partial").unlink(missing_ok=True)


def remove_expired(now: datetime | None = None) -> int:
    """Delete the exports a week has passed on, and their files. Run before every background
    export and whenever someone starts one; downloads and lists never show an expired one."""
    expired = Export.objects.filter(expires_at__lte=now or timezone.now())
    removed = 0
    for export in expired.iterator():
        delete(export)
        removed += 1
    return removed
