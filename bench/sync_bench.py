"""Sync benchmark: a full sync of the demo account from a local sandbox over HTTP.

Prints events ingested per second, requests per event, and how the time splits between waiting
on HTTP and our own code, beside a floor measured in the same run: fetching the same pages and
parsing them (xapi.parse_dm_page) with no storing at all, so sync/floor is the cost of the store. Run: .venv/bin/python bench/sync_bench.py [--runs N]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WORK = Path(tempfile.mkdtemp(prefix="dmreader-bench-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="dmreader.settings",
    DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{WORK / 'bench.sqlite3'}",
    ALLOWED_HOSTS="testserver",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from conversations import sync, xapi  # noqa: E402
from conversations.models import DmEvent  # noqa: E402
from dmreader import xauth  # noqa: E402
from dmreader.models import XAccount  # noqa: E402
from tests.sandbox import Sandbox  # noqa: E402
from tests.signin_helpers import sign_in  # noqa: E402


def timed_http():
    """Wrap xapi.get to add up the time spent waiting on X."""
    spent = {"seconds": 0.0}
    original = xapi.get

    def get(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["seconds"] += time.perf_counter() - started

    xapi.get = get
    return spent, original


def fetch_only(account_id: int) -> tuple[float, int]:
    """The floor: every page of /2/dm_events, fetched and parsed, nothing stored."""
    token = xauth.fresh_access_token(account_id)
    http = xapi.session()
    started, pages, cursor = time.perf_counter(), 0, ""
    while True:
        answer = xapi.get(
            xapi.all_events_path(), token=token, params=xapi.dm_events_params(cursor), http=http
        )
        pages += 1
        cursor = xapi.parse_dm_page(answer.body).next_token
        if not cursor:
            return time.perf_counter() - started, pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    sandbox = Sandbox(WORK / "sandbox", XSANDBOX_RATE_LIMIT="1000000/900").start()
    try:
        for name, value in sandbox.urls.items():
            setattr(settings, name, value)
        sign_in(Client(), sandbox, "maya_reads")
        account = XAccount.objects.get(username="maya_reads")
        floors, syncs, http_times, counts = [], [], [], []
        for _ in range(args.runs):
            floor, pages = fetch_only(account.pk)
            floors.append(floor)
            DmEvent.objects.filter(owner=account.user).delete()
            spent, original = timed_http()
            started = time.perf_counter()
            outcome = sync.sync_account(account.user_id, full=True)
            syncs.append(time.perf_counter() - started)
            xapi.get = original
            http_times.append(spent["seconds"])
            counts.append((outcome.progress.events, outcome.progress.requests))
        events, requests = counts[-1]
        sync_s, floor_s, http_s = (statistics.median(x) for x in (syncs, floors, http_times))
        ours = sync_s - http_s
        print(
            f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, runs: {args.runs} (medians)"
        )
        print(f"full sync: {events} events in {requests} requests ({pages} pages in the floor)")
        print(f"  wall time           {sync_s:7.2f} s   {events / sync_s:8.0f} events/s")
        print(f"  waiting on HTTP     {http_s:7.2f} s")
        print(f"  our code            {ours:7.2f} s   ratio ours/HTTP = {ours / http_s:.2f}")
        print(f"  requests per event  {requests / events:.4f}")
        print(f"floor (fetch only)    {floor_s:7.2f} s   sync/floor = {sync_s / floor_s:.2f}x")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
