from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from conversations import sync, tasks
from conversations.models import SyncState
from dmreader.models import XAccount

WINDOW = timedelta(days=30)
BAR = 30


class Command(BaseCommand):
    help = (
        "Sync the DMs of one signed-in account (or of all), waiting for X's rate limit if needed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", help="@username of a signed-in account (default: all)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="walk X's whole 30-day window again, not just what is new",
        )

    def handle(self, *args, account=None, full=False, **options):
        accounts = XAccount.objects.filter(needs_reauth=False).exclude(access_token="")
        if account:
            accounts = accounts.filter(username__iexact=account.lstrip("@"))
            if not accounts:
                raise CommandError(f"No signed-in account @{account.lstrip('@')}.")
        failed = False
        for x_account in accounts.order_by("username"):
            self.stdout.write(f"@{x_account.username}:")
            outcome = sync.sync_account(
                x_account.user_id, full=full, max_wait=float("inf"), on_progress=self._show
            )
            self.stdout.write("")
            if outcome.status == "busy":
                self.stdout.write(self.style.WARNING("  another sync of this account is running"))
            elif outcome.status != SyncState.IDLE:
                failed = True
                self.stdout.write(self.style.ERROR(f"  {outcome.status}: {outcome.error}"))
                if outcome.retry_at:
                    # The task worker carries on from the saved cursor, as after a queued sync.
                    tasks.retry_later(x_account.user_id, outcome)
                    at = timezone.localtime(outcome.retry_at).strftime("%H:%M:%S")
                    self.stdout.write(f"  the worker retries it at {at}")
            else:
                p = outcome.progress
                self.stdout.write(
                    self.style.SUCCESS(
                        f"  done: {p.pages} pages, {p.events} new events, {p.requests} requests"
                    )
                )
        if failed:
            raise CommandError("Some accounts did not sync.")

    def _show(self, progress: sync.Progress) -> None:
        if progress.waiting_until and progress.waiting_until > timezone.now():
            until = timezone.localtime(progress.waiting_until).strftime("%H:%M:%S")
            self.stdout.write(f"\r  waiting for X's rate-limit reset until {until}...", ending="")
            self.stdout.flush()
            return
        reached = 0.0
        if progress.oldest:
            reached = min(1.0, (timezone.now() - progress.oldest) / WINDOW)
        filled = round(reached * BAR)
        back_to = f", back to {progress.oldest:%Y-%m-%d}" if progress.oldest else ""
        self.stdout.write(
            f"\r  [{'#' * filled}{'.' * (BAR - filled)}] {reached:4.0%}  {progress.pages} pages, "
            f"{progress.events} events{back_to}   ",
            ending="",
        )
        self.stdout.flush()
