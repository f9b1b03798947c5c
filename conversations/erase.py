"""Deleting one owner's cache when they leave (dmreader.leaving.erasing), a batch at a time.

A cache can hold a million events: one DELETE of all of them would hold its locks (SQLite's one
write lock, PostgreSQL's row locks and a long transaction) for minutes, and the other accounts'
syncs would wait behind it. Each batch is its own short transaction instead; readers of the
same database never wait on it.
"""

import logging

from django.db import models, transaction

from conversations import media, uploads
from conversations.models import DmEvent
from dmreader import accounts

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000


def erase_owner(owner_id: int, *, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete every row of this app owned by `owner_id`, then their cached media files and
    uploads. Returns the count deleted per model (the media files under "media files")."""
    deleted = {}
    # Events first: they are nearly all of it, and deleting them first leaves the conversations,
    # users and media small and unreferenced.
    for model in [
        DmEvent,
        *(m for m in accounts.owned_models("conversations") if m is not DmEvent),
    ]:
        deleted[model._meta.label] = _delete_in_batches(
            model.objects.filter(owner_id=owner_id), batch_size
        )
    deleted["media files"] = media.delete_owner_files(owner_id)
    uploads.delete_owner_files(owner_id)  # archives uploaded for import and not yet imported
    logger.info("Erased the cache of user %s: %s", owner_id, deleted)
    return deleted


def erase_on_leaving(sender, *, user_id: int, **kwargs) -> None:
    erase_owner(user_id)


def _delete_in_batches(queryset: models.QuerySet, batch_size: int) -> int:
    total = 0
    while True:
        with transaction.atomic():
            batch = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not batch:
                return total
            # Django's delete, so the M2M rows, SET_NULL references and SQLite's full-text
            # triggers are handled as for any delete; only the batch is in the transaction.
            queryset.model.objects.filter(pk__in=batch).delete()
        total += len(batch)
