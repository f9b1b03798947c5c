"""Upload benchmark: an X archive of N MB posted to the Import page, through Django's whole request
handling (middleware, CSRF, our upload handler), as gunicorn would hand it over.

The body is generated as it is read, never built in memory, so the figure that matters is the
peak RSS of the process taking it: it should stay flat however large the upload (uploads.py
writes each chunk to disk as it comes). Prints MB/s and peak RSS per size, each in a fresh
process, with the floor of writing the same bytes to a file directly. SQLite in var/bench/.

Run: .venv/bin/python bench/upload_bench.py [--sizes 64,512,2048]   (MB)
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "var" / "bench"
sys.path.insert(0, str(REPO))
CHUNK = 1024**2
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


class GeneratedBody(io.RawIOBase):
    """A multipart body holding one file of `size` bytes, produced as it is read."""

    def __init__(self, size: int):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="archive"; '
            f'filename="twitter-archive.zip"\r\nContent-Type: application/zip\r\n\r\n'
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.parts = [head, size, tail]
        self.length = len(head) + size + len(tail)
        self.block = bytes(range(256)) * (CHUNK // 256)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while self.parts:
            part = self.parts[0]
            if isinstance(part, bytes):
                taken, rest = (part, b"") if n < 0 else (part[:n], part[n:])
                self.parts[0] = rest
                if not rest:
                    self.parts.pop(0)
                if taken:
                    return taken
                continue
            want = min(CHUNK if n < 0 else n, part, CHUNK)
            if want <= 0:
                self.parts.pop(0)
                continue
            self.parts[0] = part - want
            return (self.block * (want // CHUNK + 1))[:want]
        return b""


def measure(megabytes: int) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    database = CACHE / f"upload-{os.getpid()}.sqlite3"
    imports = CACHE / f"upload-{os.getpid()}-imports"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dmreader.settings",
        DATABASE_URL=f"sqlite:///{database}",
        IMPORT_DIR=str(imports),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection

    from bench.archive_bench import peak_rss_mb
    from conversations.models import ImportJob
    from dmreader.models import XAccount

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("upload-bench")
    XAccount.objects.create(user=owner, x_user_id="1400000000000000001", username="maya_reads")
    session = SessionStore()
    session.update(
        {"_auth_user_id": str(owner.pk), "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0]}
    )
    session["_auth_user_hash"] = owner.get_session_auth_hash()
    session.create()
    token = "b" * 32
    size = megabytes * 1024**2
    figures: dict = {"rss_before_mb": peak_rss_mb()}
    try:
        imports.mkdir(parents=True)
        started = time.perf_counter()
        with (imports / "floor").open("wb") as floor:
            body = GeneratedBody(size)
            while data := body.read(64 * 1024):
                floor.write(data)
        figures["floor_s"] = time.perf_counter() - started
        (imports / "floor").unlink()

        body = GeneratedBody(size)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/import/upload/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(body.length),
            "HTTP_COOKIE": f"sessionid={session.session_key}; csrftoken={token}",
            "HTTP_X_CSRFTOKEN": token,
        }
        statuses = []
        started = time.perf_counter()
        WSGIHandler()(environ, lambda status, headers: statuses.append(status))
        figures["upload_s"] = time.perf_counter() - started
        job = ImportJob.objects.get(owner=owner)
        figures.update(
            status=statuses[0],
            stored_bytes=job.size,
            on_disk=(Path(settings.IMPORT_DIR) / job.path).stat().st_size,
            peak_rss_mb=peak_rss_mb(),
        )
    finally:
        connection.close()
        shutil.rmtree(imports, ignore_errors=True)
        for leftover in (database, *database.parent.glob(database.name + "-*")):
            leftover.unlink(missing_ok=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,512,2048", help="MB per upload, comma-separated")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(int(args.measure))))
        return
    print("archive upload to /import/upload/: MB/s (writing the file directly = floor), peak RSS")
    for megabytes in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(megabytes)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        assert f["on_disk"] == f["stored_bytes"] == megabytes * 1024**2, f
        print(
            f"  {megabytes:>6,} MB: {f['status']}, {megabytes / f['upload_s']:,.0f} MB/s "
            f"({f['upload_s'] / f['floor_s']:.1f}x the floor), peak RSS {f['peak_rss_mb']:.0f} MB "
            f"(before the upload {f['rss_before_mb']:.0f} MB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
