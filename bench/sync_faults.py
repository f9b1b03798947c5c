"""Fault round: a full sync of @maya_reads (~6,300 events) through real `manage.py db_worker`
processes while the sandbox's faults (429, 500, 503, slow, malformed, TCP drop) are switched on
and off and the worker is killed (SIGKILL) at random moments, a new one started each time.

Checks, and prints: the cache ends equal to the sandbox's truth (every event once, its users,
media and posts), and SyncState said what really happened along the way (interrupted after each
kill, waiting after a 429, failed with a retry time after more 503s than the client retries,
up to date at the end). Too slow for the test suite (a minute or more); run:
    .venv/bin/python bench/sync_faults.py [--seed N] [--kills N]
    scripts/with-postgres .venv/bin/python bench/sync_faults.py
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="dmreader-faults-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="dmreader.settings",
    DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{WORK / 'faults.sqlite3'}",
    ALLOWED_HOSTS="testserver",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from conversations.models import DmEvent, SyncRun, SyncState  # noqa: E402
from dmreader.models import XAccount  # noqa: E402
from tests.sandbox import Sandbox  # noqa: E402
from tests.signin_helpers import sign_in  # noqa: E402
from tests.test_sync import assert_cache_equals, window_truth  # noqa: E402

LEASE_SECONDS = 3
WORKER = [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"]
# (fault, count, seconds): six 503s outlasts the client's 4 retries, so the sync fails and is
# retried after its backoff; the others are absorbed by the client's retries or end in a wait.
FAULTS = [
    ("slow", 4, 0.5),
    ("500", 2, 0),
    ("503", 6, 0),
    ("malformed", 2, 0),
    ("drop", 2, 0),
    ("429", 1, 0),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--kills", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    call_command("migrate", verbosity=0)
    # A 5-second rate-limit window: a 429 resets soon, as X's 15 minutes would, only faster.
    sandbox = Sandbox(WORK / "sandbox", XSANDBOX_RATE_LIMIT="100000/5").start()
    (WORK / "worker_settings.py").write_text(
        f"from dmreader.settings import *\nSYNC_LEASE_SECONDS = {LEASE_SECONDS}\n"
        "SYNC_RETRY_SECONDS = 2\n"
    )
    env = {
        **os.environ,
        **sandbox.urls,
        "DJANGO_SETTINGS_MODULE": "worker_settings",
        "PYTHONPATH": os.pathsep.join([str(WORK), str(REPO)]),
    }
    workers: list[subprocess.Popen] = []
    try:
        for name, value in sandbox.urls.items():
            setattr(settings, name, value)
        sign_in(Client(), sandbox, "maya_reads")  # queues the first sync
        maya = XAccount.objects.get(username="maya_reads").user
        truth = window_truth(sandbox)
        started = time.monotonic()
        seen: list[str] = []
        faults = list(FAULTS)
        rng.shuffle(faults)
        kills_left = args.kills

        def watch() -> SyncState:
            # None until the worker takes the first sync (signing in only queues it).
            state = SyncState.objects.filter(owner=maya).first() or SyncState(owner=maya)
            shown = state.shown_status
            if state.status == SyncState.FAILED:
                shown += f" (retry at {state.retry_at:%H:%M:%S}: {state.last_error})"
            elif state.status == SyncState.WAITING and shown != SyncState.INTERRUPTED:
                shown += f" (until {state.retry_at:%H:%M:%S})"
            if not seen or seen[-1] != shown:
                seen.append(shown)
                print(f"  {time.monotonic() - started:6.1f} s  {state.pages:3d} pages  {shown}")
            return state

        workers.append(_worker(env))
        pages_at_start = 0
        next_event = time.monotonic() + rng.uniform(1, 3)
        while True:
            state = watch()
            if state.status == SyncState.IDLE and not state.pass_token and state.backfill_complete:
                break
            assert time.monotonic() - started < 600, "the fault round did not finish in 10 min"
            if time.monotonic() >= next_event:
                # Kill mid-sync: once the worker has stored a page or two since it started.
                mid_sync = state.pages >= pages_at_start + 2
                if kills_left and mid_sync and (not faults or rng.random() < 0.5):
                    kills_left -= 1
                    print(f"  {time.monotonic() - started:6.1f} s  SIGKILL the worker")
                    workers[-1].send_signal(signal.SIGKILL)
                    workers[-1].wait()
                    killed = time.monotonic()
                    # A worker killed while it held the account: within the lease, the person
                    # is told. (One killed before it took a task leaves the task queued.)
                    while watch().lease_until and watch().shown_status != SyncState.INTERRUPTED:
                        assert time.monotonic() - killed < LEASE_SECONDS + 5, "still 'running'"
                        time.sleep(0.05)
                    workers.append(_worker(env))
                    pages_at_start = watch().pages
                elif faults:
                    kind, count, seconds = faults.pop()
                    print(f"  {time.monotonic() - started:6.1f} s  fault: {kind} x {count}")
                    sandbox.fault("maya_reads", kind, count=count, seconds=seconds)
                next_event = time.monotonic() + rng.uniform(1, 4)
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        sandbox.clear_faults("maya_reads")

        assert_cache_equals(maya, truth)
        events = DmEvent.objects.filter(owner=maya).count()
        outcomes = Counter(SyncRun.objects.filter(owner=maya).values_list("outcome", flat=True))
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print(f"full sync of @maya_reads under faults: {elapsed:.1f} s")
        print(f"  cache equals the sandbox's truth: {events:,} events, each once")
        print(f"  worker kills: {args.kills - kills_left}, faults: {len(FAULTS) - len(faults)}")
        print(f"  sync runs by outcome: {dict(outcomes)}")
        assert "" not in outcomes, "a sync run left without an outcome"
        shown = {s.split(" ")[0] for s in seen}
        expected = {"running", "interrupted", "waiting", "failed", "idle"}
        missing = expected - shown
        print(f"  statuses shown: {' → '.join(seen)}")
        print(
            f"  every expected status shown: {'yes' if not missing else f'no, missing {missing}'}"
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
        sandbox.stop()


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [*WORKER, "--interval", "0.2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


if __name__ == "__main__":
    main()
