"""Reader benchmark: the inbox, a conversation's first page and a deep scroll, on generated caches
(bench/datagen.py) of 1,000, 100,000 and 1,000,000 events, to show the pages cost the same
whatever the size of the cache.

Measured, p50/p95 in milliseconds over up to --runs runs (fewer when a cell's runs add up to more
than --budget seconds), with the number of queries each sends:

  floor               a bare SELECT of one event by primary key, no ORM
  inbox, 50 rows      queries.inbox, the first 50 conversations, rows built as views.inbox builds
                      them and rendered with the inbox template's partial
  inbox view          views.inbox itself, as an htmx request: every conversation the owner has
  first page          queries.conversation + queries.events_before(anchor=None): the newest 50
                      of the busiest conversation (a tenth of all events)
  deep scroll         queries.event + queries.events_before at an anchor halfway back through
                      that conversation: 50,000 events deep at 1M events (keyset)
  deep scroll OFFSET  the same page read with OFFSET, for contrast (never what the app does)

Run: .venv/bin/python bench/reader_bench.py [--sizes 1000,100000,1000000]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/reader_bench.py
"""

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django_htmx.middleware import HtmxDetails

from bench import datagen
from conversations import queries, rendering, views
from conversations.models import DmEvent, SyncState

PAGE = queries.PAGE


def inbox_rows(owner, me: str, limit: int | None) -> str:
    """The first `limit` inbox rows, built and rendered as views.inbox does."""
    conversations = queries.inbox(owner)
    if limit is not None:
        conversations = conversations[:limit]
    rows = [rendering.inbox_row(c, me) for c in conversations]
    request = RequestFactory().get("/")
    request.user = owner
    context = {"rows": rows, "sync": SyncState.objects.filter(owner=owner).first()}
    return render_to_string("inbox.html#inbox-body", context, request=request)


def inbox_view(owner) -> Callable[[], object]:
    def run() -> object:
        request = RequestFactory().get("/", headers={"HX-Request": "true"})
        request.user = owner
        request.htmx = HtmxDetails(request)
        return views.inbox(request)

    return run


def offset_page(owner, conversation, depth: int) -> list[DmEvent]:
    events = queries.visible_to(owner).filter(conversation=conversation)
    ordered = queries._with_everything(events).order_by("-created_at", "-sort_id")
    return list(ordered[depth : depth + PAGE])[::-1]


def pages(cache: datagen.Cache, anchor: DmEvent, depth: int) -> dict[str, Callable[[], object]]:
    owner, busy = cache.owner, cache.busy
    return {
        "floor (SELECT by pk)": lambda: _select_by_pk(anchor.pk),
        "inbox, 50 rows rendered": lambda: inbox_rows(owner, datagen.ME, 50),
        "inbox view (all rows)": inbox_view(owner),
        "first page": lambda: queries.events_before(
            owner, queries.conversation(owner, busy.x_id), None
        ),
        "deep scroll (keyset)": lambda: queries.events_before(
            owner, busy, queries.event(owner, busy, anchor.x_id)
        ),
        "deep scroll (OFFSET)": lambda: offset_page(owner, busy, depth + 1),
    }


def measure(run: Callable[[], object], args) -> tuple[list[float], int]:
    with CaptureQueriesContext(connection) as captured:
        run()  # warms caches; not counted
    times: list[float] = []
    spent = 0.0
    while len(times) < args.runs and (spent < args.budget or len(times) < args.min_runs):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        times.append(elapsed * 1000)
        spent += elapsed
    return times, len(captured)


def cell(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return f"{_ms(statistics.median(times))}/{_ms(p95)}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--min-runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    results: dict[str, list[str]] = {}
    medians: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    details = {"conversations": [], "busiest conversation": [], "anchor depth": []}
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
        details["conversations"].append(f"{queries.inbox(owner).count():,}")
        details["busiest conversation"].append(f"{cache.busy_events:,} events")
        details["anchor depth"].append(f"{depth:,}")
        cells = pages(cache, anchor, depth)
        # The keyset page and the OFFSET page are the same 50 events.
        keyset = [e.pk for e in queries.events_before(owner, busy, anchor).events]
        assert keyset == [e.pk for e in offset_page(owner, busy, depth + 1)], "pages differ"
        for name, run in cells.items():
            times, count = measure(run, args)
            results.setdefault(name, []).append(cell(times))
            medians.setdefault(name, []).append(statistics.median(times))
            counts.setdefault(name, []).append(count)

    vendor = connection.vendor
    print(
        f"reader on {vendor}: p50/p95 ms (up to {args.runs} runs a cell), queries per page; "
        f"one owner, 1,000 conversations; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    width = 15
    header = f"{'events':<26}" + "".join(f"{size:>{width},}" for size in sizes)
    header += f"{'largest/smallest':>18}{'queries':>12}"
    print(header)
    print("-" * len(header))
    for name, values in details.items():
        print(f"{name:<26}" + "".join(f"{v:>{width}}" for v in values))
    for name, cells in results.items():
        growth = medians[name][-1] / medians[name][0]
        flat = "/".join(str(c) for c in counts[name])
        print(
            f"{name:<26}" + "".join(f"{c:>{width}}" for c in cells) + f"{growth:>17.1f}x{flat:>12}"
        )


def _select_by_pk(pk: int) -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM conversations_dmevent WHERE id = %s", [pk])
        return cursor.fetchall()


if __name__ == "__main__":
    main()
