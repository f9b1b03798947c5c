"""Search benchmark: search.run on a generated cache (bench/datagen.py, 1,000,000 events by
default) beside the best raw SQL we know for the same rows (the floor), and a plain LIKE scan
(the naive way), all measured in the same run.

For each query, p50/p95 in milliseconds over up to --runs runs (fewer when a cell's runs add up
to more than --budget seconds; a single run is stopped after --timeout seconds):

  ours newest   search.run's first page, newest first: parse, find, load the 20 rows a page shows,
                highlight them
  its SQL       the statements ours newest sent, replayed on a raw cursor (executed and
                fetched): the database's part of ours newest, the rest being Python
  floor newest  the same 20 ids, newest first, by raw SQL with no ORM and no Python: the fastest
                of the plans below that returns exactly those ids (its name in brackets)
                  index   the full-text index first (FTS5 MATCH joined to the owner's rows, or a
                          tsquery through GIN, materialized), then sorted by date
                  chars   text with no words to index (CJK, emoji): the index of each event's
                          characters outside ASCII (migration 0015: an FTS5 table, or GIN)
                          first, LIKE deciding, materialized on PostgreSQL, then sorted by date
                  one     the whole query as one SQL statement (search.matching, ordered, LIMIT),
                          whatever plan the database picks: for operator-only queries this is
                          the only plan, so ours/floor shows what Python adds
                SQLite has no exact raw "walk the timeline, test each row" plan: asking FTS5 row
                by row rebuilds a prefix query's doclist for every row (minutes for "you"*).
  ours best     best match first (queries with indexed words): search.run ranks the newest
                search.BEST_CANDIDATES matches in Python
  floor best    the raw SQL part of that: the same newest BEST_CANDIDATES matches' ids and text
                by the fastest plan above (the ranking itself is not in it)
  naive LIKE    text LIKE '%word%' for each word (ILIKE on PostgreSQL), the owner's rows, newest
                20 first; none for operator-only queries

Ratios use the p50s: ours/floor for each order. Results are checked, not timed: ours newest must
equal the floor's ids (the sorted floor, "index", wherever it is measured), and no result may
belong to the second owner, whose messages hold the rare words too. Timings are printed, never
asserted. The process's peak RSS is printed at the end.

Run: .venv/bin/python bench/search_bench.py [--events N] [--runs 30] [--explain]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/search_bench.py
"""

import argparse
import math
import os
import resource
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
from django.test.utils import CaptureQueriesContext

from bench import datagen, timing
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
    # A week a year back: a stretch in the middle of the timeline, bounded on both sides.
    year_ago = datagen.END - timedelta(days=365)
    year_ago_from = year_ago.date().isoformat()
    year_ago_to = (year_ago + timedelta(days=8)).date().isoformat()
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
        Case("unindexed", "会いましょう"),  # CJK of three characters and more
        Case("unindexed", "👍 -you"),  # an emoji, without a common word
        Case("operator", f"from:@{friend}"),
        Case("operator", f"from:@{quiet}"),
        Case("operator", f"in:@{friend}"),
        Case("operator", "has:photo"),
        Case("operator", "has:link"),
        Case("operator", "has:post"),
        Case("operator", "has:video"),
        Case("operator", f"after:{week}"),
        Case("operator", f"before:{first_months}"),
        Case("operator", f"after:{year_ago_from} before:{year_ago_to}"),
        Case("combined", f"{words['frequent']} from:@{friend}"),
        Case("combined", f"{words['common']} has:photo"),
        Case("combined", f"{words['frequent']} -{words['common']}"),
        Case("combined", f'"on my way" in:@{friend}'),
        Case("combined", f"{words['common']} after:{week}"),
        Case("combined", f"{words['frequent']} before:{first_months}"),
        Case("combined", f"{words['rare']} has:link after:{first_months}"),
        Case("combined", f"{words['common']} after:{year_ago_from} before:{year_ago_to}"),
        Case("combined", f"tomo after:{year_ago_from} before:{year_ago_to}"),
        Case("combined", f"🔥 from:@{friend}"),
    ]


# What is measured ---------------------------------------------------------------------------------


def ours(owner, q: str, order: str) -> Callable[[], list]:
    def run() -> list:
        return [r.event.pk for r in search.run(owner, search.parse(q), order=order).results]

    return run


def ours_sql(owner, q: str, order: str) -> Callable[[], list]:
    """The statements search.run sends for the query, replayed on a raw cursor (parameters
    written in, executed and fetched): the database's part of ours; the rest is Python (the ORM,
    the sieve's own in-memory FTS5, ranking, highlighting)."""
    with CaptureQueriesContext(connection) as captured:
        search.run(owner, search.parse(q), order=order)
    statements = [executed["sql"] for executed in captured.captured_queries]

    def run() -> list:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()
        return []

    return run


def fetch(sql: str, params: list) -> Callable[[], list]:
    def run() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    return run


NEWEST = " ORDER BY created_at DESC, sort_id DESC"


def floor_plans(owner, query: search.Query, rows: int) -> dict[str, tuple[str, list]]:
    """Raw SQL for the newest `rows` matching ids, by plan name."""
    plans = {}
    indexed = [t for t in query.include if t.words]
    excluded = [t for t in query.exclude if t.words]
    if indexed and not (query.senders or query.places or query.has):
        # The index first, then the date order: the FTS table or the GIN index drives. The
        # query's dates are checked on the rows it finds (on SQLite with unary +, so no index
        # serves them: beside a MATCH a date range made SQLite ask FTS5 row by row).
        sqlite = connection.vendor == "sqlite"
        column = "+e.created_at" if sqlite else "created_at"
        dates, date_params = "", []
        if query.before:
            dates += f" AND {column} < %s"
            date_params.append(search._start_of(query.before))
        if query.after:
            dates += f" AND {column} >= %s"
            date_params.append(search._start_of(query.after + timedelta(days=1)))
        date_params = [connection.ops.adapt_datetimefield_value(d) for d in date_params]
        if sqlite:
            sql = (
                "SELECT e.id, e.search_text FROM conversations_dmevent_fts f"
                " CROSS JOIN conversations_dmevent e ON e.id = f.rowid"
                " WHERE conversations_dmevent_fts MATCH %s AND e.owner_id = %s"
                f" AND e.event_type = 'MessageCreate'{dates}"
            )
            params: list = [search._fts5(indexed, excluded), owner.pk, *date_params]
        else:
            sql = (
                "WITH found AS MATERIALIZED (SELECT id, search_text, created_at, sort_id"
                " FROM conversations_dmevent WHERE owner_id = %s"
                f" AND event_type = 'MessageCreate'{dates}"
                " AND search_vector @@ to_tsquery('simple', %s))"
                " SELECT id, search_text FROM found"
            )
            params = [owner.pk, *date_params, search._tsquery(indexed, excluded)]
        if all(t.words for t in query.include):
            plans["index"] = (sql + NEWEST + f" LIMIT {rows}", params)
    characters = search._unindexed_characters(query)
    if connection.vendor == "sqlite" and characters:
        # The characters' FTS5 table first (migration 0015), LIKE deciding, then the date order.
        found = search._fts_joined(
            search.matching(owner, query),
            search._fts5_characters(characters),
            table=search._CHARACTERS_TABLE,
        ).order_by("-created_at", "-sort_id")
        sql, params = found.values_list("id", "search_text")[:rows].query.sql_with_params()
        plans["chars"] = (sql, list(params))
    elif characters:
        # The characters' GIN index first (migration 0015), LIKE deciding, then the date order.
        found = search.matching(owner, query).extra(
            where=[f"{search.UNINDEXED_CHARACTERS} @> %s::text[]"], params=[characters]
        )
        sql, params = found.values_list(
            "id", "search_text", "created_at", "sort_id"
        ).query.sql_with_params()
        plans["chars"] = (
            f"WITH found AS MATERIALIZED ({sql}) SELECT id, search_text FROM found"
            + NEWEST
            + f" LIMIT {rows}",
            list(params),
        )
    one = search.matching(owner, query).order_by("-created_at", "-sort_id")
    sql, params = one.values_list("id", "search_text")[:rows].query.sql_with_params()
    plans["one"] = (sql, list(params))
    return plans


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
        return f"{timing.ms(self.p50)}/{timing.ms(self.quantile(0.95))}"


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


def fastest(cells: dict[str, Figures]) -> tuple[str, Figures | None]:
    timed = {name: f for name, f in cells.items() if not f.timed_out}
    if not timed:
        return "", next(iter(cells.values()), None)
    name = min(timed, key=lambda n: timed[n].p50)
    return name, timed[name]


def floor(owner, query, rows: int, expected: list | None, args) -> tuple[str, Figures | None, list]:
    """The fastest raw plan whose ids equal `expected` (when given); (name, figures, problems)."""
    cells, problems = {}, []
    for name, (sql, params) in floor_plans(owner, query, rows).items():
        figures, ids = measure(fetch(sql, params), args)
        if not figures.timed_out and expected is not None and ids != expected:
            problems.append(f"floor plan {name!r} disagrees with ours")
            continue
        cells[name] = figures
    name, figures = fastest(cells)
    return name, figures, problems


def ratio(a: Figures | None, b: Figures | None) -> str:
    if a is None or b is None or a.timed_out or b.timed_out:
        return ""
    return f"{a.p50 / b.p50:.1f}x"


def cell(figures: Figures | None, name: str = "") -> str:
    if figures is None:
        return "—"
    return figures.cell() + (f" [{name}]" if name else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--min-runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--explain", action="store_true", help="print the one-SQL plans")
    parser.add_argument("--only", default="", help="only the queries containing this text")
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
        f"about {args.budget:.0f} s a cell; >N s: one run stopped after N s); ratios from p50s; "
        f"best match ranks the newest {search.BEST_CANDIDATES} matches"
    )
    header = (
        f"{'kind':<10} {'query':<34} {'matches':>8}  {'ours newest':>12} {'its SQL':>11} "
        f"{'floor newest':>20} {'ours best':>12} {'floor best':>20} {'naive LIKE':>12}  "
        f"{'newest/floor':>12} {'best/floor':>10}"
    )
    print(header)
    print("-" * len(header))
    problems, leaks, checked = [], 0, 0
    for case in cases(cache):
        if args.only not in case.q:
            continue
        query = search.parse(case.q)
        matches = search.matching(owner, query).count()
        newest, ours_ids = measure(ours(owner, case.q, "newest"), args)
        newest_sql = measure(ours_sql(owner, case.q, "newest"), args)[0]
        expected = None if newest.timed_out else ours_ids
        floor_name, floor_newest, disagree = floor(owner, query, 20, expected, args)
        checked += 1
        problems += [f"{case.q}: {p}" for p in disagree]
        best = floor_best = None
        best_name = ""
        if any(t.words for t in query.include):
            best, _ = measure(ours(owner, case.q, "best"), args)
            best_name, floor_best, _ = floor(owner, query, search.BEST_CANDIDATES, None, args)
        naive_query = naive(owner, query)
        naive_figures = measure(fetch(*naive_query), args)[0] if naive_query else None
        leaks += DmEvent.objects.filter(pk__in=ours_ids).exclude(owner=owner).count()
        label = case.q if len(case.q) <= 34 else case.q[:33] + "…"
        print(
            f"{case.kind:<10} {label:<34} {matches:>8,}  {cell(newest):>12} {cell(newest_sql):>11} "
            f"{cell(floor_newest, floor_name):>20} {cell(best):>12} "
            f"{cell(floor_best, best_name):>20} {cell(naive_figures):>12}  "
            f"{ratio(newest, floor_newest):>12} {ratio(best, floor_best):>10}",
            flush=True,
        )
        if args.explain:
            for name, (sql, params) in floor_plans(owner, query, 20).items():
                print(f"  plan {name}:")
                print(explain(sql, params))
    other_hits = sum(
        search.matching(other, search.parse(word)).count() for word in datagen.PLANTED[:3]
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"checks: ours newest = every floor plan in {checked - len(problems)} of {checked} "
        f"queries; {leaks} results of another owner (the second owner has {other_hits:,} "
        f"messages with the rare words); peak RSS {peak:.0f} MB"
    )
    for problem in problems:
        print(f"  MISMATCH {problem}")


if __name__ == "__main__":
    main()
