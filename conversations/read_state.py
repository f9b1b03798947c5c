"""What is new to the owner since they last opened a conversation. X's API has no read state, so
DM Reader keeps its own (ReadMark, one row per owner and conversation): this module is its only
writer, and says what counts as new. Reading the marks is queries.py's (`read_mark`, and the
inbox's rows carry theirs).

"New" is what someone else sent after the mark: my own messages are never news to me, and a
conversation never opened in DM Reader is new as a whole (no divider: there was no last visit).
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from conversations.models import Conversation, DmEvent, ReadMark


def is_new(
    at: datetime | None, sort_id: str, seen_at: datetime | None, seen_sort_id: str | None
) -> bool:
    """Whether an event at (at, sort_id) comes after a mark at (seen_at, seen_sort_id); with no
    mark, everything does."""
    if at is None:
        return False
    if seen_at is None:
        return True
    return (at, sort_id) > (seen_at, seen_sort_id or "")


def unread(conversation: Conversation, me: str) -> bool:
    """An inbox row in bold: its newest event is someone else's and after the owner's mark
    (queries.inbox annotates `seen_at` and `seen_sort_id`). A reply of mine reads everything
    before it, as X's own inbox counts it."""
    last = conversation.last_event
    if last is None or last.sender_x_id == me:
        return False
    return is_new(
        last.created_at,
        last.sort_id,
        getattr(conversation, "seen_at", None),
        getattr(conversation, "seen_sort_id", None),
    )


def seen_in(rows: list[Conversation], conversation: Conversation, event: DmEvent) -> None:
    """Inbox rows read before mark_seen moved `conversation`'s mark to `event`: its row as the
    mark now stands (it only moves forward)."""
    for row in rows:
        if row.pk == conversation.pk and is_new(
            event.created_at, event.sort_id, row.seen_at, row.seen_sort_id
        ):
            row.seen_at, row.seen_sort_id = event.created_at, event.sort_id


def first_unseen(
    events: list[DmEvent], mark: ReadMark | None, me: str, *, found_oldest: bool = False
) -> str:
    """The id of the first event (oldest first) someone else sent after `mark`: the thread's
    "New" line goes before it. "" with no mark (a first visit: nothing to be new since), and
    when even the page's oldest event is past the mark with older ones above it: more arrived
    than a page holds, and the line's place is on an older page, not at this one's top."""
    if mark is None or not events:
        return ""

    def new(event: DmEvent) -> bool:
        return is_new(event.created_at, event.sort_id, mark.last_seen_at, mark.last_seen_sort_id)

    if new(events[0]) and not found_oldest:
        return ""
    return next((e.x_id for e in events if e.sender_x_id != me and new(e)), "")


def mark_seen(
    *,
    owner: AbstractBaseUser,
    conversation: Conversation,
    event: DmEvent,
    current: ReadMark | None,
) -> None:
    """The owner has been shown `event`, the newest of `conversation` on their screen: move the
    mark to it. `current` is the mark as the caller read it, so an open that moves nothing writes
    nothing. One statement either way, and never backwards: the UPDATE only moves an older mark
    (two tabs reading at once), and a first mark that another request wrote meanwhile wins."""
    if current is not None and not is_new(
        event.created_at, event.sort_id, current.last_seen_at, current.last_seen_sort_id
    ):
        return
    seen = {"last_seen_at": event.created_at, "last_seen_sort_id": event.sort_id}
    if current is None:
        ReadMark.objects.bulk_create(
            [ReadMark(owner=owner, conversation=conversation, **seen)], ignore_conflicts=True
        )
        return
    # Still older than `event` when the UPDATE runs: the thread's keyset order, on the mark.
    older = Q(last_seen_at__lt=event.created_at) | Q(
        last_seen_at=event.created_at, last_seen_sort_id__lt=event.sort_id
    )
    ReadMark.objects.filter(older, pk=current.pk, owner=owner).update(
        **seen, updated_at=timezone.now()
    )
