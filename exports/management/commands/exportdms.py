import sys
import time
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from dmreader.models import XAccount
from exports import files, html
from exports.models import Export
from exports.scope import Scope, ScopeError, select

BAR = 30


class Command(BaseCommand):
    help = (
        "Export one account's cached DMs as HTML (a .zip, or a folder), JSON, Markdown or CSV: "
        "some conversations or all, a date range, or what a search finds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="@username of a signed-in account")
        parser.add_argument("--format", required=True, choices=[f for f, _ in Export.FORMATS])
        parser.add_argument(
            "--conversation",
            action="append",
            default=[],
            metavar="ID",
            help="an X conversation id (repeat for several; default: every conversation)",
        )
        parser.add_argument("--after", help="only events after this day (YYYY-MM-DD)")
        parser.add_argument("--before", help="only events before this day (YYYY-MM-DD)")
        parser.add_argument("--query", default="", help="what the search box would find")
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            help="the file to write (- for standard output); for HTML, a .zip or a folder",
        )
        parser.add_argument(
            "--no-media",
            action="store_true",
            help="HTML: leave photos, videos and avatars out (no fetching)",
        )

    def handle(self, *args, account, format, conversation, after, before, query, output, **options):
        found = XAccount.objects.filter(username__iexact=account.lstrip("@")).first()
        if found is None:
            raise CommandError(f"No account @{account.lstrip('@')} has signed in to DM Reader.")
        owner: AbstractBaseUser = found.user
        try:
            scope = Scope.build(conversations=conversation, after=after, before=before, query=query)
            selection = select(owner, scope)
        except ScopeError as problem:
            raise CommandError(str(problem)) from None
        except Http404:
            raise CommandError(f"@{found.username} has no such conversation cached.") from None
        total = selection.total
        started = time.monotonic()
        to_stdout = output == "-"
        progress = (
            (lambda done: None) if to_stdout else (lambda done: self._show(done, total, started))
        )
        job = files.job_for(owner, selection, progress=progress, with_media=not options["no_media"])
        target = Path(output)
        if to_stdout:
            for chunk in files.chunks(job, format):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        self._show(0, total, started)
        if format == Export.HTML and target.suffix.lower() != ".zip":
            files.write_folder(html.members(job, files.stem(owner, job.generated_at)), target)
        else:
            partial = target.with_name(target.name + ".partial")
            with open(partial, "wb") as out:
                for chunk in files.chunks(job, format):
                    out.write(chunk)
            partial.replace(target)
        self._show(job.done, total, started)
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"{job.done} events in {len(selection.conversations)} conversations written to "
                f"{target} in {time.monotonic() - started:.1f} s"
            )
        )

    def _show(self, done: int, total: int, started: float) -> None:
        share = done / total if total else 1.0
        filled = round(share * BAR)
        rate = done / max(time.monotonic() - started, 1e-6)
        self.stdout.write(
            f"\r  [{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%}  {done:,} of {total:,} "
            f"events, {rate:,.0f}/s   ",
            ending="",
        )
        self.stdout.flush()
