"""Many readers at once: 50 signed-in readers on one app server, then split over two, each reading
the inbox, a conversation and a search in turn, as production serves them (scripts/serve:
gunicorn, DEBUG off); what a second app server buys on this machine.

The cache is bench/datagen.py's (one owner with --events events in 1,000 conversations; generated
once and reused). Each reader is a session of that owner, made as a sign-in makes one (the sign-in
flow itself is tested in tests/ and timed by the scale-out run), and opens its own conversation of
the owner's 50 newest, so the readers do not all read one page. Each reader holds one keep-alive
connection to its server: readers 0, 2, 4... go to the first server, 1, 3, 5... to the second when
there are two (what a load balancer does with sticky connections).

Printed for each setup and page: requests/s, p50/p95/p99 ms and non-200 answers, then the ratio of
two servers to one. Rounds take the setups in turn, so a machine that slows midway (other work on
it) weighs on both alike. Two servers on two cores share the same cores: a ratio near 1 says the
cores, not the server, are what limits; on more cores it says what each machine added buys.

Run: .venv/bin/python bench/readers_bench.py [--events 100000] [--readers 50] [--seconds 20]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/readers_bench.py --events 1000000
"""

import argparse
import http.client
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
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
from tests.sandbox import free_port  # noqa: E402

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
    args = parser.parse_args()

    cache = datagen.use(args.events)
    from conversations.models import Conversation

    cookie = session_cookie(cache.owner)
    conversations = [
        f"/c/{x_id}/"
        for x_id in Conversation.objects.filter(owner=cache.owner)
        .order_by("-last_event_at")
        .values_list("x_id", flat=True)[: args.readers]
    ]
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    log = tmp / f"readers-bench-{os.getpid()}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "PLAIN_HTTP": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHON": sys.executable,
    }
    ports = [free_port(), free_port()]
    print(
        f"{args.readers} signed-in readers (inbox, a conversation, search '{SEARCH}' in turn) on "
        f"{env['DATABASE_URL'].split(':')[0]} with {args.events:,} cached events: scripts/serve "
        f"(gunicorn, {os.environ.get('WEB_WORKERS', os.cpu_count())} processes x "
        f"{os.environ.get('WEB_THREADS', 4)} threads a server) x 1, then x 2; {args.seconds:.0f} s "
        f"after {args.warmup:.0f} s of warm-up, {args.rounds} round(s); {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    setups = {"1 server": ports[:1], "2 servers": ports}
    results: dict[str, list[tuple[float, Readers]]] = {name: [] for name in setups}
    try:
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
    finally:
        log.unlink(missing_ok=True)

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
