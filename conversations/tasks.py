"""Background work, run by the django-tasks-db worker (`manage.py db_worker`). Thin wrappers: the
work itself is in sync.py; here is only when it runs again.

- A sync that waits for X's rate limit or failed runs again by itself at SyncState.retry_at.
- An import from the Import page (import_jobs.py) leaves the same kind of check-back: run_import
  queued again for when its lease would run out resumes it if its worker died.
- A worker may die mid-sync (killed, redeployed). Its lease runs out within a minute (sync.py)
  and every sync task leaves a cheap check-back (`resume_sync`) due just after that: if the sync
  is still unfinished and nobody holds the lease, the check-back resumes it from its saved cursor.
  The dead worker's task row would stay RUNNING for ever; the next sync of the account marks it
  failed.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from conversations import import_jobs, sync
from conversations.models import ImportJob, SyncState

SYNC_TASKS = ("conversations.tasks.sync_account", "conversations.tasks.resume_sync")
IMPORT_TASK = "conversations.tasks.run_import"
READY, RUNNING, FAILED = "READY", "RUNNING", "FAILED"


def request_sync(owner_id: int, *, full: bool = False) -> None:
    """The one way to ask for a sync of an account: shows it as under way at once (unless a
    worker already holds it; an account's first sync has no SyncState yet) and queues it once
    the current transaction commits (the worker must see its rows). A sync already queued for
    the account is not queued twice."""
    SyncState.objects.filter(owner_id=owner_id, lease_until__isnull=True).update(
        status=SyncState.RUNNING, retry_at=None
    )

    def enqueue() -> None:
        # Due now, not a retry for later. Tasks queued to run at once are due when queued
        # (dmreader/task_queue.py); rows from before that say 9999-01-01.
        due = Q(run_after=get_date_max()) | Q(run_after__lte=timezone.now())
        queued = DBTaskResult.objects.filter(
            due,
            task_path=SYNC_TASKS[0],
            status=READY,
            args_kwargs__args__0=owner_id,
            args_kwargs__kwargs__full=full,
        )
        if not queued.exists():
            sync_account.enqueue(owner_id, full=full)
            # Should the worker die after claiming the task but before the sync takes the
            # lease, nothing else would ever look again.
            _check_back_later(owner_id)

    transaction.on_commit(enqueue)


@task(takes_context=True)
def sync_account(context, owner_id: int, full: bool = False) -> str:
    return _sync(context, owner_id, full=full)


@task(takes_context=True)
def resume_sync(context, owner_id: int) -> str:
    """The check-back: resume a sync whose worker died, or look again when the lease runs out."""
    state = SyncState.objects.filter(owner_id=owner_id).first()
    if state is None:
        return SyncState.IDLE
    now = timezone.now()
    if state.lease_until and state.lease_until >= now:
        # Still being worked on: look again when this lease would run out.
        _check_back(owner_id, at=state.lease_until + timedelta(seconds=1))
        return state.status
    unfinished = state.status in (SyncState.RUNNING, SyncState.WAITING) or state.pass_token
    if not unfinished:
        return state.status
    if state.retry_at and state.retry_at > now:
        # Its worker died while waiting for X's rate limit: carry on when it resets.
        _check_back(owner_id, at=state.retry_at + timedelta(seconds=1))
        return state.status
    return _sync(context, owner_id)


def _check_back_later(owner_id: int) -> None:
    """Look at the account again just after the lease a sync starting now would hold runs out."""
    _check_back(owner_id, at=timezone.now() + sync._lease() + timedelta(seconds=1))


def _check_back(owner_id: int, *, at) -> None:
    """Queue a check-back at `at`, unless one is queued for then or sooner: that one will look,
    and queue the next if the sync still needs one (so check-backs never pile up)."""
    sooner = DBTaskResult.objects.filter(
        task_path=SYNC_TASKS[1], status=READY, args_kwargs__args__0=owner_id, run_after__lte=at
    )
    if not sooner.exists():
        resume_sync.using(run_after=at).enqueue(owner_id)


def _sync(context, owner_id: int, *, full: bool = False) -> str:
    _check_back_later(owner_id)
    outcome = sync.sync_account(owner_id, full=full)
    if outcome.status != "busy":
        _fail_abandoned(owner_id, context.task_result)
    retry_later(owner_id, outcome)
    return outcome.status


def retry_later(owner_id: int, outcome: sync.Outcome) -> None:
    """A long backfill carries on by itself once X's rate-limit window resets, a failed sync after
    its backoff. The pass cursor is saved: the next run continues where this one stopped."""
    if outcome.status in (SyncState.WAITING, SyncState.FAILED) and outcome.retry_at:
        sync_account.using(run_after=outcome.retry_at + timedelta(seconds=1)).enqueue(owner_id)


def _fail_abandoned(owner_id: int, current) -> None:
    """Sync task rows of this account left RUNNING by a worker that died. This task just held the
    account's lease, so any sync task of it that started before this one and still says RUNNING
    is not running (a live one would have found the account busy and ended at once). The
    margin spares such a live one that is just ending; it is a fraction of the lease because a
    dead task's start can be as little as one lease before this one's."""
    started = current.started_at or timezone.now()
    margin = min(timedelta(seconds=5), sync._lease() / 3)
    DBTaskResult.objects.filter(
        task_path__in=SYNC_TASKS,
        status=RUNNING,
        args_kwargs__args__0=owner_id,
        started_at__lt=started - margin,
    ).exclude(pk=current.id).update(
        status=FAILED,
        finished_at=timezone.now(),
        exception_class_path="conversations.tasks.WorkerDied",
        traceback="Its worker stopped before the sync ended; a later sync resumed it.",
    )


class WorkerDied(Exception):
    """Recorded on a task row whose worker died (never raised): what its traceback says."""


def request_import(job_id: int) -> None:
    """Queue the import once its row is committed (the worker must see it), and a check-back:
    should the worker die after claiming the task but before the import takes its lease, nothing
    else would ever look again."""

    def enqueue() -> None:
        run_import.enqueue(job_id)
        # Always: the task just queued is due now (dmreader/task_queue.py), so _check_back_import
        # would count it as "one sooner", yet it is the one whose worker may die.
        at = timezone.now() + import_jobs.lease() + timedelta(seconds=1)
        run_import.using(run_after=at).enqueue(job_id)

    transaction.on_commit(enqueue)


@task()
def run_import(job_id: int) -> str:
    """Run the import, or look again later: this same task, queued for when the lease of the run
    under way would run out, is the check-back that resumes it should its worker die."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.finished:
        return job.status if job else "gone"
    now = timezone.now()
    if job.lease_until and job.lease_until >= now:
        _check_back_import(job_id, at=job.lease_until + timedelta(seconds=1))
        return "busy"
    _check_back_import(job_id, at=now + import_jobs.lease() + timedelta(seconds=1))
    return import_jobs.run(job_id)


def _check_back_import(job_id: int, *, at) -> None:
    """As _check_back: not when one is queued for then or sooner."""
    sooner = DBTaskResult.objects.filter(
        task_path=IMPORT_TASK, status=READY, args_kwargs__args__0=job_id, run_after__lte=at
    )
    if not sooner.exists():
        run_import.using(run_after=at).enqueue(job_id)
