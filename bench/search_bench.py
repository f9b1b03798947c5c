"""Search benchmark: search.run on a generated cache (bench/datagen.py, 1,000,000 events by
default), beside the raw full-text query alone (the floor) and a plain LIKE scan (the naive way),
all measured in the same run.

For each query, p50/p95 in milliseconds over up to --runs runs (fewer when a cell's runs add up
to more than --budget seconds; a single run is stopped after --timeout seconds):

  ours newest   search.run's first page, newest first: parse, query, 20 results highlighted
  ours best     the same, best match first (only for queries with indexed words)
  floor         the full-text query alone, no ORM: the owner's rowids that match, LIMIT 20,
                in no particular order (FTS5 MATCH joined to the owner's rows, or tsquery @@).
                Queries with no indexed words have no full-text query; their floor is the same
                filter as ours (compiled by the ORM, run raw) with LIMIT 20 and no ORDER BY
  floor sorted  the floor, newest 20 first: what ordering by date adds, before any Python
  naive LIKE    text LIKE '%word%' for each word (ILIKE on PostgreSQL), the owner's rows, newest
                20 first; none for operator-only queries

Ratios use the p50s: ours/floor (how close we are to the floor), ours/sorted (what is left once
the floor also orders by date) and naive/ours (what the index buys). Results are checked, not
timed: ours newest must equal "floor sorted" where both answer the same question, and no result
may belong to the second owner, whose messages hold the rare words too. Timings are printed,
never asserted.

Run: .venv/bin/python bench/search_bench.py [--events N] [--runs 30] [--explain]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/search_bench.py
"""

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import OperationalError, connection
from django.db.models import Count

from bench import datagen
from conversations import search
from conversations.models import DmEvent, XUser


@dataclass(frozen=True)
class Case:
    kind: str
    q: str


def cases(cache: datagen.Cache) -> list[Case]:
    words = datagen.PROBES
    owner = cache.owner
    friend = XUser.objects.get(owner=owner, x_id=datagen.busy_friend()).username
    # Someone who wrote only a little: in a quiet group.
    quiet = (
        DmEvent.objects.filter(owner=owner, event_type=DmEvent.MESSAGE_CREATE)
        .exclude(sender_x_id=datagen.ME)
        .values("sender__username")
        .annotate(n=Count("id"))
        .order_by("n", "sender__username")
        .first()["sender__username"]
    )
    week = (datagen.END - timedelta(days=7)).date().isoformat()
    first_months = (datagen.END - datagen.SPAN + timedelta(days=60)).date().isoformat()
    return [
        Case("common", words["common"]),
        Case("common", words["frequent"]),
        Case("common", "tomo"),  # a prefix: tomorrow, tomorrow's
        Case("rare", words["uncommon"]),
        Case("rare", words["rare"]),
        Case("rare", words["rarest"]),
        Case("rare", words["absent"]),
        Case("phrase", '"see you tomorrow"'),
        Case("phrase", '"on my way"'),
        Case("phrase", f'"{words["common"]} the"'),  # two very common words side by side
        Case("folding", "CAFE"),  # finds café: case and accents folded in the index
        Case("unindexed", "東京"),  # no word boundaries: a substring of the folded text
        Case("unindexed", "🔥"),
        Case("operator", f"from:@{friend}"),
        Case("operator", f"from:@{quiet}"),
        Case("operator", f"in:@{friend}"),
        Case("operator", "has:photo"),
        Case("operator", "has:link"),
        Case("operator", "has:post"),
        Case("operator", f"after:{week}"),
        Case("combined", f"{words['frequent']} from:@{friend}"),
        Case("combined", f"{words['common']} has:photo"),
        Case("combined", f"{words['frequent']} -{words['common']}"),
        Case("combined", f'"on my way" in:@{friend}'),
        Case("combined", f"{words['common']} after:{week}"),
        Case("combined", f"{words['frequent']} before:{first_months}"),
        Case("combined", f"{words['rare']} has:link after:{first_months}"),
    ]


# What is measured ---------------------------------------------------------------------------------


def ours(owner, q: str, order: str) -> Callable[[], list]:
    def run() -> list:
        return [r.event.pk for r in search.run(owner, search.parse(q), order=order).results]

    return run


def fetch(sql: str, params: list) -> Callable[[], list]:
    def run() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    return run


NEWEST = " ORDER BY created_at DESC, sort_id DESC"


def floors(owner, query: search.Query) -> tuple[str, str, list] | None:
    """(kind, SQL without ORDER BY or LIMIT, params) of the floor."""
    indexed = [t for t in query.include if t.words]
    if indexed and connection.vendor == "sqlite":
        # CROSS JOIN: SQLite then reads the index first, as a floor should, instead of probing
        # it once for each of the owner's rows.
        sql = (
            "SELECT e.id FROM conversations_dmevent_fts f"
            " CROSS JOIN conversations_dmevent e ON e.id = f.rowid"
            " WHERE conversations_dmevent_fts MATCH %s AND e.owner_id = %s"
        )
        return "fts", sql, [search._fts5(indexed), owner.pk]
    if indexed:
        sql = (
            "SELECT id FROM conversations_dmevent"
            " WHERE owner_id = %s AND search_vector @@ to_tsquery('simple', %s)"
        )
        return "fts", sql, [owner.pk, search._tsquery(indexed)]
    # No full-text query: the same filter as ours, compiled by the ORM and run raw.
    sql, params = search.matching(owner, query).order_by().values("id").query.sql_with_params()
    return "filter", sql, list(params)


def naive(owner, query: search.Query) -> tuple[str, list] | None:
    if not query.include:
        return None
    like = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
    sql = "SELECT id FROM conversations_dmevent WHERE owner_id = %s"
    params: list = [owner.pk]
    for text, negate in [(t, "") for t in query.include] + [(t, "NOT ") for t in query.exclude]:
        sql += f" AND text {negate}{like} %s"
        params.append(f"%{text.folded}%")
    return sql + NEWEST + " LIMIT 20", params


# Measuring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    times: list[float]  # ms
    timed_out: bool = False

    def quantile(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    def cell(self) -> str:
        if self.timed_out:
            return f">{self.times[0] / 1000:.0f} s"
        return f"{_ms(self.p50)}/{_ms(self.quantile(0.95))}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


@contextmanager
def time_limit(seconds: float):
    """Stop a runaway query (a cell that would take minutes) instead of waiting for it."""
    if connection.vendor != "sqlite":
        yield  # statement_timeout, set once for the session
        return
    connection.ensure_connection()
    deadline = time.perf_counter() + seconds
    connection.connection.set_progress_handler(lambda: time.perf_counter() > deadline, 10_000)
    try:
        yield
    finally:
        connection.connection.set_progress_handler(None, 0)


def measure(run: Callable[[], list], args: argparse.Namespace) -> tuple[Figures, list]:
    times: list[float] = []
    spent = 0.0
    result: list = []
    warmup = True
    while len(times) < args.runs and (spent < args.budget or len(times) < args.min_runs):
        started = time.perf_counter()
        try:
            with time_limit(args.timeout):
                result = run()
        except OperationalError:
            return Figures([args.timeout * 1000], timed_out=True), []
        elapsed = time.perf_counter() - started
        if warmup:  # the first run of each cell warms caches and is not counted
            warmup = False
            continue
        times.append(elapsed * 1000)
        spent += elapsed
    return Figures(times), result


def explain(sql: str, params: list) -> str:
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "sqlite":
        return "\n".join(f"    {row[-1]}" for row in rows)
    return "\n".join(f"    {row[0]}" for row in rows)


def ours_sql(owner, query: search.Query, order: str) -> tuple[str, list]:
    """The SQL search.run sends for a first page (built as run() builds it)."""
    events = search.matching(owner, query)
    if order == "best":
        events = events.annotate(score=search._score(query))
        ordering = ["-score", "-created_at", "-sort_id"]
    else:
        ordering = ["-created_at", "-sort_id"]
    events = events.select_related("conversation", "sender").order_by(*ordering)[:21]
    sql, params = events.query.sql_with_params()
    return sql, list(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--explain", action="store_true", help="print our queries' plans")
    args = parser.parse_args()

    cache = datagen.use(args.events)
    vendor = connection.vendor
    if cache.generated_in is not None:
        print(f"generated {args.events:,} events in {cache.generated_in:.0f} s")
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [int(args.timeout * 1000)])
    owner, other = cache.owner, cache.other
    print(
        f"search on {vendor}: {args.events:,} events of one owner across 1,000 conversations "
        f"(+ {DmEvent.objects.filter(owner=other).count():,} of a second owner), {cache.where}"
    )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"p50/p95 ms, up to {args.runs} runs a cell (at least {args.min_runs}, "
        f"about {args.budget:.0f} s a cell; >N s: one run stopped after N s); ratios from p50s"
    )
    header = (
        f"{'kind':<10} {'query':<34} {'matches':>8}  {'ours newest':>13} {'ours best':>13} "
        f"{'floor':>13} {'floor sorted':>13} {'naive LIKE':>13}  {'ours/floor':>10} "
        f"{'ours/sorted':>11} {'naive/ours':>10}"
    )
    print(header)
    print("-" * len(header))
    problems, leaks, checked = [], 0, 0
    for case in cases(cache):
        query = search.parse(case.q)
        matches = search.matching(owner, query).count()
        newest, ours_ids = measure(ours(owner, case.q, "newest"), args)
        best = None
        if any(t.words for t in query.include):
            best, _ = measure(ours(owner, case.q, "best"), args)
        kind, floor_sql, floor_params = floors(owner, query)
        floor, _ = measure(fetch(floor_sql + " LIMIT 20", floor_params), args)
        sorted_floor, sorted_ids = measure(
            fetch(floor_sql + NEWEST + " LIMIT 20", floor_params), args
        )
        naive_query = naive(owner, query)
        naive_figures = measure(fetch(*naive_query), args)[0] if naive_query else None
        # Correctness, not speed: the same newest 20 as the floor where both answer the same
        # question, and nothing of the second owner's.
        words_only = all(t.words for t in query.include) and not (
            query.exclude or query.senders or query.places or query.has
        )
        comparable = kind == "filter" or (words_only and not (query.before or query.after))
        if comparable and not newest.timed_out and not sorted_floor.timed_out:
            checked += 1
            if ours_ids != sorted_ids:
                problems.append(f"{case.q}: ours and the sorted floor disagree")
        leaks += DmEvent.objects.filter(pk__in=ours_ids).exclude(owner=owner).count()
        label = case.q if len(case.q) <= 34 else case.q[:33] + "…"
        ratio = "" if newest.timed_out or floor.timed_out else f"{newest.p50 / floor.p50:.1f}x"
        sorted_ratio = ""
        if not newest.timed_out and not sorted_floor.timed_out:
            sorted_ratio = f"{newest.p50 / sorted_floor.p50:.1f}x"
        naive_ratio = ""
        if naive_figures and not newest.timed_out and not naive_figures.timed_out:
            naive_ratio = f"{naive_figures.p50 / newest.p50:.1f}x"
        floor_cell = floor.cell() + ("" if kind == "fts" else "*")
        print(
            f"{case.kind:<10} {label:<34} {matches:>8,}  {newest.cell():>13} "
            f"{best.cell() if best else '—':>13} {floor_cell:>13} {sorted_floor.cell():>13} "
            f"{naive_figures.cell() if naive_figures else '—':>13}  {ratio:>10} {sorted_ratio:>11} "
            f"{naive_ratio:>10}",
            flush=True,
        )
        if args.explain:
            for order in ("newest", "best") if best else ("newest",):
                print(f"  plan, ours {order}:")
                print(explain(*ours_sql(owner, query, order)))
    print("* no full-text query: the floor is the same filter as ours, raw, LIMIT 20, unordered")
    other_hits = sum(
        search.matching(other, search.parse(word)).count() for word in datagen.PLANTED[:3]
    )
    print(
        f"checks: ours = floor sorted in {checked - len(problems)} of {checked} comparable "
        f"queries; {leaks} results of another owner (the second owner has {other_hits:,} "
        f"messages with the rare words)"
    )
    for problem in problems:
        print(f"  MISMATCH {problem}")


if __name__ == "__main__":
    main()
