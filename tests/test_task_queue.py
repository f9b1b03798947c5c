"""The task queue serves the task that has waited longest first (dmreader/task_queue.py): a task
queued to run at once is due when queued, so a check-back or retry that came due later waits its
turn behind it, and one due in the future waits until then. Real `db_worker` runs, in process."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations import tasks
from dmreader.models import XAccount

pytestmark = pytest.mark.django_db(transaction=True)

served: list[str] = []


@task()
def note(label: str) -> str:
    served.append(label)
    return label


def run_worker() -> None:
    """One worker, until nothing is due."""
    served.clear()
    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0.01, verbosity=0
    )


def test_a_task_queued_to_run_now_goes_before_a_check_back_that_came_due_after_it():
    note.enqueue("queued first, to run at once")
    note.using(run_after=timezone.now()).enqueue("a check-back due since")
    note.enqueue("queued last, to run at once")

    run_worker()

    assert served == [
        "queued first, to run at once",
        "a check-back due since",
        "queued last, to run at once",
    ]


def test_an_overdue_retry_goes_before_tasks_queued_after_it_came_due():
    note.using(run_after=timezone.now() - timedelta(minutes=5)).enqueue("retry due 5 min ago")
    note.enqueue("queued now")

    run_worker()

    assert served == ["retry due 5 min ago", "queued now"]


def test_a_task_due_later_waits_and_the_queue_records_when_each_came_due():
    before = timezone.now()
    now_task = note.enqueue("at once")
    later = note.using(run_after=timezone.now() + timedelta(hours=1)).enqueue("in an hour")

    run_worker()

    assert served == ["at once"]
    assert DBTaskResult.objects.get(pk=later.id).status == "READY"
    assert before <= DBTaskResult.objects.get(pk=now_task.id).run_after <= timezone.now()


def test_a_sync_asked_for_twice_is_queued_once(django_user_model):
    owner = django_user_model.objects.create(username="x:1")
    XAccount.objects.create(user=owner, x_user_id="1", username="someone")

    tasks.request_sync(owner.pk)
    tasks.request_sync(owner.pk)

    queued = DBTaskResult.objects.filter(task_path=tasks.SYNC_TASKS[0], status="READY")
    assert queued.count() == 1
