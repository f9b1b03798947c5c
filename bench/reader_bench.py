"""Reader benchmark: the pages a person reads, through the whole Django stack in-process (DEBUG
off, as served: middleware, session and user, view, template, CSP), on generated caches
(bench/datagen.py) of 1,000 and 1,000,000 events by default, to show what a page costs the server
and that it costs the same whatever the size of the cache.

Each page is a GET by django.test.Client, signed in as the cache's owner (the session is read from
the database as in production; no network, no WSGI server). Measured, p50/p95 in milliseconds over
up to --runs runs (fewer when a cell's runs add up to more than --budget seconds):

  floor: SELECT by pk   a bare SELECT of one event by primary key, no ORM
  floor: /healthz       the stack with nothing to read or render (no session, one query)
  inbox                 /, the signed-in person's inbox: every conversation they have
  newest page           /c/<busiest>/, the busiest conversation (a tenth of all events) opened
                        as a whole page: the inbox pane beside its thread (a direct load)
  thread pane           the same opened from an inbox row in two panes: htmx asks for the thread
                        alone (HX-Target: thread-pane)
  deep scroll           /c/<busiest>/?before=<id> as htmx asks for it (the #older fragment), at
                        an event halfway back: 50,000 events deep at 1M events (keyset)
  result in context     /c/<busiest>/?around=<id>, a search result opened around the message
  search                /search/?q=coffee, the first page of results, newest first

For each page: the number of queries it sends, and "SQL": the same statements replayed on a raw
cursor (executed and fetched, no ORM), which is the database's part of the page; the rest is
Python (ORM, view, template). largest/smallest compares the p50s of the largest and smallest
caches. Timings are printed, never asserted.

Run: .venv/bin/python bench/reader_bench.py [--sizes 1000,1000000]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/reader_bench.py
"""

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# DEBUG off, as served (cached templates, hashed static names), before Django is set up by
# datagen. The secrets are throwaway: nothing is signed that outlives the run.
os.environ.update(
    DEBUG="false",
    SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-" + "x" * 40,
    TOKEN_ENCRYPTION_KEYS=os.environ.get("TOKEN_ENCRYPTION_KEYS")
    or "YmVuY2gtb25seS1ub3QtYS1zZWNyZXQtMzItYnl0ZXM=",
    PLAIN_HTTP="true",
    ALLOWED_HOSTS="testserver",
    STATIC_ROOT=os.environ.get("STATIC_ROOT")
    or str(Path(tempfile.gettempdir()) / "dmr-bench-static"),
)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.core.management import call_command
from django.core.signals import request_started
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import datagen, timing
from conversations import queries

SEARCH = "coffee"


def pages(cache: datagen.Cache, anchor: str) -> dict[str, tuple[str, dict]]:
    """Page name: (path, headers)."""
    busy = f"/c/{cache.busy.x_id}/"
    htmx = {"HX-Request": "true"}
    return {
        "floor: /healthz": ("/healthz", {}),
        "inbox": ("/", {}),
        "newest page": (busy, {}),
        "thread pane (htmx)": (busy, {**htmx, "HX-Target": "thread-pane"}),
        "deep scroll (htmx)": (f"{busy}?before={anchor}", htmx),
        "result in context": (f"{busy}?around={anchor}", {}),
        f"search {SEARCH!r}": (f"/search/?q={SEARCH}", {}),
    }


def get(client: Client, path: str, headers: dict) -> Callable[[], object]:
    def run() -> object:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        return response

    return run


def select_by_pk(pk: int) -> Callable[[], object]:
    def run() -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM conversations_dmevent WHERE id = %s", [pk])
            return cursor.fetchall()

    return run


def replay(statements: list[str]) -> Callable[[], object]:
    """The page's SQL as sent (parameters written in), executed and fetched on a raw cursor."""

    def run() -> object:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return run


def measure(run: Callable[[], object], args) -> tuple[list[float], list[str], int]:
    run()  # warms caches, and does once what a first visit does (a read mark, a sync queued)
    with CaptureQueriesContext(connection) as captured:
        run()  # the queries every later visit sends: counted and replayed, not timed
    times = timing.repeat(run, args)
    # Only what the database answers: the session's writes and savepoints are not replayed.
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    return times, statements, len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--min-runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    # Hashed static names, as served: the templates' {% static %} needs the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    # Each request empties the query log as it starts: kept, so the pages' queries are counted.
    request_started.disconnect(reset_queries)

    rows: dict[str, dict[int, str]] = {}
    medians: dict[str, dict[int, float]] = {}
    counts: dict[str, dict[int, str]] = {}
    details: dict[str, dict[int, str]] = {"busiest conversation": {}, "anchor depth": {}}
    for size in sizes:
        cache = datagen.use(size)
        if cache.generated_in is not None:
            print(f"generated {size:,} events in {cache.generated_in:.0f} s ({cache.where})")
        owner, busy = cache.owner, cache.busy
        depth = cache.busy_events // 2
        anchor = (
            queries.visible_to(owner)
            .filter(conversation=busy)
            .order_by("-created_at", "-sort_id")[depth]
        )
        details["busiest conversation"][size] = f"{cache.busy_events:,} events"
        details["anchor depth"][size] = f"{depth:,}"
        client = Client()
        client.force_login(owner)
        cells: dict[str, Callable[[], object]] = {"floor: SELECT by pk": select_by_pk(anchor.pk)}
        cells |= {name: get(client, *page) for name, page in pages(cache, anchor.x_id).items()}
        for name, run in cells.items():
            times, statements, count = measure(run, args)
            rows.setdefault(name, {})[size] = timing.cell(times)
            medians.setdefault(name, {})[size] = statistics.median(times)
            if name.startswith("floor: SELECT"):
                continue
            sql_times, _, _ = measure(replay(statements), args)
            rows.setdefault(f"  SQL of {name}", {})[size] = timing.cell(sql_times)
            medians.setdefault(f"  SQL of {name}", {})[size] = statistics.median(sql_times)
            counts.setdefault(name, {})[size] = str(count)

    print(
        f"reader on {connection.vendor}, the full Django stack in-process (DEBUG off): p50/p95 ms "
        f"(up to {args.runs} runs a cell); one owner, 1,000 conversations; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    width = 15
    header = f"{'events':<28}" + "".join(f"{size:>{width},}" for size in sizes)
    header += f"{'largest/smallest':>18}{'queries':>12}"
    print(header)
    print("-" * len(header))
    for name, values in details.items():
        print(f"{name:<28}" + "".join(f"{values[s]:>{width}}" for s in sizes))
    for name, values in rows.items():
        growth = medians[name][sizes[-1]] / medians[name][sizes[0]]
        flat = "/".join(counts[name][s] for s in sizes) if name in counts else ""
        print(
            f"{name:<28}"
            + "".join(f"{values[s]:>{width}}" for s in sizes)
            + f"{growth:>17.1f}x{flat:>12}"
        )


if __name__ == "__main__":
    main()
