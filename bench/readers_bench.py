"""Many signed-in clients at once against the product as production serves it (scripts/serve:
gunicorn, DEBUG off): requests/s and p50/p95/p99 per page on one app server and on two, and
whether a search for a common word stalls the reader pages beside it.

The cache is bench/datagen.py's (one owner with --events events in 1,000 conversations; generated
once and reused). Each client is its own session of that owner, made as a sign-in makes one (the
sign-in flow itself is tested in tests/ and timed by the scale-out run), and holds one keep-alive
connection to its server: clients 0, 2, 4... go to the first server, 1, 3, 5... to the second
when there are two (what a load balancer does with sticky connections). Each client takes its
pages in turn, each starting at a different one, until the time is up:

  inbox          /, the owner's inbox
  newest page    /c/<id>/, the client's own conversation of the owner's newest (client i opens
                 the i-th newest), a whole page with the inbox beside it
  deep scroll    /c/<busiest>/?before=<id> with HX-Request: true, the #older fragment infinite
                 scroll asks for, in the busiest conversation (a tenth of all events); client i
                 of n scrolls from (i + 1/2)/n of the way back (100,000 events deep at most at 1M)
  in context     /c/<busiest>/?around=<id>, a search result opened around that same event
  search         /search/?q=<--search>, the first page of results, newest first

The setups (--setups, run in turn each round, so a machine that slows midway weighs on all alike):
  one      --readers clients on one server, each taking all five pages in turn
  two      the same clients split over two servers; printed with the ratio two/one. Two servers
           on two cores share the same cores: a ratio near 1 says the cores, not the server, are
           what limits; on more cores it says what each machine added buys
  stall    on one server, --readers minus --searchers clients reading the four reader pages
           (no search) alone; then the same readers while --searchers more clients search
           /search/?q=<--common> without pause, newest first and best match (&order=best) in
           turn. Printed: the readers' p50/p95/p99 beside the searches over alone, so one sees
           whether a common-word search stalls reading

With --syncing N (default 2), N task workers (scripts/worker) sync all the while: a sandbox's
@maya_reads is signed in to the same database and a full sync of her ~4,000 messages is asked
for again as soon as the last one ends, so the clients share the database with the writes of
syncs. --syncing 0: nothing else runs.

The bench reads and writes a copy of the cache (sessions, read marks, syncs): the kept one stays
as datagen made it. Also printed: the peak RSS (VmHWM) of this process and of each server's
processes (the gunicorn master and its workers) and task workers, read as each stops.

Run: .venv/bin/python bench/readers_bench.py [--events 100000] [--readers 50] [--seconds 20]
     [--syncing 2] [--setups one,two,stall] [--searchers 2] [--search coffee] [--common you]
The issue's figures, 16 clients at a million events, nothing syncing:
     .venv/bin/python bench/readers_bench.py --events 1000000 --readers 16 --syncing 0 \
     --setups one,stall --seconds 15
PostgreSQL: scripts/with-postgres sh -c '.venv/bin/python bench/datagen.py --events 1000000 &&
     .venv/bin/python bench/readers_bench.py --events 1000000 ...' (generating first, apart, keeps
     generation's memory out of the bench's peak)
"""

import argparse
import http.client
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
# The servers and this process share the secrets: sessions made here are valid there.
os.environ.update(
    SECRET_KEY=secrets.token_urlsafe(50), TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode()
)
sys.path.insert(0, str(REPO))

from bench import datagen  # noqa: E402  (sets Django up)
from tests.sandbox import Sandbox, free_port  # noqa: E402

READER_PAGES = ("inbox", "newest page", "deep scroll", "in context")
SETUPS = ("one", "two", "stall")


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Setup:
    key: str  # one, two, alone, beside
    name: str
    servers: int
    plans: list[list[Page]]  # one a client: the pages it takes in turn
    readers: int  # the clients reading (the first `readers` of plans); the rest search


def database_url() -> str:
    """Where datagen.use() pointed Django: the same cache for the servers."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    return (
        f"postgres://{config['USER']}{password}@{config['HOST']}:{config['PORT']}/{config['NAME']}"
    )


def private_copy(tmp: Path) -> None:
    """Point Django at a copy of the cache datagen.use() picked, for a run that writes to it."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        copy = tmp / "readers-bench.sqlite3"
        connection.close()
        subprocess.run(["cp", name, str(copy)], check=True)
        datagen._point_at(str(copy))
        return
    copy = f"{name}_readers_{os.getpid()}"
    datagen._point_at(datagen._ORIGINAL_NAME)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    datagen._point_at(copy)


def drop_copy() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        copy = connection.settings_dict["NAME"]
        datagen._point_at(datagen._ORIGINAL_NAME)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def sign_in_syncing_account(sandbox: Sandbox) -> int:
    """@maya_reads signed in to the bench's database, as the sign-in flow leaves her."""
    from datetime import timedelta

    import requests
    from django.utils import timezone

    from dmreader import accounts, xauth

    token = sandbox.token("maya_reads")
    me = requests.get(
        sandbox.base_url + "/2/users/me",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=30,
    ).json()["data"]
    tokens = xauth.Tokens(
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=token["expires_in"]),
        scopes=token["scope"],
    )
    return accounts.sign_in(me=me, tokens=tokens).pk


def keep_syncing(owner_id: int, stop: threading.Event) -> None:
    """Ask for a full sync whenever none is queued or under way (request_sync queues one at most)."""
    from django.db import close_old_connections

    from conversations import tasks
    from conversations.models import SyncState

    while not stop.wait(0.5):
        close_old_connections()
        state = SyncState.objects.filter(owner_id=owner_id).first()
        if state is None or state.lease_until is None:
            tasks.request_sync(owner_id, full=True)


def session_cookie(owner) -> str:
    """A session of `owner` as django.contrib.auth.login() leaves it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def start_server(port: int, env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        server = subprocess.Popen(
            ["scripts/serve"], cwd=REPO, env={**env, "PORT": str(port)}, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"scripts/serve exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("scripts/serve did not answer in 120 s")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return int(kb) / 1024


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def stop_server(server: subprocess.Popen) -> tuple[float, list[float]]:
    """Stop it; the peak RSS of its master and of each worker, read just before."""
    peaks = peak_rss_mb(server.pid), [peak_rss_mb(pid) for pid in children(server.pid)]
    server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return peaks


class Clients:
    """Each client: one thread, one keep-alive connection, its pages in turn until `until`."""

    def __init__(self, ports: list[int], cookies: list[str], plans: list[list[Page]]):
        self.ports, self.cookies, self.plans = ports, cookies, plans
        self.latencies: dict[str, list[float]] = {}
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()

    def client(self, index: int, until: float) -> None:
        port = self.ports[index % len(self.ports)]
        plan = self.plans[index]
        latencies: dict[str, list[float]] = {page.name: [] for page in plan}
        failures: dict[str, int] = {}
        connection, turn = None, index  # clients start on different pages
        while time.monotonic() < until:
            page = plan[turn % len(plan)]
            turn += 1
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            started = time.perf_counter()
            try:
                connection.request(
                    "GET", page.path, headers={"Cookie": self.cookies[index], **dict(page.headers)}
                )
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                key = f"{page.name}: {type(exc).__name__}"
                failures[key] = failures.get(key, 0) + 1
                connection.close()
                connection = None
                continue
            latencies[page.name].append(time.perf_counter() - started)
            if response.status != 200:
                key = f"{page.name}: {response.status}"
                failures[key] = failures.get(key, 0) + 1
            if response.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
        with self.lock:
            for name, values in latencies.items():
                self.latencies.setdefault(name, []).extend(values)
            for key, count in failures.items():
                self.failures[key] = self.failures.get(key, 0) + count

    def run(self, seconds: float) -> float:
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.client, args=(i, until)) for i in range(len(self.plans))
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


@dataclass
class Result:
    """A setup's rounds: (seconds, clients) each, and the peak RSS of its server processes."""

    setup: Setup
    rounds: list[tuple[float, Clients]] = field(default_factory=list)
    masters_mb: list[float] = field(default_factory=list)
    workers_mb: list[float] = field(default_factory=list)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20, help="measured, a setup a round")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--syncing", type=int, default=2, help="task workers syncing meanwhile (0: none)"
    )
    parser.add_argument(
        "--setups", default=",".join(SETUPS), help=f"which to run, of {','.join(SETUPS)}"
    )
    parser.add_argument(
        "--searchers", type=int, default=2, help="stall: of the clients, how many search"
    )
    parser.add_argument("--search", default="coffee", help="the search the clients take in turn")
    parser.add_argument("--common", default="you", help="stall: the common word searched")
    args = parser.parse_args()
    args.setups = [name.strip() for name in args.setups.split(",") if name.strip()]
    unknown = set(args.setups) - set(SETUPS)
    if unknown or not args.setups:
        parser.error(f"--setups: {', '.join(sorted(unknown)) or 'none'}; choose of {SETUPS}")
    if "stall" in args.setups and not 0 < args.searchers < args.readers:
        parser.error("--searchers must be at least 1 and fewer than --readers")

    cache = datagen.use(args.events)
    tmp = Path(tempfile.mkdtemp(prefix="readers-bench-"))
    sandbox, workers, stop_syncing, workers_mb = None, [], threading.Event(), []
    try:
        private_copy(tmp)  # sessions, read marks and syncs write to it
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            "PLAIN_HTTP": "true",
            "LOG_LEVEL": "WARNING",
            "PYTHON": sys.executable,
        }
        if args.syncing:
            sandbox = Sandbox(tmp / "xsandbox", XSANDBOX_RATE_LIMIT="100000/900").start()
            env.update(sandbox.urls)
            syncing = sign_in_syncing_account(sandbox)
            workers = [
                subprocess.Popen(
                    ["scripts/worker", "--no-startup-delay"],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(args.syncing)
            ]
            threading.Thread(target=keep_syncing, args=(syncing, stop_syncing), daemon=True).start()
        results = measure(args, cache, env, tmp / "servers.log")
        if workers:
            from conversations.models import SyncRun

            runs = SyncRun.objects.filter(owner_id=syncing, outcome="idle")
            pages = sum(runs.values_list("pages", flat=True))
            print(f"meanwhile the workers finished {runs.count()} syncs ({pages} pages of events)")
    finally:
        stop_syncing.set()
        workers_mb = [peak_rss_mb(worker.pid) for worker in workers]
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if sandbox is not None:
            sandbox.stop()
        drop_copy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)
    bench_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS: this process {bench_mb:.0f} MB"
        + (f", task workers {', '.join(f'{mb:.0f}' for mb in workers_mb)} MB" if workers else "")
        + f"; load average {os.getloadavg()[0]:.1f} at the end"
    )


def anchors(cache, count: int) -> list[str]:
    """Event ids spread over the busiest conversation's history: the i-th of `count` at
    (i + 1/2)/count of the way back from its newest."""
    from conversations import queries

    events = queries.visible_to(cache.owner).filter(conversation=cache.busy)
    events = events.order_by("-created_at", "-sort_id").values_list("x_id", flat=True)
    return [events[int(cache.busy_events * (i + 0.5) / count)] for i in range(count)]


def setups(args, cache) -> list[Setup]:
    from conversations.models import Conversation

    newest = [
        f"/c/{x_id}/"
        for x_id in Conversation.objects.filter(owner=cache.owner)
        .order_by("-last_event_at")
        .values_list("x_id", flat=True)[: args.readers]
    ]
    busy = f"/c/{cache.busy.x_id}/"
    htmx = (("HX-Request", "true"),)
    deep = anchors(cache, args.readers)

    def reading(i: int) -> list[Page]:
        return [
            Page("inbox", "/"),
            Page("newest page", newest[i % len(newest)]),
            Page("deep scroll", f"{busy}?before={deep[i]}", htmx),
            Page("in context", f"{busy}?around={deep[i]}"),
        ]

    search = Page(f"search {args.search!r}", f"/search/?q={args.search}")
    common = [
        Page(f"search {args.common!r} newest", f"/search/?q={args.common}"),
        Page(f"search {args.common!r} best", f"/search/?q={args.common}&order=best"),
    ]
    everything = [[*reading(i), search] for i in range(args.readers)]
    readers = args.readers - args.searchers
    chosen = []
    for name in args.setups:
        if name == "one":
            chosen.append(Setup("one", "1 server", 1, everything, args.readers))
        elif name == "two":
            chosen.append(Setup("two", "2 servers", 2, everything, args.readers))
        else:
            alone = [reading(i) for i in range(readers)]
            chosen.append(Setup("alone", f"{readers} reading", 1, alone, readers))
            chosen.append(
                Setup(
                    "beside",
                    f"{readers} reading, {args.searchers} searching {args.common!r}",
                    1,
                    alone + [common] * args.searchers,
                    readers,
                )
            )
    return chosen


def measure(args, cache, env: dict, log: Path) -> list[Result]:
    chosen = setups(args, cache)
    cookies = [session_cookie(cache.owner) for _ in range(args.readers)]
    ports = [free_port(), free_port()]
    print(
        f"{args.readers} signed-in clients on {env['DATABASE_URL'].split(':')[0]} with "
        f"{args.events:,} cached events (busiest conversation {cache.busy_events:,}): "
        f"scripts/serve (gunicorn, {os.environ.get('WEB_WORKERS', os.cpu_count())} processes x "
        f"{os.environ.get('WEB_THREADS', 4)} threads a server); setups "
        f"{', '.join(setup.name for setup in chosen)}; {args.seconds:.0f} s each after "
        f"{args.warmup:.0f} s of warm-up, {args.rounds} round(s); "
        + (
            f"{args.syncing} task workers syncing @maya_reads meanwhile"
            if args.syncing
            else "nothing syncing meanwhile"
        )
        + f"; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    results = [Result(setup) for setup in chosen]
    for _ in range(args.rounds):
        for result in results:
            used = ports[: result.setup.servers]
            servers = [start_server(port, env, log) for port in used]
            try:
                Clients(used, cookies, result.setup.plans).run(args.warmup)
                clients = Clients(used, cookies, result.setup.plans)
                elapsed = clients.run(args.seconds)
                result.rounds.append((elapsed, clients))
            finally:
                for server in servers:
                    master, workers = stop_server(server)
                    result.masters_mb.append(master)
                    result.workers_mb += workers
    return results


def report(results: list[Result], args) -> None:
    print(f"{'setup / page':40} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  failures")
    figures: dict[tuple[str, str], tuple[float, float, float, float]] = {}
    for result in results:
        setup = result.setup
        names = list(dict.fromkeys(page.name for plan in setup.plans for page in plan))
        groups = {name: [name] for name in names}
        if setup.readers < len(setup.plans):
            groups["reader pages"] = list(READER_PAGES)
        groups["all"] = names
        print(
            f"{setup.name} (peak RSS: master {max(result.masters_mb):.0f} MB, workers "
            f"{min(result.workers_mb):.0f}-{max(result.workers_mb):.0f} MB)"
        )
        for group, pages in groups.items():
            per_round = [
                sum(len(c.latencies.get(p, [])) for p in pages) / elapsed
                for elapsed, c in result.rounds
            ]
            seconds = [v for _, c in result.rounds for p in pages for v in c.latencies.get(p, [])]
            rate = statistics.median(per_round)
            row = (rate, *(percentile(seconds, q) for q in (50, 95, 99)))
            figures[setup.name, group] = row
            failures: dict[str, int] = {}
            for _, c in result.rounds:
                for key, count in c.failures.items():
                    if key.split(": ")[0] in pages:
                        failures[key] = failures.get(key, 0) + count
            print(
                f"  {group:38} {row[0]:7.1f} {row[1]:8.1f} {row[2]:8.1f} {row[3]:8.1f}  "
                f"{', '.join(f'{k} x{v}' for k, v in failures.items()) or 'none'}"
            )
    by_key = {result.setup.key: result.setup.name for result in results}
    if "one" in by_key and "two" in by_key:
        one, two = by_key["one"], by_key["two"]
        print(
            "two servers / one, req/s: "
            + ", ".join(
                f"{group} {figures[two, group][0] / max(figures[one, group][0], 1e-9):.2f}"
                for (name, group) in figures
                if name == one
            )
        )
    if "alone" in by_key:
        alone, beside = figures[by_key["alone"], "all"], figures[by_key["beside"], "reader pages"]
        print(
            "the reader pages beside the searches / alone: "
            + ", ".join(
                f"{label} {b / max(a, 1e-9):.2f}x"
                for label, a, b in zip(("req/s", "p50", "p95", "p99"), alone, beside, strict=True)
            )
        )


if __name__ == "__main__":
    main()
