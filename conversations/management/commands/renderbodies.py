from django.core.management.base import BaseCommand

from conversations import store


class Command(BaseCommand):
    help = (
        "Render again the cached messages whose stored body other code made (after an upgrade "
        "changed how messages are shown). Pages show them right meanwhile, rendered on each read."
    )

    def handle(self, *args, **options):
        done = store.render_stale_bodies()
        self.stdout.write(f"{done} message{'s' if done != 1 else ''} rendered again.")
