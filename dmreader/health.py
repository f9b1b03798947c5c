"""Is DM Reader up? `/healthz` for load balancers, container health checks and monitors, and the
heartbeats that background processes leave so that it, and the admin, can tell a worker that
stopped from one that is busy.

A background process calls `beating(kind)` around its main loop: a thread then writes the
process's row every `interval` seconds. A process that exits cleanly marks its row stopped; one
that is killed stops writing, and its row turns stale three intervals later (45 s by default).
"""

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dmreader.models import Heartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 15.0
STALE_AFTER_BEATS = 3
# A process that went stale this long ago is history, not news: the health check stops
# reporting it (a worker killed and replaced last week is no reason to page anyone now).
REPORT_STALE_FOR = timedelta(days=1)
# Rows of processes gone this long are deleted when another process starts.
KEEP_GONE = timedelta(days=7)


# Heartbeats ------------------------------------------------------------------------------------


def start_heartbeat(
    kind: str, *, name: str = "", interval: float = HEARTBEAT_INTERVAL
) -> Heartbeat:
    """Record a process starting now; `kind` is Heartbeat.WORKER, Heartbeat.SCHEDULER or a new
    one. Rows of long-gone processes are pruned here, so the table stays the size of a fleet."""
    now = timezone.now()
    Heartbeat.objects.filter(last_seen_at__lt=now - KEEP_GONE).delete()
    host, pid = socket.gethostname(), os.getpid()
    return Heartbeat.objects.create(
        kind=kind,
        name=(name or f"{host}:{pid}")[:100],
        host=host[:255],
        pid=pid,
        started_at=now,
        last_seen_at=now,
        stale_at=now + timedelta(seconds=interval * STALE_AFTER_BEATS),
    )


def beat(heartbeat: Heartbeat, *, interval: float = HEARTBEAT_INTERVAL) -> None:
    """The process is alive now. An UPDATE of its own row only: cheap at any fleet size."""
    now = timezone.now()
    Heartbeat.objects.filter(pk=heartbeat.pk).update(
        last_seen_at=now, stale_at=now + timedelta(seconds=interval * STALE_AFTER_BEATS)
    )


def stop_heartbeat(heartbeat: Heartbeat) -> None:
    now = timezone.now()
    Heartbeat.objects.filter(pk=heartbeat.pk).update(last_seen_at=now, stopped_at=now)


@contextmanager
def beating(
    kind: str, *, name: str = "", interval: float = HEARTBEAT_INTERVAL
) -> Iterator[Heartbeat]:
    """Beat every `interval` seconds from a thread while the body runs (the body may block for
    minutes in a sync: the beat must not wait for it), and mark the process stopped on the way
    out, including through SystemExit from a signal handler."""
    heartbeat = start_heartbeat(kind, name=name, interval=interval)
    done = threading.Event()
    thread = threading.Thread(
        target=_beat_until, args=(heartbeat, interval, done), name=f"heartbeat-{kind}", daemon=True
    )
    thread.start()
    try:
        yield heartbeat
    finally:
        done.set()
        thread.join(timeout=5)
        stop_heartbeat(heartbeat)


def _beat_until(heartbeat: Heartbeat, interval: float, done: threading.Event) -> None:
    # This thread has its own database connection (Django's are per thread).
    try:
        while not done.wait(interval):
            try:
                close_old_connections()
                beat(heartbeat, interval=interval)
            except DatabaseError as exc:
                # The database is down or locked for now: the next beat tries again, and the
                # row going stale meanwhile is the truth (nobody can see this process working).
                logger.warning("Heartbeat not written: %s", type(exc).__name__)
    finally:
        connection.close()


def process_report(now=None) -> dict[str, dict]:
    """Per kind: how many processes are running, and the ones that went stale (stopped beating
    without saying goodbye) within REPORT_STALE_FOR. Kinds with no recent process are absent."""
    now = now or timezone.now()
    report: dict[str, dict] = {}
    recent = Heartbeat.objects.filter(stopped_at=None, stale_at__gte=now - REPORT_STALE_FOR)
    for process in recent.order_by("kind", "-last_seen_at"):
        kind = report.setdefault(process.kind, {"running": 0, "stale": []})
        if process.stale_at >= now:
            kind["running"] += 1
        else:
            kind["stale"].append(
                {
                    "name": process.name,
                    "host": process.host,
                    "pid": process.pid,
                    "last_seen_at": process.last_seen_at.isoformat(),
                }
            )
    return report


# /healthz --------------------------------------------------------------------------------------


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 {"status": "ok"} when a query on DM Reader's own tables works, 503 when not. No login,
    no session, one query. With ?processes=1 it also reports the background processes, and
    answers 503 when every process of a kind seen lately has gone stale (all workers dead)."""
    try:
        # A table of ours, not SELECT 1: a database that is up but not migrated is not healthy.
        Heartbeat.objects.order_by().values_list("pk")[:1].exists()
        body: dict = {"status": "ok", "database": "ok"}
        if request.GET.get("processes"):
            body["processes"] = process_report()
    except DatabaseError as exc:
        logger.warning("Health check: the database failed: %s", type(exc).__name__)
        return JsonResponse({"status": "error", "database": "error"}, status=503)
    if any(kind["stale"] and not kind["running"] for kind in body.get("processes", {}).values()):
        body["status"] = "error"
        return JsonResponse(body, status=503)
    return JsonResponse(body)
