from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from conversations import backup, import_jobs, importing, store, sync
from conversations.archive import ArchiveError, ArchiveProgress, open_archive
from dmreader.models import XAccount

BAR = 30


class Command(BaseCommand):
    help = (
        "Import the Direct Messages of X's archive ZIP (or its extracted folder) into the cache, "
        "or restore a DM Reader backup (a JSON export, or its backup ZIP) of the same account."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the archive's ZIP, or the folder it was extracted to")
        parser.add_argument("--account", required=True, help="@username of a signed-in account")

    def handle(self, *args, path, account, **options):
        username = account.lstrip("@")
        x_account = XAccount.objects.filter(username__iexact=username).first()
        if x_account is None:
            raise CommandError(f"No account @{username} has signed in to DM Reader.")
        if backup.is_backup(path):
            return self._restore(path, x_account)
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

    def _restore(self, path: str, x_account: XAccount) -> None:
        """A DM Reader backup (a JSON export or its backup ZIP): checked whole, then restored in
        one transaction, so a bad one leaves the cache as it was."""
        try:
            with backup.open_backup(
                path, expected_x_user_id=x_account.x_user_id, expected_username=x_account.username
            ) as opened:
                checked = importing.check_backup(opened)
                self.stdout.write(
                    f"  a DM Reader backup: {checked.events} events in "
                    f"{checked.conversations} conversations"
                )
                done = [0, 0]

                def show(events: int, new: int) -> None:
                    done[0] += events
                    done[1] += new
                    share = done[0] / checked.events if checked.events else 1.0
                    filled = int(share * BAR)
                    self.stdout.write(
                        f"\r  [{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%} "
                        f"{done[0]} events ({done[1]} new)",
                        ending="",
                    )
                    self.stdout.flush()

                with transaction.atomic():
                    restored = importing.restore_backup(x_account.user_id, opened, on_batch=show)
                files = importing.restore_files(x_account.user_id, opened)
        except ArchiveError as exc:
            self.stdout.write("")
            raise CommandError(str(exc)) from exc
        store.refresh_statistics()
        self.stdout.write("")
        for problem in restored.problems:
            self.stdout.write(self.style.WARNING(f"  {problem}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"  done: {restored.events} events read, {restored.new} new in the cache, "
                f"{files} media files"
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
