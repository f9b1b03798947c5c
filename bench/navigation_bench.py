"""Navigation benchmark: what opening a conversation costs the server, as a whole page (a direct
load, a reload, a phone's one pane, and before two panes every click) and as the thread partial
that two panes swap in beside the inbox (conversation.html#thread, HX-Target: thread-pane), on
generated caches (bench/datagen.py).

Each request goes through Django's whole handling (middleware, session, view, templates) with the
test client, signed in as the generated owner, inside a transaction rolled back at the end (the
cache is left as it was). Printed per cache size, p50/p95 ms over up to --runs runs, the queries
each sends and the bytes it returns, and the ratio of whole page to partial: the floor is the
partial, what a click in two panes costs; a whole page adds the inbox pane's rows.

Conversations opened: the busiest (a tenth of the events) and a small one; the read mark is at the
newest message after the warm-up run, so the figures are of a reader coming back (no write).

Run: .venv/bin/python bench/navigation_bench.py [--sizes 1000,100000]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/navigation_bench.py
"""

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from django.core.signals import request_started
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import datagen, timing
from conversations import queries

PANE = {"HX-Request": "true", "HX-Target": "thread-pane"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def measure(run: Callable[[], object], args) -> tuple[list[float], int, int]:
    """Times in ms, the queries and the bytes of one response (after a warm-up run, which also
    moves the read mark: the runs measured write nothing)."""
    run()
    with CaptureQueriesContext(connection) as captured:
        response = run()
    assert response.status_code == 200, response.status_code
    size = len(response.content)
    times = timing.repeat(run, args)
    return times, len(captured), size


def requests_for(client: Client, busy: str, small: str) -> dict[str, Callable[[], object]]:
    return {
        "inbox page": lambda: client.get("/"),
        "busy: whole page": lambda: client.get(f"/c/{busy}/"),
        "busy: thread partial": lambda: client.get(f"/c/{busy}/", headers=PANE),
        "busy: back/forward": lambda: client.get(f"/c/{busy}/", headers=RESTORE),
        "small: whole page": lambda: client.get(f"/c/{small}/"),
        "small: thread partial": lambda: client.get(f"/c/{small}/", headers=PANE),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--min-runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    # Each request would empty the connection's query log as it starts, and the count with it.
    request_started.disconnect(reset_queries)

    rows: dict[str, list[tuple[list[float], int, int]]] = {}
    for size in sizes:
        cache = datagen.use(size)
        if cache.generated_in is not None:
            print(f"generated {size:,} events in {cache.generated_in:.0f} s ({cache.where})")
        owner = cache.owner
        small = next(
            c.x_id
            for c in queries.inbox(owner)[:50]
            if not c.is_group and c.pk != cache.busy.pk and c.events.count() < queries.PAGE
        )
        with transaction.atomic():
            client = Client()
            client.force_login(owner)
            for name, run in requests_for(client, cache.busy.x_id, small).items():
                rows.setdefault(name, []).append(measure(run, args))
            transaction.set_rollback(True)

    print(
        f"navigation on {connection.vendor}: p50/p95 ms (up to {args.runs} runs a cell), "
        f"queries, KB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    width = 24
    header = f"{'events':<24}" + "".join(f"{size:>{width},}" for size in sizes)
    print(header)
    print("-" * len(header))
    for name, results in rows.items():
        cells = [f"{timing.cell(t)} ms {q:>2}q {b / 1024:>5.1f}KB" for t, q, b in results]
        print(f"{name:<24}" + "".join(f"{c:>{width}}" for c in cells))
    for which in ("busy", "small"):
        whole, partial = rows[f"{which}: whole page"], rows[f"{which}: thread partial"]
        ratios = [
            f"{statistics.median(w[0]) / statistics.median(p[0]):.2f}x time, "
            f"{w[2] / p[2]:.2f}x bytes"
            for w, p in zip(whole, partial, strict=True)
        ]
        print(f"{which + ': whole/partial':<24}" + "".join(f"{r:>{width}}" for r in ratios))


if __name__ == "__main__":
    main()
