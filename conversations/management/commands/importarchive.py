from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from conversations import import_jobs, importing, store, sync
from conversations.archive import ArchiveError, ArchiveProgress, open_archive
from dmreader.models import XAccount

BAR = 30


class Command(BaseCommand):
    help = "Import the Direct Messages of X's archive ZIP (or its extracted folder) into the cache."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the archive's ZIP, or the folder it was extracted to")
        parser.add_argument("--account", required=True, help="@username of a signed-in account")

    def handle(self, *args, path, account, **options):
        username = account.lstrip("@")
        x_account = XAccount.objects.filter(username__iexact=username).first()
        if x_account is None:
            raise CommandError(f"No account @{username} has signed in to DM Reader.")
        try:
            # One transaction: an archive found bad half-way leaves the cache as it was.
            with (
                open_archive(
                    path,
                    expected_x_user_id=x_account.x_user_id,
                    expected_username=x_account.username,
                ) as archive,
                transaction.atomic(),
            ):
                imported = importing.import_archive(
                    x_account.user_id, archive, on_progress=self._show
                )
                job = import_jobs.record_done(
                    x_account.user_id,
                    file_name=Path(path).name,
                    size=_size(Path(path)),
                    imported=imported,
                    conversations=archive.progress.conversations,
                    generated_at=archive.manifest.generated_at,
                )
        except ArchiveError as exc:
            self.stdout.write("")
            raise CommandError(str(exc)) from exc
        store.refresh_statistics()
        self.stdout.write("")
        for problem in imported.problems:
            self.stdout.write(self.style.WARNING(f"  {problem}"))
        resolved = sync.resolve_unknown_users(x_account.user_id)
        if resolved.found or resolved.gone or resolved.left:
            self.stdout.write(
                f"  people named by id only: {resolved.found} found on X, {resolved.gone} gone, "
                f"{resolved.left} still shown by id{f' ({resolved.error})' if resolved.error else ''}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"  done: {imported.events} events read, {imported.new} new in the cache, "
                f"{imported.media_files} media files stored"
                + (f", {job.gaps_closed} history gap(s) filled" if job.gaps_closed else "")
            )
        )

    def _show(self, progress: ArchiveProgress, imported: importing.Imported) -> None:
        filled = int(progress.fraction * BAR)
        self.stdout.write(
            f"\r  [{'#' * filled}{'.' * (BAR - filled)}] {progress.fraction:4.0%} "
            f"{progress.conversations} conversations, {imported.events} events "
            f"({imported.new} new)",
            ending="",
        )
        self.stdout.flush()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
