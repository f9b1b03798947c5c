"""The inbox's sync status line: what a person is told about the sync, whether the page keeps
polling for news, and whether "Sync now" can be pressed."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from conversations.models import SyncState
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    user = get_user_model().objects.create_user("x1")
    XAccount.objects.create(user=user, x_user_id="1", username="me", name="Me")
    return user


def status_of(owner) -> dict:
    client = Client()
    client.force_login(owner)
    content = client.get("/", headers={"HX-Request": "true"}).content.decode()
    body = re.search(r'<div id="inbox-body"([^>]*)>', content)[1]
    line = re.search(r'<p class="sync-line">(.*?)</p>', content, re.S)[1]
    button = re.search(r"<button[^>]*>Sync now</button>", content)[0]
    return {
        "line": " ".join(re.sub(r"<[^>]+>", " ", line).split()),
        "spinner": 'class="spinner"' in line,
        "polls": re.search(r'hx-trigger="every (\d+)s"', body)[1] if "hx-trigger" in body else "",
        "can_sync": "disabled" not in button,
    }


def test_a_sync_whose_worker_died_says_it_was_interrupted_and_resumes(owner):
    SyncState.objects.create(
        owner=owner,
        status=SyncState.RUNNING,
        lease_until=timezone.now() - timedelta(seconds=5),
        events_stored=300,
    )
    assert status_of(owner) == {
        "line": "Sync interrupted, resuming…",
        "spinner": False,
        "polls": "3",
        "can_sync": True,
    }


def test_a_running_sync_shows_a_spinner_and_cannot_be_started_twice(owner):
    SyncState.objects.create(
        owner=owner,
        status=SyncState.RUNNING,
        lease_until=timezone.now() + timedelta(minutes=1),
        events_stored=300,
    )
    assert status_of(owner) == {
        "line": "Syncing… 300 messages cached so far.",
        "spinner": True,
        "polls": "3",
        "can_sync": False,
    }


def test_a_failed_sync_says_it_retries_by_itself_and_why_it_failed(owner):
    SyncState.objects.create(
        owner=owner,
        status=SyncState.FAILED,
        last_error="X answered 503.",
        last_success_at=timezone.now() - timedelta(hours=1),
    )
    status = status_of(owner)
    assert re.fullmatch(
        r"Sync failed, retrying by itself( at \d\d:\d\d)?: X answered 503\.", status["line"]
    )
    assert status["polls"] == "30" and status["can_sync"] and not status["spinner"]


def test_an_up_to_date_account_stops_polling(owner):
    SyncState.objects.create(owner=owner, last_success_at=timezone.now())
    status = status_of(owner)
    assert status["line"].startswith("Up to date")
    assert status["polls"] == "" and status["can_sync"]
