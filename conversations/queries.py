"""Every read of the cache. Each starts from the signed-in owner's own rows (`visible_to`); views
never build a queryset of cached messages themselves."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from conversations.models import Conversation, DmEvent, Media, SharedPost, XUser

PAGE = 50


@dataclass(frozen=True)
class Page:
    """Events oldest first, whatever the direction they were read in (as Zulip does)."""

    events: list[DmEvent]
    found_oldest: bool  # nothing older is cached
    found_newest: bool  # nothing newer is cached


def visible_to(owner: AbstractBaseUser) -> QuerySet[DmEvent]:
    return DmEvent.objects.filter(owner=owner)


INBOX_PAGE = 50


def inbox(owner: AbstractBaseUser, after: Conversation | None = None) -> QuerySet[Conversation]:
    """The owner's conversations, latest activity first, with what a row shows in flat queries;
    with `after`, those below it (keyset on (last_event_at, id), for the inbox's next page)."""
    conversations = Conversation.objects.filter(owner=owner, last_event__isnull=False)
    if after is not None:
        conversations = conversations.filter(
            Q(last_event_at__lte=after.last_event_at)
            & (
                Q(last_event_at__lt=after.last_event_at)
                | Q(last_event_at=after.last_event_at, pk__lt=after.pk)
            )
        )
    return (
        conversations.select_related("last_event", "last_event__sender")
        .prefetch_related(
            Prefetch("participants", queryset=XUser.objects.order_by("name", "x_id")),
            Prefetch("last_event__media", queryset=Media.objects.only("pk", "type")),
            Prefetch("last_event__shared_posts", queryset=SharedPost.objects.only("pk", "x_id")),
        )
        .order_by("-last_event_at", "-pk")
    )


def conversation(owner: AbstractBaseUser, x_id: str) -> Conversation:
    """The owner's conversation, or 404: another account's id is as unknown as a made-up one."""
    return get_object_or_404(
        Conversation.objects.prefetch_related("participants"), owner=owner, x_id=x_id
    )


def event(owner: AbstractBaseUser, conversation: Conversation, x_id: str) -> DmEvent:
    return get_object_or_404(visible_to(owner), conversation=conversation, x_id=x_id)


def older_than(created_at, sort_id: str) -> Q:
    """Strictly before (created_at, sort_id). The redundant `created_at <=` is what lets SQLite and
    PostgreSQL turn the OR into an index range instead of filtering every row after the anchor
    (bench/reader_bench.py: a deep page went from 18 to 0.05 ms)."""
    return Q(created_at__lte=created_at) & (
        Q(created_at__lt=created_at) | Q(created_at=created_at, sort_id__lt=sort_id)
    )


def newer_than(created_at, sort_id: str) -> Q:
    return Q(created_at__gte=created_at) & (
        Q(created_at__gt=created_at) | Q(created_at=created_at, sort_id__gt=sort_id)
    )


def _with_everything(events: QuerySet[DmEvent]) -> QuerySet[DmEvent]:
    return events.select_related("sender").prefetch_related(
        "media", Prefetch("shared_posts", queryset=SharedPost.objects.select_related("author"))
    )


def events_before(
    owner: AbstractBaseUser, conversation: Conversation, anchor: DmEvent | None, limit: int = PAGE
) -> Page:
    """The `limit` events just before `anchor` (the newest ones without it), by keyset on
    (created_at, sort_id): never OFFSET, so the thousandth page costs what the first does."""
    events = visible_to(owner).filter(conversation=conversation)
    if anchor is not None:
        events = events.filter(older_than(anchor.created_at, anchor.sort_id))
    rows = list(_with_everything(events).order_by("-created_at", "-sort_id")[: limit + 1])
    return Page(
        events=rows[:limit][::-1], found_oldest=len(rows) <= limit, found_newest=anchor is None
    )


def events_after(
    owner: AbstractBaseUser, conversation: Conversation, anchor: DmEvent, limit: int = PAGE
) -> Page:
    events = (
        visible_to(owner)
        .filter(conversation=conversation)
        .filter(
            Q(created_at__gt=anchor.created_at)
            | Q(created_at=anchor.created_at, sort_id__gt=anchor.sort_id)
        )
    )
    rows = list(_with_everything(events).order_by("created_at", "sort_id")[: limit + 1])
    return Page(events=rows[:limit], found_oldest=False, found_newest=len(rows) <= limit)


def media_item(owner: AbstractBaseUser, media_key: str) -> Media:
    return get_object_or_404(Media, owner=owner, media_key=media_key)


def x_user(owner: AbstractBaseUser, x_id: str) -> XUser:
    return get_object_or_404(XUser, owner=owner, x_id=x_id)


def x_user_by_username(owner: AbstractBaseUser, username: str) -> XUser | None:
    return XUser.objects.filter(owner=owner, username__iexact=username).first()
