"""Background exports, run by the task worker (`manage.py worker`, django-tasks-db's db_worker).
Thin: the work is in files.build."""

from django.db import transaction
from django.tasks import task

from exports import files


@task()
def build_export(export_id: int) -> str:
    return files.build(export_id)


def request_export(export_id: int) -> None:
    """Queue the export once its row is committed (the worker must see it)."""
    transaction.on_commit(lambda: build_export.enqueue(export_id))
