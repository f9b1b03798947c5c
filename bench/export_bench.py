"""Export benchmark: every event of a generated cache (bench/datagen.py, 1,000,000 by default)
exported in each format, beside the time to simply read those rows (the floor).

Each measurement runs in a process of its own, so its peak RSS is its own:

  floor      queries.events_in_order over every conversation (keyset batches with senders, media
             and posts): the reads every export does, writing nothing
  json, csv, md   the whole account written to a file as exportdms writes it
  html       the same as a ZIP of pages, without fetching media (the generated cache's media
             URLs point nowhere; copying files costs what the disk and X's CDN cost)
  backup     the JSON in a ZIP, as the Backup format writes it (its media files left out, as html's)
  restore    the json run's file (kept in var/bench/) restored into an empty SQLite cache as the
             Import page's worker does it: checked whole, then stored through the store (SQLite
             only; run it after json)

Printed: seconds, events per second, the ratio to the floor, the file's size, the process's
peak RSS and its RSS before the export began (Django and the cache opened): flat memory means
peak minus start stays the same at 100,000 and at 1,000,000 events.

Run: .venv/bin/python bench/export_bench.py [--events 1000000] [--formats floor,json,backup,csv,md,html,restore]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/export_bench.py
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORMATS = ["floor", "json", "backup", "csv", "md", "html", "restore"]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(events: int, what: str) -> dict:
    """One measurement, in this (child) process."""
    sys.path.insert(0, str(REPO))
    from bench import datagen  # sets Django up

    cache = datagen.use(events, verbose=False)
    if what == "restore":
        return measure_restore(events, datagen)
    from conversations import queries
    from exports import files
    from exports.scope import Scope, select

    owner = cache.owner
    selection = select(owner, Scope())
    start_rss = _rss_mb()
    size = 0
    started = time.perf_counter()
    if what == "floor":
        done = 0
        for conversation, _ in selection.conversations:
            for rows in queries.events_in_order(owner, conversation, selection.events):
                done += len(rows)
    elif what == "json":  # kept for the restore run
        job = files.job_for(owner, selection, with_media=False)
        with open(exported_json(events), "wb") as out:
            for chunk in files.chunks(job, what):
                out.write(chunk)
        size = os.path.getsize(exported_json(events))
        done = job.done
    else:
        job = files.job_for(owner, selection, with_media=False)
        with tempfile.NamedTemporaryFile(dir=datagen.CACHE_DIR, suffix=f".{what}") as out:
            for chunk in files.chunks(job, what):
                out.write(chunk)
            out.flush()
            size = os.path.getsize(out.name)
        done = job.done
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "what": what,
        "events": done,
        "conversations": len(selection.conversations),
        "seconds": seconds,
        "bytes": size,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak,
        "where": cache.where,
    }


def exported_json(events: int) -> Path:
    return REPO / "var" / "bench" / f"export_{events}.json"


def measure_restore(events: int, datagen) -> dict:
    """The json run's file restored into an empty cache, as the Import page's worker does it."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from conversations import backup, importing
    from dmreader.models import XAccount

    source = exported_json(events)
    if connection.vendor != "sqlite" or not source.exists():
        raise SystemExit("restore: SQLite only, after a json run")
    target = datagen.CACHE_DIR / f"restore_{events}.sqlite3"
    for leftover in datagen.CACHE_DIR.glob(target.name + "*"):
        leftover.unlink()
    datagen._point_at(str(target))
    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench-owner")
    XAccount.objects.create(user=owner, x_user_id=datagen.ME, username="bench_owner")
    start_rss = _rss_mb()
    started = time.perf_counter()
    with backup.open_backup(source, expected_x_user_id=datagen.ME) as opened:
        checked = importing.check_backup(opened)
        restored = importing.restore_backup(owner.pk, opened)
    seconds = time.perf_counter() - started
    assert restored.new == checked.events, (restored.new, checked.events)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    connection.close()
    for leftover in datagen.CACHE_DIR.glob(target.name + "*"):
        leftover.unlink()
    return {
        "what": "restore",
        "events": restored.new,
        "conversations": checked.conversations,
        "seconds": seconds,
        "bytes": source.stat().st_size,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak,
        "where": str(source.relative_to(REPO)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.events, args.child)))
        return

    # Generate (or find) the cache first, so that no measurement includes it.
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "datagen.py"), "--events", str(args.events)],
        check=True,
    )
    header = (
        f"{'':<8}{'seconds':>10}{'events/s':>12}{'x floor':>10}{'file MB':>10}"
        f"{'RSS start MB':>14}{'RSS peak MB':>13}{'peak-start':>12}"
    )
    floor = None
    # A row as each measurement ends: a million events take a while on a busy machine.
    for index, what in enumerate(args.formats.split(",")):
        child = subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--child", what],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        if index == 0:
            print(
                f"export of {r['events']:,} events in {r['conversations']:,} conversations "
                f"({r['where']}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            print(header)
            print("-" * len(header))
        if what == "floor":
            floor = r["seconds"]
        ratio = f"{r['seconds'] / floor:.1f}" if floor else "-"
        size = f"{r['bytes'] / 1e6:,.1f}" if r["bytes"] else "-"
        print(
            f"{r['what']:<8}{r['seconds']:>10.1f}{r['events'] / r['seconds']:>12,.0f}{ratio:>10}"
            f"{size:>10}{r['start_rss_mb']:>14.0f}{r['peak_rss_mb']:>13.0f}"
            f"{r['peak_rss_mb'] - r['start_rss_mb']:>12.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
