"""Serving benchmark: Django's runserver, gunicorn and granian serving the conversation page of a
signed-in user to 16 concurrent keep-alive clients, with DEBUG off, as `make run` serves it.

Sets up a throwaway world: a local X API (xsandbox) and a migrated database in a temp dir (or the
database of DATABASE_URL, as under scripts/with-postgres), signs @maya_reads in through the
sandbox's consent page as a browser would, syncs her messages (manage.py syncdms) and picks the
conversation at the top of her inbox. Then each server in turn is started on a free port of
127.0.0.1, warmed up, and loaded for --seconds by --clients threads, each holding one HTTP/1.1
connection open (a new one only when the server closes it). Printed for each: requests per second,
p50/p95 latency in milliseconds, the server's CPU milliseconds per request (all its processes, from
/proc: the figure that other work on a shared machine disturbs least), connections opened, and any
answer that was not a 200.

The Python client costs well under a millisecond a request against a page that costs the server
tens, so the figures are the servers' own; they share the machine's cores with it all the same.

Run: .venv/bin/python bench/serving_bench.py [--seconds 15] [--clients 16] [--servers a,b]
PostgreSQL: scripts/with-postgres .venv/bin/python bench/serving_bench.py
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
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.sandbox import Sandbox, free_port  # noqa: E402

PY = sys.executable
# Two cores: one worker process per core, threads to overlap the waits on the database.
SERVERS = {
    "runserver": [PY, "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
    "gunicorn sync 5": [
        *(
            PY,
            "-m",
            "gunicorn",
            "dmreader.wsgi",
            "--bind",
            "127.0.0.1:{port}",
            "--no-control-socket",
        ),
        *("--workers", "5"),
    ],
    "gunicorn gthread 2x4": [
        *(
            PY,
            "-m",
            "gunicorn",
            "dmreader.wsgi",
            "--bind",
            "127.0.0.1:{port}",
            "--no-control-socket",
        ),
        *("--workers", "2", "--threads", "4", "--worker-class", "gthread"),
    ],
    "gunicorn gthread 2x2": [
        *(
            PY,
            "-m",
            "gunicorn",
            "dmreader.wsgi",
            "--bind",
            "127.0.0.1:{port}",
            "--no-control-socket",
        ),
        *("--workers", "2", "--threads", "2", "--worker-class", "gthread"),
    ],
    "granian 2x4": [
        *(PY, "-m", "granian", "--interface", "wsgi", "dmreader.wsgi:application"),
        *("--port", "{port}", "--workers", "2", "--blocking-threads", "4", "--no-log"),
    ],
    "granian 2x2": [
        *(PY, "-m", "granian", "--interface", "wsgi", "dmreader.wsgi:application"),
        *("--port", "{port}", "--workers", "2", "--blocking-threads", "2", "--no-log"),
    ],
    # What `make run` starts (its server and worker counts), to re-check the pick.
    "scripts/serve": ["scripts/serve"],
}
DEFAULT = ["runserver", "gunicorn sync 5", "gunicorn gthread 2x4", "granian 2x4", "scripts/serve"]
CONVERSATION_LINK = re.compile(r'href="(/c/[^"/]+/)"')


def world(tmp: Path, port: int) -> dict[str, str]:
    """The environment of every server: production settings, this port, a fresh sandbox."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "PLAIN_HTTP": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STATIC_ROOT": str(tmp / "static"),
        "PORT": str(port),
        "PYTHON": PY,
        "X_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback/",
        "LOG_LEVEL": "WARNING",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    return env


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    args = [part.format(port=port) for part in command]
    with log.open("ab") as out:
        server = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{args[0]} exited: {log.read_text()[-2000:]}")
        try:
            # A pre-forking server listens before its workers are ready: wait for an answer.
            requests.get(f"http://127.0.0.1:{port}/", timeout=30)
            return server
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{' '.join(args)} did not answer in 60 s")


def stop(server: subprocess.Popen) -> None:
    # SIGINT: the quick shutdown of gunicorn and granian (SIGTERM waits for slow workers).
    server.send_signal(signal.SIGINT)
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def sign_in(base: str, sandbox: Sandbox, username: str) -> str:
    """The session cookie of a browser that signed `username` in through the consent page."""
    browser = requests.Session()
    authorize = browser.get(base + "/auth/login/", allow_redirects=False, timeout=10)
    back = sandbox.consent(authorize.headers["Location"], username)
    inbox = browser.get(back, timeout=30)
    assert inbox.status_code == 200, inbox.status_code
    return f"sessionid={browser.cookies['sessionid']}"


class Load:
    """`clients` threads, each GETting `path` over its own keep-alive connection until `until`."""

    def __init__(self, port: int, path: str, cookie: str):
        self.port, self.path, self.cookie = port, path, cookie
        self.latencies: list[float] = []
        self.connections = 0
        self.failures: dict[str, int] = {}
        self.cpu = 0.0  # the server's CPU seconds meanwhile
        self.lock = threading.Lock()

    def client(self, until: float) -> None:
        latencies, connections, failures = [], 0, {}
        connection = None
        while time.monotonic() < until:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connections += 1
            started = time.perf_counter()
            try:
                connection.request("GET", self.path, headers={"Cookie": self.cookie})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                connection.close()
                connection = None
                continue
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                failures[str(response.status)] = failures.get(str(response.status), 0) + 1
            if response.will_close:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
        with self.lock:
            self.latencies += latencies
            self.connections += connections
            for key, count in failures.items():
                self.failures[key] = self.failures.get(key, 0) + count

    def run(self, clients: int, seconds: float) -> float:
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=self.client, args=(until,)) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def cpu_seconds(root: int) -> float:
    """User + system CPU of `root` and every process under it (the workers), from /proc."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name (field 2) may hold spaces: split after its closing paren.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--servers", default=",".join(DEFAULT), help=f"comma-separated, of: {', '.join(SERVERS)}"
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.servers.split(",")]
    unknown = set(names) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; known: {', '.join(SERVERS)}")

    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        port = free_port()
        env = world(tmp, port)
        sandbox = Sandbox(
            tmp / "xsandbox", XSANDBOX_EXTRA_REDIRECT_URIS=env["X_REDIRECT_URI"]
        ).start()
        try:
            env.update(sandbox.urls)
            manage = [PY, "manage.py"]
            subprocess.run([*manage, "migrate", "-v0"], cwd=REPO, env=env, check=True)
            subprocess.run(
                [*manage, "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env, check=True
            )
            log = tmp / "server.log"
            server = start(SERVERS["runserver"], env, port, log)
            try:
                cookie = sign_in(f"http://127.0.0.1:{port}", sandbox, "maya_reads")
                subprocess.run(
                    [*manage, "syncdms", "--account", "@maya_reads"],
                    cwd=REPO,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                inbox = requests.get(
                    f"http://127.0.0.1:{port}/", headers={"Cookie": cookie}, timeout=30
                )
                path = CONVERSATION_LINK.search(inbox.text)[1]
            finally:
                stop(server)

            print(
                f"serving {path} (@maya_reads' newest conversation) on "
                f"{env['DATABASE_URL'].split(':')[0]}, DEBUG off: {args.clients} keep-alive "
                f"clients for {args.seconds:.0f} s after {args.warmup:.0f} s of warm-up, "
                f"{args.rounds} round(s) taking the servers in turn; {os.cpu_count()} cores, "
                f"load average {os.getloadavg()[0]:.1f} at the start"
            )
            # Rounds interleave the servers, so a machine that slows down midway (other work on
            # it) weighs on each alike; req/s is the median round, p50/p95 over all rounds.
            loads: dict[str, list[tuple[float, Load]]] = {name: [] for name in names}
            for _ in range(args.rounds):
                for name in names:
                    server = start(SERVERS[name], env, port, log)
                    try:
                        Load(port, path, cookie).run(args.clients, args.warmup)
                        load = Load(port, path, cookie)
                        cpu = cpu_seconds(server.pid)
                        elapsed = load.run(args.clients, args.seconds)
                        load.cpu = cpu_seconds(server.pid) - cpu
                        loads[name].append((elapsed, load))
                    finally:
                        stop(server)
            print(
                f"{'server':22} {'req/s':>7} {'(min-max)':>11} {'p50 ms':>7} {'p95 ms':>7} "
                f"{'cpu ms/req':>10} {'conns':>6}  failures"
            )
            for name, runs in loads.items():
                rates = [len(load.latencies) / elapsed for elapsed, load in runs]
                ms = [latency * 1000 for _, load in runs for latency in load.latencies]
                cpu_ms = 1000 * sum(load.cpu for _, load in runs) / max(len(ms), 1)
                failures: dict[str, int] = {}
                for _, load in runs:
                    for key, count in load.failures.items():
                        failures[key] = failures.get(key, 0) + count
                print(
                    f"{name:22} {statistics.median(rates):7.1f} "
                    f"{f'({min(rates):.0f}-{max(rates):.0f})':>11} {percentile(ms, 50):7.1f} "
                    f"{percentile(ms, 95):7.1f} {cpu_ms:10.1f} "
                    f"{sum(load.connections for _, load in runs):6}  "
                    f"{', '.join(f'{k}: {v}' for k, v in failures.items()) or 'none'}"
                )
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
