"""manage.py seed_sandbox [--if-empty] [--reset] [--anchor ISO8601] [--crowd N]: create the sandbox's
world, with N extra accounts (default XSANDBOX_CROWD, 0) for runs that need many people."""

import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from xsandbox import populate, seed
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
        parser.add_argument(
            "--crowd",
            type=int,
            default=settings.XSANDBOX_CROWD,
            help="this many more accounts that can sign in, with small DM histories between "
            "them (xsandbox/crowd.py; default: XSANDBOX_CROWD, %(default)s)",
        )

    def handle(
        self, *args, if_empty: bool, reset: bool, anchor: datetime | None, crowd: int, **options
    ):
        if if_empty and User.objects.exists():
            self.stdout.write("xsandbox: already seeded, leaving the data as it is")
            return
        if User.objects.exists() and not reset:
            raise CommandError("the sandbox already has data: pass --reset to replace it")
        if crowd < 0:
            raise CommandError(f"--crowd must be 0 or more, got {crowd}")
        started = time.monotonic()
        # One transaction: a failed reseed leaves the old world in place.
        with transaction.atomic():
            if reset:
                seed.reset()
            counts = populate.seed_world(anchor, crowd=crowd)
        took = time.monotonic() - started
        self.stdout.write(
            "xsandbox: seeded {users} users, {conversations} conversations, {events} events, "
            "{media} media, {tweets} tweets".format(**counts)
            + f" in {took:.1f}s"
        )
