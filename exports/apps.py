from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from dmreader.housekeeping import housekeeping
        from dmreader.leaving import erasing
        from exports import files, tasks

        # Leaving: every export and its file goes (the rows would go with the user; not the files).
        erasing.connect(files.erase_on_leaving, dispatch_uid="exports.erase_on_leaving")
        # A week after it was made an export is removed, whoever visits.
        housekeeping.connect(tasks.remove_expired, dispatch_uid="exports.remove_expired")
