"""manage.py seed_sandbox [--if-empty] [--reset] [--anchor ISO8601]: create the sandbox's world."""

import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from xsandbox import seed
from xsandbox.models import User


def _anchor(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--anchor must be an ISO 8601 date-time, got {value!r}") from None
    # A bare date-time means UTC, as everywhere in X's API.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Seed the sandbox with deterministic accounts, conversations, media and posts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if any account exists"
        )
        parser.add_argument("--reset", action="store_true", help="delete the existing world first")
        parser.add_argument(
            "--anchor",
            type=_anchor,
            help="the 'now' the data is anchored to (default: the sandbox clock)",
        )

    def handle(self, *args, if_empty: bool, reset: bool, anchor: datetime | None, **options):
        if if_empty and User.objects.exists():
            self.stdout.write("xsandbox: already seeded, leaving the data as it is")
            return
        if User.objects.exists() and not reset:
            raise CommandError("the sandbox already has data: pass --reset to replace it")
        started = time.monotonic()
        # One transaction: a failed reseed leaves the old world in place.
        with transaction.atomic():
            if reset:
                seed.reset()
            counts = seed.seed_world(anchor)
        took = time.monotonic() - started
        self.stdout.write(
            "xsandbox: seeded {users} users, {conversations} conversations, {events} events, "
            "{media} media, {tweets} tweets".format(**counts)
            + f" in {took:.1f}s"
        )
