"""Archive import benchmark: X's data archive of N DMs imported into the cache through the store.

Builds the archive as bench/archive_bench.py does (kept in var/bench/ and reused), then in a fresh
process per size: reads it alone (the floor: archive.py with nothing stored), imports it into an
empty cache (one transaction, as `manage.py importarchive` does), and imports it again (nothing
new: the merge's cost). Prints messages/s for each and the peak RSS, which should stay flat as
the archive grows. SQLite by default (a fresh file in var/bench/); on PostgreSQL
(`scripts/with-postgres`) in the database DATABASE_URL names, under a user of its own, removed
after.

Run: .venv/bin/python bench/import_bench.py [--sizes 200000]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "var" / "bench"
sys.path.insert(0, str(REPO))


def measure(path: Path) -> dict:
    """In a child process: the floor, a first import and a second one, with peak memory."""
    CACHE.mkdir(parents=True, exist_ok=True)
    database = CACHE / f"import-{os.getpid()}.sqlite3"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dmreader.settings",
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{database}",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.conf import settings

    # As production runs it: with DEBUG on, Django keeps the last 9,000 queries' SQL, and a batch's
    # INSERT is long, so the peak would grow with the archive up to that cap.
    settings.DEBUG = False
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.archive_bench import peak_rss_mb
    from conversations import importing
    from conversations.archive import open_archive

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user(f"import-bench-{os.getpid()}")
    figures: dict = {}
    try:
        started = time.perf_counter()
        with open_archive(path) as archive:
            events = sum(1 for _ in archive.events())
        figures["read_s"] = time.perf_counter() - started
        figures["events"] = events
        for run in ("first", "again"):
            started = time.perf_counter()
            with open_archive(path) as archive, transaction.atomic():
                imported = importing.import_archive(owner.pk, archive)
            figures[f"{run}_s"] = time.perf_counter() - started
            figures[f"{run}_new"] = imported.new
        figures["peak_rss_mb"] = peak_rss_mb()
    finally:
        owner.delete()
        connection.close()
        for leftover in (database, *database.parent.glob(database.name + "-*")):
            leftover.unlink(missing_ok=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000", help="messages per archive, comma-separated")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    from bench.archive_bench import build

    print("archive import: messages/s (read alone = floor), peak RSS")
    for size in (int(s) for s in args.sizes.split(",")):
        path = build(size)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        n = f["events"]
        print(
            f"  {size:>9,} messages ({n:,} events): read {n / f['read_s']:,.0f}/s, "
            f"import {n / f['first_s']:,.0f}/s ({f['first_new']:,} new, "
            f"{f['first_s'] / f['read_s']:.1f}x the floor), "
            f"again {n / f['again_s']:,.0f}/s ({f['again_new']} new), "
            f"peak RSS {f['peak_rss_mb']:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
