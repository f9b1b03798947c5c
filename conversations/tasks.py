"""Background work, run by the django-tasks-db worker (`manage.py db_worker`). Thin wrappers:
the work itself is in sync.py."""

from datetime import timedelta

from django.db import transaction
from django.tasks import task

from conversations import sync
from conversations.models import SyncState


@task()
def sync_account(owner_id: int, full: bool = False) -> str:
    outcome = sync.sync_account(owner_id, full=full)
    if outcome.status == SyncState.WAITING and outcome.retry_at:
        # A long backfill carries on by itself once X's rate-limit window resets. The pass cursor
        # is saved, so the next run continues where this one stopped.
        sync_account.using(run_after=outcome.retry_at + timedelta(seconds=1)).enqueue(owner_id)
    return outcome.status


def request_sync(owner_id: int, *, full: bool = False) -> None:
    """Queue a sync once the current transaction commits (the worker must see its rows), and
    show it as under way unless one already is (an account's first sync has no SyncState yet)."""
    SyncState.objects.filter(owner_id=owner_id, lease_until__isnull=True).update(
        status=SyncState.RUNNING
    )
    transaction.on_commit(lambda: sync_account.enqueue(owner_id, full=full))
