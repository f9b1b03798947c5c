"""`manage.py worker`: django-tasks-db's `db_worker`, leaving a heartbeat while it runs.

Every option of db_worker works as there (`--batch`, `--queue-name`, `--max-tasks`...); this adds
`--heartbeat-interval`. The heartbeat's name is the worker id, the one django-tasks-db records on
each task it runs, so the admin can tell which process ran what.
"""

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from dmreader import health
from dmreader.models import Heartbeat


class Command(db_worker.Command):
    help = "Run a background task worker (django-tasks-db's db_worker) that leaves a heartbeat"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--heartbeat-interval",
            type=db_worker.valid_interval,
            default=health.HEARTBEAT_INTERVAL,
            help="Seconds between heartbeats (default: %(default)r); the process shows as stale "
            "after three missed ones.",
        )

    def handle(self, *args, heartbeat_interval: float, **options) -> None:
        # With --reload the first process only watches files and restarts a child that runs the
        # tasks: that child is the worker, and the one to beat.
        if (
            options["reload"]
            and not options["batch"]
            and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        ):
            return super().handle(*args, **options)
        with health.beating(
            Heartbeat.WORKER, name=options["worker_id"], interval=heartbeat_interval
        ):
            super().handle(*args, **options)
