from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        # The sign-in side sends a signal instead of importing this app (imports run one way:
        # conversations -> dmreader). dispatch_uid keeps one receiver should ready() run twice.
        from dmreader.accounts import signed_in

        signed_in.connect(queue_sync_on_sign_in, dispatch_uid="conversations.queue_sync_on_sign_in")

        # Leaving (dmreader.leaving): the cache and the media files go, a batch at a time.
        from conversations.erase import erase_on_leaving
        from dmreader.leaving import erasing

        erasing.connect(erase_on_leaving, dispatch_uid="conversations.erase_on_leaving")


def queue_sync_on_sign_in(sender, *, user, **kwargs) -> None:
    """A first sync for a new account; for one signing in again, what came since last time."""
    # Imported when called: tasks imports the models, which are not loaded when apps.py is.
    from conversations import tasks

    tasks.request_sync(user.pk)
