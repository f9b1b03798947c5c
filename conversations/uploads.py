"""Taking an X archive upload: each file is written straight to the upload's own folder under
IMPORT_DIR/<owner>/ as it arrives, a chunk at a time, never held in memory (Django's default
handlers keep small files in memory and put big ones in the system's temp folder, which may be
small or on another disk), and the upload stops once it passes IMPORT_MAX_UPLOAD_BYTES.

What may be uploaded: the archive's ZIP as X sent it, or its data files (`manifest.js` and the
`direct-messages*.js` files) chosen together. Nothing else is kept.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.text import get_valid_filename

# The data files X's archive holds for DMs, in either spelling (conversations/archive.py).
DATA_FILE = re.compile(r"(manifest|direct-messages?(-group)?(-part[0-9]{1,6})?)\.js")


class UploadRefused(Exception):
    """The upload can't be an X archive: the message says what to upload instead."""


def owner_folder(owner_id: int) -> Path:
    return Path(settings.IMPORT_DIR) / str(int(owner_id))


def new_upload_folder(owner_id: int) -> Path:
    folder = owner_folder(owner_id) / f"upload-{secrets.token_hex(8)}"
    folder.mkdir(parents=True, mode=0o700)
    return folder


def discard(path: Path) -> None:
    """Delete an upload: the folder holding it (its ZIP's, or the folder of its data files)."""
    folder = path if path.is_dir() else path.parent
    if folder.name.startswith("upload-"):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def delete_owner_files(owner_id: int) -> None:
    """Everything a person uploaded (they are leaving)."""
    shutil.rmtree(owner_folder(owner_id), ignore_errors=True)


class DiskFile(UploadedFile):
    """An uploaded file written to `path` as it arrives; it stays there when the request ends
    (the view decides whether it is kept)."""

    def __init__(self, path: Path, name, content_type, charset, content_type_extra):
        super().__init__(path.open("wb"), name, content_type, 0, charset, content_type_extra)
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


class ArchiveUploadHandler(FileUploadHandler):
    """The only handler of an import upload: every file to `folder`, the whole upload at most
    `limit` bytes (a request without a Content-Length can't dodge it)."""

    def __init__(self, request, folder: Path, limit: int):
        super().__init__(request)
        self.folder = folder
        self.limit = limit
        self.received = 0
        self.too_big = False
        self.files: list[DiskFile] = []

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, *rest):
        super().new_file(field_name, file_name, content_type, content_length, charset, *rest)
        # Django already cut the name to its last path segment; this keeps it a plain name.
        safe = get_valid_filename(Path(self.file_name or "upload").name)[-100:] or "upload"
        target = self.folder / safe
        if target.exists():
            target = self.folder / f"{len(self.files)}-{safe}"
        self.file = DiskFile(target, self.file_name, content_type, charset, self.content_type_extra)
        self.files.append(self.file)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = True
            raise StopUpload(connection_reset=True)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        self.file.size = file_size
        self.file.close()
        return self.file

    def upload_interrupted(self) -> None:
        for file in self.files:
            file.close()


def archive_path(folder: Path, files: list[DiskFile]) -> Path:
    """What the worker opens: the ZIP, or the folder of data files. Refuses anything else."""
    if not files:
        raise UploadRefused("Choose your X archive's ZIP file first.")
    if len(files) == 1 and not files[0].name.lower().endswith(".js"):
        # A ZIP, or anything else: archive.py says "not a ZIP" in words a person can act on.
        return files[0].path
    names = [f.name for f in files]
    strangers = [n for n in names if not DATA_FILE.fullmatch(n)]
    if strangers:
        raise UploadRefused(
            f"{strangers[0][:80]} is not one of the archive's Direct Message files. Upload the "
            "whole ZIP that X sent you, or choose manifest.js and the direct-messages files from "
            "its data folder."
        )
    if len(set(names)) != len(names):
        raise UploadRefused("The same file was chosen twice.")
    if "manifest.js" not in names:
        raise UploadRefused(
            "Choose manifest.js too, from the same data folder: it says whose archive this is."
        )
    return folder
