"""`manage.py scheduler`: the always-on sync's clock. Every `--tick` seconds it enqueues a sync of
each account whose slot has come (conversations/schedule.py), beating through
dmreader.health.beating("scheduler") meanwhile; on start and every hour it sends
dmreader.housekeeping's signal (exports a week old are removed).

A plain loop rather than django-crontask: the claim itself (a conditional UPDATE on SyncState)
already makes several schedulers safe on any database, so APScheduler and crontask's Redis-only
lock would add two dependencies and a Redis for nothing. SIGTERM and SIGINT end it between ticks.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from conversations import schedule
from dmreader import health, housekeeping
from dmreader.models import Heartbeat

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Enqueue a sync of every signed-in account every SYNC_INTERVAL_SECONDS"

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--tick", type=float, default=10.0, help="Seconds between looks (default: 10)."
        )
        parser.add_argument("--once", action="store_true", help="Look once, then exit.")
        parser.add_argument("--heartbeat-interval", type=float, default=health.HEARTBEAT_INTERVAL)

    def handle(self, *args, tick: float, once: bool, heartbeat_interval: float, **options):
        stop = threading.Event()
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        chores = housekeeping.Clock()
        with health.beating(Heartbeat.SCHEDULER, interval=heartbeat_interval):
            while True:
                try:
                    close_old_connections()
                    claimed = schedule.claim_due()
                    if claimed:
                        logger.info("Scheduled syncs of %d accounts", len(claimed))
                    chores.tick()  # hourly: exports a week old removed, and the like
                except DatabaseError as exc:
                    # Down or locked for now: the next tick tries again; no slot is lost.
                    logger.warning("Scheduler tick failed: %s", type(exc).__name__)
                if once or stop.wait(tick):
                    return
