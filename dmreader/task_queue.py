"""The task queue: django-tasks-db's database backend, serving the task that has waited longest
first.

django-tasks-db stores a task queued to run at once with `run_after` = 9999-01-01 and serves ready
tasks by `run_after`, so every deferred task that has come due (a sync's check-back, a retry after
X's rate limit) goes before every task queued to run at once, however long that one has waited:
under load, a person's fresh sync waits behind each check-back that falls due meanwhile. Here a
task queued to run at once is due when it is queued (`run_after` = now), so the queue's order,
`run_after` then `enqueued_at`, is the order in which tasks came due: the oldest due goes first.
"""

from typing import Any

from django.utils import timezone
from django_tasks_db import DatabaseBackend as _DatabaseBackend


class DatabaseBackend(_DatabaseBackend):
    def enqueue(self, task, args, kwargs) -> Any:
        return super().enqueue(_due_now(task), args, kwargs)

    async def aenqueue(self, task, args, kwargs) -> Any:
        return await super().aenqueue(_due_now(task), args, kwargs)


def _due_now(task):
    return task.using(run_after=timezone.now()) if task.run_after is None else task
