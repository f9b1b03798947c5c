"""Many readers at once: 50 signed-in readers on one app server, then split over two, each reading
the inbox, a conversation and a search in turn, as production serves them (scripts/serve:
gunicorn, DEBUG off); what a second app server buys on this machine.

The cache is bench/datagen.py's (one owner with --events events in 1,000 conversations; generated
once and reused). Each reader is a session of that owner, made as a sign-in makes one (the sign-in
flow itself is tested in tests/ and timed by the scale-out run), and opens its own conversation of
the owner's 50 newest, so the readers do not all read one page. Each reader holds one keep-alive
connection to its server: readers 0, 2, 4... go to the first server, 1, 3, 5... to the second when
there are two (what a load balancer does with sticky connections).

With --syncing N (default 2), N task workers (scripts/worker) sync all the while: a sandbox's
@maya_reads is signed in to the same database and a full sync of her ~4,000 messages is asked
for again as soon as the last one ends, so the readers share the database with the writes of
syncs.

The bench reads and writes a copy of the cache: the kept one stays as datagen made it.

Printed for each setup and page: requests/s, p50/p95/p99 ms and non-200 answers, then the ratio of
two servers to one. Rounds take the setups in turn, so a machine that slows midway (other work on
it) weighs on both alike. Two servers on two cores share the same cores: a ratio near 1 says the
cores, not the server, are what limits; on more cores it says what each machine added buys.

Run: .venv/bin/python bench/readers_bench.py [--events 100000] [--readers 50] [--seconds 20]
     [--syncing 2]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/readers_bench.py --events 1000000
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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

PAGES = ("inbox", "conversation", "search")
SEARCH = "coffee"  # a word of the cache's common vocabulary: thousands of matches
CONVERSATION_LINK = re.compile(r'href="(/c/[^"/]+/)"')


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


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class Readers:
    """Each reader: one thread, one keep-alive connection, the three pages in turn until `until`."""

    def __init__(self, ports: list[int], cookie: str, conversations: list[str]):
        self.ports, self.cookie, self.conversations = ports, cookie, conversations
        self.latencies: dict[str, list[float]] = {page: [] for page in PAGES}
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()

    def reader(self, index: int, until: float) -> None:
        port = self.ports[index % len(self.ports)]
        paths = {
            "inbox": "/",
            "conversation": self.conversations[index % len(self.conversations)],
            "search": f"/search/?q={SEARCH}",
        }
        latencies = {page: [] for page in PAGES}
        failures: dict[str, int] = {}
        connection, turn = None, index  # readers start on different pages
        while time.monotonic() < until:
            page = PAGES[turn % len(PAGES)]
            turn += 1
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            started = time.perf_counter()
            try:
                connection.request("GET", paths[page], headers={"Cookie": self.cookie})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                connection.close()
                connection = None
                continue
            latencies[page].append(time.perf_counter() - started)
            if response.status != 200:
                failures[f"{page} {response.status}"] = (
                    failures.get(f"{page} {response.status}", 0) + 1
                )
            if response.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
        with self.lock:
            for page in PAGES:
                self.latencies[page] += latencies[page]
            for key, count in failures.items():
                self.failures[key] = self.failures.get(key, 0) + count

    def run(self, readers: int, seconds: float) -> float:
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=self.reader, args=(i, until)) for i in range(readers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if values else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--syncing", type=int, default=2, help="task workers syncing meanwhile (0: none)"
    )
    args = parser.parse_args()

    cache = datagen.use(args.events)
    tmp = Path(tempfile.mkdtemp(prefix="readers-bench-"))
    sandbox, workers, stop_syncing = None, [], threading.Event()
    try:
        private_copy(tmp)  # sessions and syncs write to it
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
    report(results)


def measure(args, cache, env: dict, log: Path) -> dict[str, list[tuple[float, Readers]]]:
    from conversations.models import Conversation

    cookie = session_cookie(cache.owner)
    conversations = [
        f"/c/{x_id}/"
        for x_id in Conversation.objects.filter(owner=cache.owner)
        .order_by("-last_event_at")
        .values_list("x_id", flat=True)[: args.readers]
    ]
    ports = [free_port(), free_port()]
    print(
        f"{args.readers} signed-in readers (inbox, a conversation, search '{SEARCH}' in turn) on "
        f"{env['DATABASE_URL'].split(':')[0]} with {args.events:,} cached events: scripts/serve "
        f"(gunicorn, {os.environ.get('WEB_WORKERS', os.cpu_count())} processes x "
        f"{os.environ.get('WEB_THREADS', 4)} threads a server) x 1, then x 2; {args.seconds:.0f} s "
        f"after {args.warmup:.0f} s of warm-up, {args.rounds} round(s); "
        + (
            f"{args.syncing} task workers syncing @maya_reads meanwhile"
            if args.syncing
            else "nothing syncing meanwhile"
        )
        + f"; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    setups = {"1 server": ports[:1], "2 servers": ports}
    results: dict[str, list[tuple[float, Readers]]] = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, used in setups.items():
            servers = [start_server(port, env, log) for port in used]
            try:
                Readers(used, cookie, conversations).run(args.readers, args.warmup)
                readers = Readers(used, cookie, conversations)
                elapsed = readers.run(args.readers, args.seconds)
                results[name].append((elapsed, readers))
            finally:
                for server in servers:
                    stop_server(server)
    return results


def report(results: dict[str, list[tuple[float, Readers]]]) -> None:
    print(
        f"{'setup':10} {'page':13} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  failures"
    )
    rates: dict[str, float] = {}
    for name, runs in results.items():
        for page in [*PAGES, "all"]:
            pages = PAGES if page == "all" else (page,)
            per_round = [sum(len(r.latencies[p]) for p in pages) / elapsed for elapsed, r in runs]
            ms = [v for _, r in runs for p in pages for v in r.latencies[p]]
            rate = statistics.median(per_round)
            rates[f"{name} {page}"] = rate
            failures: dict[str, int] = {}
            for _, r in runs:
                for key, count in r.failures.items():
                    if page == "all" or key.startswith(page):
                        failures[key] = failures.get(key, 0) + count
            print(
                f"{name:10} {page:13} {rate:7.1f} {percentile(ms, 50):8.1f} "
                f"{percentile(ms, 95):8.1f} {percentile(ms, 99):8.1f}  "
                f"{', '.join(f'{k}: {v}' for k, v in failures.items()) or 'none'}"
            )
    print(
        "two servers / one, req/s: "
        + ", ".join(
            f"{page} {rates[f'2 servers {page}'] / max(rates[f'1 server {page}'], 1e-9):.2f}"
            for page in [*PAGES, "all"]
        )
    )


if __name__ == "__main__":
    main()
