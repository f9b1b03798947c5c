"""The scale-out run (issue 14): DM Reader run as a family, a newsroom or a host would run it, on
this machine, and what that shows.

`scripts/scaleout` (`make scaleout`; CI runs it after the pytest runs) starts it on a throwaway
PostgreSQL 15 (scripts/with-postgres). It starts the sandbox with a crowd of accounts
(xsandbox/crowd.py) at X's per-account rate limit of today's tier (15 requests / 15 min), two app
servers (scripts/serve, gunicorn), three workers (scripts/worker) and two schedulers
(scripts/scheduler): the scripts compose.yaml starts, with the settings it passes. Then it signs
every account in over HTTP through the real OAuth 2.0 PKCE flow (the consent page, the callback),
each starting on one server and coming back to the other, and shows:

- every account's cache equals the sandbox's ground truth, with no event twice;
- no account was ever synced by two workers at once: the stored sync runs of each account never
  overlap;
- a worker killed with SIGKILL in the middle of a sync loses nothing: its account's sync is
  resumed by another worker once the lease runs out, and ends complete like every other;
- the figures: first syncs per minute, then accounts synced per minute with every account due
  again each SYNC_INTERVAL_SECONDS, beside the floor X's per-account rate limit sets, the
  workers' busy share, how long tasks waited in the queue, and the queue's age at the end.

It prints what it checks and exits 1 if a check failed. Never asserts on time: the figures are
printed for a reader to judge (they depend on the machine and whatever else runs on it).
Usage: scripts/scaleout [--crowd 300] [--workers 3] [--schedulers 2] [--steady 45]
"""

import argparse
import concurrent.futures
import itertools
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

from tests.sandbox import _ACCOUNT as CONSENT_ACCOUNT
from tests.sandbox import REPO, Sandbox, free_port

# X's per-account limit on the DM lookup endpoints in today's lower paid tier (README, docs/x-api.md).
X_LIMIT, X_WINDOW_SECONDS = 15, 900
# Accounts of the seeded world signed in beside the crowd: one with a few hundred messages, one
# with none. (@maya_reads is left out: her first sync needs about 45 requests, three of X's
# windows at this limit, and would hold the run up for half an hour.)
SEEDED = ("jonas_k", "quiet_quinn")
LEFT_OUT = "maya_reads"
# How long a killed worker's lease outlives it (60 s in production): recovery within the run.
LEASE_SECONDS = 10
# X's window of /2/dm_events (conversations/sync.py).
X_HISTORY = timedelta(days=30)


def say(message: str = "") -> None:
    print(message, flush=True)


class Fleet:
    """The processes of the run, each with its log; all stopped at the end, whatever happened."""

    def __init__(self, logs: Path, env: dict):
        self.logs, self.env = logs, env
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the run reaches them through stop(), in order
        )
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def exited(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def tail(self, name: str, chars: int = 2000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class Checks:
    def __init__(self):
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        say(f"  {'ok  ' if ok else 'FAIL'}  {what}" + (f": {detail}" if detail and not ok else ""))
        if not ok:
            self.failed.append(what)
        return ok


def wait_for(condition, *, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Run:
    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.args, self.tmp = args, tmp
        self.checks = Checks()
        (tmp / "logs").mkdir()
        self.ports = [free_port() for _ in range(2)]
        self.servers = [f"http://127.0.0.1:{port}" for port in self.ports]
        # The workers' and servers' settings: the production ones, with a short lease.
        (tmp / "scaleout_settings.py").write_text(
            f"from dmreader.settings import *  # noqa: F403\nSYNC_LEASE_SECONDS = {LEASE_SECONDS}\n"
        )
        # Every account due again as often as X's limit lets a background sync run: 15 requests
        # per 15 minutes, less the 3 a sync leaves for the conversation a person is reading
        # (xapi.Budget.reserve): 12 one-request syncs per window, one every 75 seconds.
        self.background_per_window = X_LIMIT - min(3, X_LIMIT // 5)
        self.interval = X_WINDOW_SECONDS // self.background_per_window
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "scaleout_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp), str(REPO)]),
            "PYTHON": sys.executable,
            "DEBUG": "false",
            "PLAIN_HTTP": "true",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SYNC_INTERVAL_SECONDS": str(self.interval),
            "MEDIA_CACHE_DIR": str(tmp / "media-cache"),
            "X_REDIRECT_URI": f"{self.servers[0]}/auth/callback/",
        }
        self.fleet = Fleet(tmp / "logs", self.env)
        self.sandbox: Sandbox | None = None
        self.accounts: list[str] = []
        self.truth: dict[str, dict] = {}
        self.worker_ids: dict[str, str] = {}  # worker id -> process name
        self.killed: dict = {}

    # Setting up ---------------------------------------------------------------------------------

    def set_up(self) -> None:
        t = time.monotonic()
        # The sandbox seeds its crowd while the database is migrated.
        self.sandbox = Sandbox(
            self.tmp / "sandbox",
            XSANDBOX_CROWD=str(self.args.crowd),
            XSANDBOX_RATE_LIMIT=f"{X_LIMIT}/{X_WINDOW_SECONDS}",
        )
        started = concurrent.futures.ThreadPoolExecutor(1).submit(self.sandbox.start, 300)
        os.environ.update(self.env)
        sys.path.insert(0, str(self.tmp))  # scaleout_settings, as PYTHONPATH gives the others
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        started.result()
        self.fleet.env.update(self.sandbox.urls)
        self.sandbox.register_redirect_uri(self.env["X_REDIRECT_URI"])
        say(
            f"set up in {time.monotonic() - t:.1f} s: PostgreSQL migrated, the sandbox seeded with "
            f"{self.args.crowd} more accounts at X's limit of {X_LIMIT} requests / "
            f"{X_WINDOW_SECONDS // 60} min per account"
        )
        t = time.monotonic()
        for i, port in enumerate(self.ports):
            self.fleet.start(f"web{i + 1}", ["scripts/serve"], PORT=str(port))
        for i in range(self.args.workers):
            self.start_worker(f"worker{i + 1}")
        for i in range(self.args.schedulers):
            self.fleet.start(f"scheduler{i + 1}", ["scripts/scheduler"])
        for server in self.servers:
            wait_for(
                lambda server=server: self._healthy(server), timeout=120, what=f"{server}/healthz"
            )
        # Who can sign in: every account X's consent page offers (the crowd and the seeded
        # ones), but the one left out above.
        login = requests.get(f"{self.servers[0]}/auth/login/", allow_redirects=False, timeout=30)
        page = requests.get(login.headers["Location"], timeout=30).text
        offered = [m["username"] for m in CONSENT_ACCOUNT.finditer(page)]
        self.accounts = [*SEEDED, *(u for u in offered if u not in (*SEEDED, LEFT_OUT))]
        if len(self.accounts) != self.args.crowd + len(SEEDED):
            raise RuntimeError(f"X's consent page offers {len(offered)} accounts: {offered[:5]}...")
        say(
            f"started in {time.monotonic() - t:.1f} s: 2 app servers (scripts/serve: gunicorn, "
            f"{os.cpu_count()} processes x 4 threads each) on ports {self.ports[0]} and "
            f"{self.ports[1]}, {self.args.workers} workers (scripts/worker), "
            f"{self.args.schedulers} schedulers (scripts/scheduler); SYNC_INTERVAL_SECONDS="
            f"{self.interval}, lease {LEASE_SECONDS} s"
        )

    def start_worker(self, name: str) -> None:
        worker_id = f"scaleout-{name}-{secrets.token_hex(3)}"
        self.worker_ids[worker_id] = name
        self.fleet.start(name, ["scripts/worker", "--worker-id", worker_id])

    @staticmethod
    def _healthy(server: str) -> bool:
        try:
            return requests.get(f"{server}/healthz", timeout=10).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # still starting
            return False

    def fetch_truth(self) -> None:
        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = pool.map(lambda u: self.sandbox.admin("GET", f"truth/{u}"), self.accounts)
            self.truth = dict(zip(self.accounts, answers, strict=True))
        events = sum(len(t["events"]) for t in self.truth.values())
        say(
            f"ground truth of {len(self.accounts)} accounts read from the sandbox in "
            f"{time.monotonic() - t:.1f} s: {events} events in their inboxes, some older than "
            "X's 30 days"
        )

    def sandbox_now(self) -> datetime:
        return datetime.fromisoformat(self.sandbox.admin("GET", "clock")["now"])

    # Signing in ---------------------------------------------------------------------------------

    def sign_in(self, index: int, username: str) -> None:
        """A person pressing "Sign in with X" on one server, approving on X's consent page, and
        coming back to the other server (the load balancer's choice): sessions live in the
        database, so either server finishes what the other began."""
        start, back = self.servers[index % 2], self.servers[(index + 1) % 2]
        browser = requests.Session()
        for attempt in range(3):
            try:
                login = browser.get(f"{start}/auth/login/", allow_redirects=False, timeout=30)
                assert login.status_code == 302, login.status_code
                callback = self.sandbox.consent(login.headers["Location"], username)
                parts = urlsplit(callback)
                done = browser.get(
                    f"{back}{parts.path}?{parts.query}", allow_redirects=False, timeout=60
                )
                assert done.status_code == 302, (done.status_code, done.text[:300])
                inbox = browser.get(f"{back}/", timeout=60)
                assert inbox.status_code == 200 and f"@{username}" in inbox.text
                return
            except (requests.ConnectionError, requests.Timeout):
                if attempt == 2:
                    raise
                time.sleep(1)

    def sign_everyone_in(self) -> tuple[float, float]:
        """The first account (the one whose sync will be killed) signs in alone, then the rest, 8
        at a time. Returns when the first started and how long all took."""
        say(f"\nsigning in {len(self.accounts)} accounts over HTTP (OAuth 2.0 PKCE, both servers)")
        began = time.monotonic()
        self.first_signin_at = self.sandbox_now()
        self.sign_in(0, self.victim)
        self.kill_thread = threading.Thread(target=self.kill_mid_sync, daemon=True)
        self.kill_thread.start()
        others = [u for u in self.accounts if u != self.victim]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(self.sign_in, range(1, len(others) + 1), others))
        took = time.monotonic() - began
        say(f"  {len(self.accounts)} signed in in {took:.1f} s ({len(self.accounts) / took:.1f}/s)")
        return began, took

    # The killed worker --------------------------------------------------------------------------

    def choose_victim(self) -> None:
        """The crowd account with the longest history: its first sync takes several pages, and
        each page a second (the sandbox's "slow" fault), so there is a middle to kill it in."""
        crowd = [u for u in self.accounts if u not in SEEDED]
        self.victim = max(crowd, key=lambda u: len(self.window(self.truth[u], self.sandbox_now())))
        self.accounts.remove(self.victim)
        self.accounts.insert(0, self.victim)
        self.sandbox.fault(self.victim, "slow", count=None, seconds=1.0)

    def kill_mid_sync(self) -> None:
        from conversations.models import SyncState
        from conversations.tasks import SYNC_TASKS
        from dmreader.models import XAccount

        try:
            owner = wait_for(
                lambda: (
                    XAccount.objects.filter(username=self.victim)
                    .values_list("user_id", flat=True)
                    .first()
                ),
                timeout=60,
                what="the first account",
                every=0.05,
            )

            def running_task():
                from django_tasks_db.models import DBTaskResult

                state = SyncState.objects.filter(owner_id=owner).first()
                if state is None or state.pages < 1 or not state.pass_token:
                    return None
                return DBTaskResult.objects.filter(
                    status="RUNNING", task_path__in=SYNC_TASKS, args_kwargs__args__0=owner
                ).first()

            task = wait_for(running_task, timeout=120, what="its sync's first page", every=0.05)
            worker = self.worker_ids[task.worker_ids[-1]]
            pages = SyncState.objects.get(owner_id=owner).pages
            self.fleet.kill(worker)
            self.killed = {
                "owner": owner,
                "worker": worker,
                "worker_id": task.worker_ids[-1],
                "task": task.pk,
                "pages": pages,
                "at": time.monotonic(),
            }
            self.sandbox.clear_faults(self.victim)
            # As compose's restart policy would: a new worker in its place.
            self.start_worker(f"{worker}-replacement")
        except Exception:  # reported as a failed check, not lost in a thread
            self.killed = {"error": traceback.format_exc()}

    # Waiting for the syncs ----------------------------------------------------------------------

    def all_synced(self) -> bool:
        from conversations.models import SyncState

        owners = self.owners()
        done = SyncState.objects.filter(
            owner_id__in=owners.values(),
            last_success_at__isnull=False,
            status=SyncState.IDLE,
            pass_token="",
            lease_until__isnull=True,
        ).count()
        return len(owners) == len(self.accounts) and done == len(self.accounts)

    def owners(self) -> dict[str, int]:
        from dmreader.models import XAccount

        return dict(
            XAccount.objects.filter(username__in=self.accounts).values_list("username", "user_id")
        )

    # Checks -------------------------------------------------------------------------------------

    @staticmethod
    def window(truth: dict, now: datetime) -> list[dict]:
        return [
            e for e in truth["events"] if datetime.fromisoformat(e["created_at"]) >= now - X_HISTORY
        ]

    def check_caches(self) -> None:
        """Every account's cache is the sandbox's ground truth: each event X's 30-day window held
        throughout the run, none it never held, each exactly as X sent it, none twice."""
        from django.db.models import Count

        from conversations import store
        from conversations.models import DmEvent, Media, UnstoredEvent

        checked_at = self.sandbox_now()
        owners = self.owners()
        problems, band, total = [], 0, 0
        for username in self.accounts:
            owner = owners[username]
            truth = self.truth[username]
            required = {e["id"] for e in self.window(truth, checked_at)}
            allowed = {e["id"]: e for e in self.window(truth, self.first_signin_at)}
            band += len(allowed) - len(required)
            rows = list(
                DmEvent.objects.filter(owner_id=owner).values_list(
                    "x_id", "raw", "conversation__x_id"
                )
            )
            cached = {x_id for x_id, _, _ in rows}
            total += len(rows)
            twice = (
                DmEvent.objects.filter(owner_id=owner)
                .values("x_id")
                .annotate(n=Count("pk"))
                .filter(n__gt=1)
            )
            if len(cached) != len(rows) or twice.exists():
                problems.append(f"@{username}: an event cached twice")
            if not required <= cached:
                aside = UnstoredEvent.objects.filter(owner_id=owner)
                reason = aside.values_list("reason", flat=True).first() or ""
                problems.append(
                    f"@{username}: {len(required - cached)} events missing "
                    f"({aside.count()} set aside{': ' + reason[:200] if reason else ''})"
                )
            if not cached <= set(allowed):
                problems.append(f"@{username}: {len(cached - set(allowed))} events X never sent")
            for x_id, raw, conversation in rows:
                expected = allowed.get(x_id)
                if expected is not None and (
                    store.as_sent(raw) != expected or conversation != expected["dm_conversation_id"]
                ):
                    problems.append(f"@{username}: event {x_id} differs from what X sent")
                    break
            keys = {
                k
                for x_id in cached & set(allowed)
                for k in allowed[x_id].get("attachments", {}).get("media_keys", [])
            }
            media = set(Media.objects.filter(owner_id=owner).values_list("media_key", flat=True))
            if media != keys:
                problems.append(f"@{username}: media {len(media)} cached, {len(keys)} sent")
        self.checks.check(
            not problems,
            f"every account's cache equals the sandbox's ground truth ({len(self.accounts)} "
            f"accounts, {total} events, none twice"
            + (f"; {band} near the edge of X's 30 days during the run" if band else "")
            + ")",
            "; ".join(problems[:10]),
        )

    def check_runs_never_overlap(self) -> None:
        """No account synced by two workers at once: each account's inbox sync runs, as stored,
        follow one another (a run ends, by itself or marked interrupted by the sync that took the
        lease over, before the next begins)."""
        from conversations.models import SyncRun

        runs = defaultdict(list)
        for owner, kind, started, finished in (
            SyncRun.objects.exclude(kind="conversation")
            .order_by("owner_id", "started_at")
            .values_list("owner_id", "kind", "started_at", "finished_at")
        ):
            runs[owner].append((started, finished))
        overlaps, open_runs = [], 0
        for owner, intervals in runs.items():
            # The newest run may be under way now (always-on sync goes on); no other is open.
            open_runs += sum(1 for _, finished in intervals[:-1] if finished is None)
            for (_, finished), (started, _) in itertools.pairwise(intervals):
                if finished is None or started < finished:
                    overlaps.append(owner)
                    break
        count = sum(len(v) for v in runs.values())
        under_way = sum(1 for v in runs.values() if v[-1][1] is None)
        self.checks.check(
            not overlaps and open_runs == 0,
            f"no account synced by two workers at once ({count} sync runs of {len(runs)} "
            f"accounts, none overlapping another of its account; {under_way} under way)",
            f"{len(overlaps)} accounts with overlapping runs, {open_runs} left open",
        )
        self.run_count = count

    def check_killed_worker(self) -> None:
        from django_tasks_db.models import DBTaskResult

        from conversations.models import SyncRun
        from conversations.tasks import SYNC_TASKS

        if "error" in self.killed or not self.killed:
            self.checks.check(False, "a worker killed mid-sync", self.killed.get("error", "never"))
            return
        owner = self.killed["owner"]
        runs = list(
            SyncRun.objects.filter(owner_id=owner)
            .exclude(kind="conversation")
            .order_by("started_at")
            .values_list("outcome", flat=True)
        )
        dead = DBTaskResult.objects.get(pk=self.killed["task"])
        later = DBTaskResult.objects.filter(
            task_path__in=SYNC_TASKS,
            args_kwargs__args__0=owner,
            status="SUCCESSFUL",
            started_at__gt=dead.started_at,
        )
        by = {self.worker_ids.get(w, w) for t in later for w in t.worker_ids[-1:]}
        self.checks.check(
            runs[:1] == ["interrupted"]
            and "idle" in runs[1:]
            and dead.status == "FAILED"
            and dead.exception_class_path == "conversations.tasks.WorkerDied"
            and bool(by)
            and self.killed["worker"] not in by,
            f"{self.killed['worker']} killed with SIGKILL after page {self.killed['pages']} of "
            f"@{self.victim}'s first sync: its run recorded interrupted, its task failed "
            f"(WorkerDied), and {', '.join(sorted(by)) or 'no one'} finished the sync (runs: "
            f"{', '.join(runs)}); the cache check above covers it",
        )

    def check_health(self) -> None:
        body = requests.get(f"{self.servers[1]}/healthz?processes=1", timeout=10).json()
        processes = body.get("processes", {})
        stale = [p["name"] for p in processes.get("worker", {}).get("stale", [])]
        killed = self.killed.get("worker_id")
        self.checks.check(
            body.get("status") == "ok" and stale == [killed],
            f"/healthz?processes=1 says {body.get('status')}: "
            + ", ".join(f"{v.get('running')} {k}s beating" for k, v in processes.items())
            + f", stale: {', '.join(stale) or 'none'} (the killed one)",
            str(body),
        )

    # Figures ------------------------------------------------------------------------------------

    def figures(self, first_sync: tuple[float, float, int], steady: dict) -> None:
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult, get_date_max

        elapsed, requests_made, accounts = first_sync
        say("\nfigures")
        say(
            f"  first syncs: {accounts} accounts signed in and synced in {elapsed:.1f} s = "
            f"{accounts / elapsed * 60:.0f} accounts/min ({requests_made} requests to X, "
            f"{requests_made / accounts:.1f} an account; signing in took {self.signin_took:.1f} s"
            " of it)"
        )
        floor = len(self.accounts) * self.background_per_window / (X_WINDOW_SECONDS / 60)
        say(
            f"  always-on sync, every account due every {self.interval} s for {steady['seconds']:.0f}"
            f" s: {steady['synced']} syncs = {steady['per_minute']:.0f} accounts synced/min"
        )
        say(
            f"  the floor X's per-account limit sets: {X_LIMIT} requests / {X_WINDOW_SECONDS // 60}"
            f" min, less {X_LIMIT - self.background_per_window} kept for reading, is "
            f"{self.background_per_window} one-request syncs an account per window: "
            f"{len(self.accounts)} accounts x {self.background_per_window}/"
            f"{X_WINDOW_SECONDS // 60} min = {floor:.0f} accounts/min at most "
            f"(measured / floor = {steady['per_minute'] / floor:.2f})"
        )
        say(
            f"  workers busy {steady['busy']:.0%} of that time ({steady['workers']} workers): "
            f"the fleet, not X, has room for about {steady['per_minute'] / max(steady['busy'], 0.01):.0f}"
            " syncs/min"
        )
        # How long tasks waited from when they were due (run_after; for a task queued to run at
        # once, when it was queued) until a worker took them, syncs and check-backs apart.
        never = get_date_max()
        for what, (start, end) in (
            ("signing in, first syncs", self.burst),
            ("always-on sync", (steady["start"], steady["end"])),
        ):
            waits = defaultdict(list)
            for path, started, due, queued in DBTaskResult.objects.filter(
                started_at__gte=start, started_at__lt=end
            ).values_list("task_path", "started_at", "run_after", "enqueued_at"):
                kind = "check-backs" if path.endswith("resume_sync") else "syncs"
                waits[kind].append((started - (queued if due == never else due)).total_seconds())
            say(
                f"  tasks' wait from due to started, {what}: "
                + "; ".join(
                    f"{len(w)} {kind}, p50 {statistics.median(w):.2f} s, p95 "
                    f"{sorted(w)[int(len(w) * 0.95)]:.2f} s, max {max(w):.2f} s"
                    for kind, w in sorted(waits.items(), reverse=True)
                )
            )
        now = timezone.now()
        ready = DBTaskResult.objects.filter(status="READY")
        due = ready.filter(run_after__lte=now)
        oldest = due.order_by("run_after").values_list("run_after", flat=True).first()
        age = (now - oldest).total_seconds() if oldest else 0.0
        say(
            f"  the queue at the end: {due.count()} tasks due, the oldest due {age:.1f} s ago; "
            f"{ready.filter(run_after__gt=now).count()} check-backs and retries waiting for "
            f"their time; {DBTaskResult.objects.filter(status='RUNNING').exclude(pk=self.killed.get('task')).count()}"
            " running"
        )
        say(f"  the queue's age sampled through the steady part: max {steady['max_age']:.1f} s")

    def steady(self) -> dict:
        """Always-on sync as it runs from now on: the schedulers enqueue each account every
        interval; count the syncs that end in a window, and how busy the workers were."""
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from conversations.models import SyncRun

        seconds = self.args.steady
        say(f"\nalways-on sync for {seconds} s (the schedulers at work)")
        start = timezone.now()
        max_age = 0.0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = timezone.now()
            oldest = (
                DBTaskResult.objects.filter(status="READY", run_after__lte=now)
                .order_by("run_after")
                .values_list("run_after", flat=True)
                .first()
            )
            if oldest:
                max_age = max(max_age, (now - oldest).total_seconds())
            time.sleep(1)
        end = timezone.now()
        synced = SyncRun.objects.filter(
            kind="inbox", outcome="idle", finished_at__gt=start, finished_at__lte=end
        ).count()
        busy = 0.0
        for started, finished in DBTaskResult.objects.filter(
            started_at__lt=end, finished_at__gt=start
        ).values_list("started_at", "finished_at"):
            busy += (min(finished, end) - max(started, start)).total_seconds()
        workers = self.args.workers
        window = (end - start).total_seconds()
        return {
            "start": start,
            "end": end,
            "seconds": window,
            "synced": synced,
            "per_minute": synced / window * 60,
            "busy": busy / (workers * window),
            "workers": workers,
            "max_age": max_age,
        }

    # The run ------------------------------------------------------------------------------------

    def go(self) -> int:
        t0 = time.monotonic()
        self.set_up()
        self.fetch_truth()
        self.choose_victim()
        from django.utils import timezone

        burst_start = timezone.now()
        began, self.signin_took = self.sign_everyone_in()
        say("\nwaiting until every account is synced")
        wait_for(self.all_synced, timeout=600, what="every account synced", every=1)
        self.burst = (burst_start, timezone.now())
        self.kill_thread.join(60)
        elapsed = time.monotonic() - began
        from conversations.models import SyncRun

        requests_made = sum(SyncRun.objects.values_list("requests_made", flat=True))
        say(f"  all {len(self.accounts)} synced {elapsed:.1f} s after the first sign-in")
        steady = self.steady()
        say("\nchecks")
        self.check_caches()
        self.check_runs_never_overlap()
        self.check_killed_worker()
        gone = [n for n in self.fleet.exited() if n != self.killed.get("worker")]
        self.checks.check(not gone, "every other process still running", ", ".join(gone))
        self.check_health()
        self.figures((elapsed, requests_made, len(self.accounts)), steady)
        say(
            f"\nscale-out run: {'all checks passed' if not self.checks.failed else 'FAILED: ' + '; '.join(self.checks.failed)}"
            f" in {time.monotonic() - t0:.0f} s"
        )
        if self.checks.failed:
            for name in self.fleet.processes:
                say(f"--- {name}.log (end)\n{self.fleet.tail(name)}")
        return 1 if self.checks.failed else 0

    def stop(self) -> None:
        self.fleet.stop()
        if self.sandbox is not None:
            self.sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/scaleout", description=__doc__.split("\n")[0])
    parser.add_argument("--crowd", type=int, default=300, help="accounts the sandbox adds")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--steady", type=float, default=45, help="seconds of always-on sync")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        say("the scale-out run needs PostgreSQL: run it through scripts/scaleout")
        return 2
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        run = Run(args, Path(tmp))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            return run.go()
        except Exception:
            traceback.print_exc()
            for name in run.fleet.processes:
                say(f"--- {name}.log (end)\n{run.fleet.tail(name)}")
            return 1
        finally:
            run.stop()


if __name__ == "__main__":
    sys.exit(main())
