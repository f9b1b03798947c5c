"""/healthz and the heartbeats of background processes: a load balancer learns whether the app can
reach its database, and an operator whether a worker stopped (within a minute, in the admin and
in /healthz?processes=1)."""

import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from dmreader import health
from dmreader.models import Heartbeat
from tests.sandbox import REPO


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def production_env() -> dict[str, str]:
    """What a deployment sets: DEBUG off and its own secrets (here, the test run's)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
    }


def start_worker(interval: float) -> subprocess.Popen:
    """scripts/worker, as compose.yaml starts it."""
    return subprocess.Popen(
        ["scripts/worker", "--no-startup-delay", f"--heartbeat-interval={interval}"],
        cwd=REPO,
        env=production_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.django_db
def test_healthz_answers_from_the_database_with_no_login_and_no_session(
    client, django_assert_num_queries
):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_fails(client):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error"}


@pytest.mark.django_db
def test_by_default_a_process_that_stops_beating_is_stale_within_a_minute():
    process = health.start_heartbeat(Heartbeat.SCHEDULER)
    assert process.stale_at - process.last_seen_at <= timedelta(seconds=60)
    assert process.state == "running"
    Heartbeat.objects.filter(pk=process.pk).update(stale_at=timezone.now() - timedelta(seconds=1))
    process.refresh_from_db()
    assert process.state == "stale"
    health.stop_heartbeat(process)
    process.refresh_from_db()
    assert process.state == "stopped"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_with_sigkill_shows_as_stale_in_the_health_check_and_the_admin():
    worker = start_worker(interval=0.5)
    try:
        beating = wait_for(lambda: Heartbeat.objects.filter(pid=worker.pid).first())
        first_seen = beating.last_seen_at
        # It keeps beating while its main thread polls the task queue.
        wait_for(lambda: Heartbeat.objects.get(pk=beating.pk).last_seen_at > first_seen)
        report = Client().get("/healthz?processes=1")
        assert report.status_code == 200
        assert report.json()["processes"]["worker"] == {"running": 1, "stale": []}
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    # Three missed beats later (1.5 s here, 45 s with the default 15 s interval).
    wait_for(lambda: Client().get("/healthz?processes=1").status_code == 503, timeout=10)
    report = Client().get("/healthz?processes=1").json()
    assert report["status"] == "error"
    assert report["processes"]["worker"]["running"] == 0
    assert [p["pid"] for p in report["processes"]["worker"]["stale"]] == [worker.pid]
    # The plain check stays green: the web server and its database are fine.
    assert Client().get("/healthz").status_code == 200

    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))
    page = admin.get("/admin/dmreader/heartbeat/")
    assert page.status_code == 200
    assert b"<strong>stale</strong>" in page.content
    assert str(worker.pid).encode() in page.content
    assert admin.get("/admin/dmreader/heartbeat/?state=stale").content.count(b"stale</strong>") == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_cleanly_says_so_and_one_live_worker_keeps_the_check_green():
    stopped = start_worker(interval=0.5)
    # Beating: by then the worker has its signal handlers (a SIGTERM earlier kills it outright).
    wait_for(lambda: Heartbeat.objects.filter(pid=stopped.pid, last_seen_at__gt=F("started_at")))
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(30) == 0, stopped.stderr.read()[-2000:]
    assert Heartbeat.objects.get(pid=stopped.pid).state == "stopped"

    killed, live = start_worker(interval=0.5), start_worker(interval=0.5)
    try:
        wait_for(lambda: Heartbeat.objects.filter(pid__in=[killed.pid, live.pid]).count() == 2)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        wait_for(lambda: Heartbeat.objects.get(pid=killed.pid).state == "stale", timeout=10)
        report = Client().get("/healthz?processes=1")
        # One worker still runs: the stale one is reported, and the queue is still served.
        assert report.status_code == 200
        workers = report.json()["processes"]["worker"]
        assert workers["running"] == 1
        assert [p["pid"] for p in workers["stale"]] == [killed.pid]
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(30)
