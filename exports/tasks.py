"""Background exports, run by the task worker (`manage.py worker`, django-tasks-db's db_worker).
Thin: the work is in files.build. As for imports (conversations/tasks.py), the same task queued
again for when the lease of the run under way would run out is the check-back that takes an
export over should its worker die."""

from datetime import timedelta

from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from exports import files
from exports.models import Export

TASK = "exports.tasks.build_export"


@task()
def build_export(export_id: int) -> str:
    export = Export.objects.filter(pk=export_id).first()
    if export is None or export.finished:
        return export.status if export else "gone"
    now = timezone.now()
    if export.lease_until and export.lease_until >= now:
        _check_back(export_id, at=export.lease_until + timedelta(seconds=1))
        return "busy"
    _check_back(export_id, at=now + files.lease() + timedelta(seconds=1))
    return files.build(export_id)


def request_export(export_id: int) -> None:
    """Queue the export once its row is committed (the worker must see it), and a check-back:
    should the worker die after claiming the task but before the export takes its lease,
    nothing else would ever look again."""

    def enqueue() -> None:
        build_export.enqueue(export_id)
        # Always: the task just queued is due now (dmreader/task_queue.py), so _check_back would
        # count it as "one sooner", yet it is the one whose worker may die.
        at = timezone.now() + files.lease() + timedelta(seconds=1)
        build_export.using(run_after=at).enqueue(export_id)

    transaction.on_commit(enqueue)


def _check_back(export_id: int, *, at) -> None:
    """Not when one is queued for then or sooner: that one looks, and queues the next."""
    sooner = DBTaskResult.objects.filter(
        task_path=TASK, status="READY", args_kwargs__args__0=export_id, run_after__lte=at
    )
    if not sooner.exists():
        build_export.using(run_after=at).enqueue(export_id)


def remove_expired(sender, **kwargs) -> None:
    """The scheduler's hourly housekeeping (dmreader.housekeeping)."""
    files.remove_expired()
