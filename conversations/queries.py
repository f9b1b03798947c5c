"""Every read of the cache. Each starts from the signed-in owner's own rows (`visible_to`); views
never build a queryset of cached messages themselves."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Count,
    F,
    FilteredRelation,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)
from django.http import Http404
from django.shortcuts import get_object_or_404

from conversations import rendering, xids
from conversations.models import (
    Conversation,
    DmEvent,
    HistoryGap,
    ImportJob,
    Media,
    ReadMark,
    SharedPost,
    SyncState,
    XUser,
)

PAGE = 50


@dataclass(frozen=True)
class Page:
    """Events oldest first, whatever the direction they were read in (as Zulip does)."""

    events: list[DmEvent]
    found_oldest: bool  # nothing older is cached
    found_newest: bool  # nothing newer is cached


def visible_to(owner: AbstractBaseUser) -> QuerySet[DmEvent]:
    return DmEvent.objects.filter(owner=owner)


# The inbox's rows a page holds: more than a tall window shows (about 18 rows of 73 px at 1440 px)
# and the next page comes as the last row scrolls into view. Each row is about a tenth of a
# millisecond to read and render: 50 made a conversation's whole page 3 ms slower
# (bench/reader_bench.py).
INBOX_PAGE = 30


# What reader pages show of a person: a name, a handle, an id, whether X still has them (their
# picture is a URL of its own, views.avatar). The rest (a profile's text, X's JSON) is left unread.
PERSON_SHOWN = ("id", "x_id", "username", "name", "unavailable")


# What an inbox row shows (rendering.inbox_row, read_state.unread): a conversation's name and
# time, and its last message by the line the store kept (preview_html), not its body or text.
INBOX_SHOWN = ("x_id", "is_group", "last_event_at", "name", "archive_name")
INBOX_EVENT_SHOWN = (
    *("x_id", "sort_id", "event_type", "created_at", "sender_id", "sender_x_id"),
    *("participant_ids", "preview_html", "body_version"),
)


def inbox(owner: AbstractBaseUser, after: Conversation | None = None) -> QuerySet[Conversation]:
    """The owner's conversations, latest activity first, with what a row shows in flat queries;
    with `after`, those below it (keyset on (last_event_at, id), for the inbox's next page).
    Each carries the owner's read mark (`seen_at`, `seen_sort_id`; None if never opened) in the
    same query, for read_state.unread."""
    conversations = _with_read_mark(
        Conversation.objects.filter(owner=owner, last_event__isnull=False), owner
    )
    if after is not None:
        conversations = conversations.filter(
            Q(last_event_at__lte=after.last_event_at)
            & (
                Q(last_event_at__lt=after.last_event_at)
                | Q(last_event_at=after.last_event_at, pk__lt=after.pk)
            )
        )
    return (
        # The last message's sender is one of the conversation's people (inbox_page loads them).
        conversations.select_related("last_event")
        .only(*INBOX_SHOWN, "last_event", *(f"last_event__{name}" for name in INBOX_EVENT_SHOWN))
        .order_by("-last_event_at", "-pk")
    )


def inbox_page(owner: AbstractBaseUser, after: Conversation | None = None) -> list[Conversation]:
    """A page of the inbox, and one more row (whether there is a next page). Its last messages'
    lines are the ones the store kept; only one other code made reads its media and posts."""
    return _current_lines(with_participants(_inbox_rows(owner, after)))


def conversation_and_inbox(owner: AbstractBaseUser, x_id: str) -> tuple[Conversation, list]:
    """What a whole conversation page reads: the conversation as `conversation` gives it, and
    the inbox's first page (inbox_page) beside it, with everyone's people in one query."""
    convo = _conversation(owner, x_id)
    page = _inbox_rows(owner)
    with_participants([convo, *page])
    return convo, _current_lines(page)


def _inbox_rows(owner: AbstractBaseUser, after: Conversation | None = None) -> list[Conversation]:
    return list(inbox(owner, after)[: INBOX_PAGE + 1])


def _current_lines(page: list[Conversation]) -> list[Conversation]:
    stale = {c.last_event_id: c for c in page if not rendering.body_is_current(c.last_event)}
    if stale:
        for event in _with_everything(DmEvent.objects.filter(pk__in=stale)):
            stale[event.pk].last_event = event
    return page


# Related rows in bulk ---------------------------------------------------------------------------
# prefetch_related builds a related manager and a filtered queryset for every object and relation:
# most of a page's Python time once its SQL was fast (bench/search_bench.py, reader_bench.py).


def participants_of(conversation_ids) -> dict[int, list[XUser]]:
    """{conversation pk: its people as pages show them}, from one query over the through table."""
    through = Conversation.participants.through.objects
    return related_rows(
        through.filter(conversation_id__in=list(conversation_ids)),
        "conversation_id",
        "xuser",
        XUser,
        PERSON_SHOWN,
    )


def with_participants(conversations: list[Conversation]) -> list[Conversation]:
    """The conversations, each with its people where `conversation.participants.all()` finds
    them (rendering.title and the rest read them there)."""
    people = participants_of(c.pk for c in conversations)
    for conversation in conversations:
        set_prefetched(conversation, "participants", XUser, people[conversation.pk])
    return conversations


def related_rows(through: QuerySet, owner_key: str, target: str, model, fields: list[str]):
    """{owner key: [model instances with only `fields` loaded]}, from one query over a through
    table, in the order the rows were linked."""
    wanted = {"id", *fields}
    # Model.from_db takes the loaded values in the model's field order, the rest deferred.
    names = [f.attname for f in model._meta.concrete_fields if f.attname in wanted]
    # Sorted here: an ORDER BY on the through table's key could make it the plan's index.
    rows = sorted(through.values_list("pk", owner_key, *[f"{target}__{n}" for n in names]))
    found: dict[int, list] = {}
    # One instance per row of `model`, however many owners share it (the owner of an inbox is a
    # participant of every row): pages only read them.
    made: dict = {}
    pk_at = names.index(model._meta.pk.attname)
    for _, key, *values in rows:
        if (instance := made.get(values[pk_at])) is None:
            instance = made[values[pk_at]] = model.from_db(through.db, names, values)
        found.setdefault(key, []).append(instance)
    return _Missing(found)


class _Missing(dict):
    def __missing__(self, key):
        return []


def set_prefetched(instance, name: str, model, objects: list) -> None:
    """What prefetch_related leaves for `instance.<name>.all()`: a queryset already evaluated.
    Its query matches nothing, so were anything to filter it again it would find nothing rather
    than rows of someone else's."""
    if model not in _EMPTY_QUERIES:
        _EMPTY_QUERIES[model] = model._default_manager.none().query
    evaluated = QuerySet(model=model, query=_EMPTY_QUERIES[model])
    evaluated._result_cache = objects
    evaluated._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = evaluated


_EMPTY_QUERIES: dict = {}


def conversation(owner: AbstractBaseUser, x_id: str) -> Conversation:
    """The owner's conversation with its people and the owner's read mark on it (read_mark), or
    404: another account's id is as unknown as a made-up one."""
    return with_participants([_conversation(owner, x_id)])[0]


def _conversation(owner: AbstractBaseUser, x_id: str) -> Conversation:
    conversations = _with_read_mark(Conversation.objects.filter(owner=owner), owner)
    return get_object_or_404(conversations, x_id=x_id)


def _with_read_mark(conversations: QuerySet, owner: AbstractBaseUser) -> QuerySet[Conversation]:
    """Each conversation with the owner's read mark on it (`mark_pk`, `seen_at`, `seen_sort_id`;
    None if never opened). At most one row a conversation (unique per owner and conversation):
    a LEFT JOIN, not a query more."""
    mark = FilteredRelation("read_marks", condition=Q(read_marks__owner=owner))
    return conversations.annotate(mark=mark).annotate(
        mark_pk=F("mark__pk"),
        seen_at=F("mark__last_seen_at"),
        seen_sort_id=F("mark__last_seen_sort_id"),
    )


def read_mark(owner: AbstractBaseUser, conversation: Conversation) -> ReadMark | None:
    """How far the owner had read `conversation` (read_state.py moves it), as read with it by
    `conversation` or `conversation_and_inbox`."""
    if conversation.mark_pk is None:
        return None
    return ReadMark(
        pk=conversation.mark_pk,
        owner=owner,
        conversation=conversation,
        last_seen_at=conversation.seen_at,
        last_seen_sort_id=conversation.seen_sort_id,
    )


def event(owner: AbstractBaseUser, conversation: Conversation, x_id: str) -> DmEvent:
    """One of the conversation's events, as a reader's page reads it (_page_of), or 404."""
    return get_object_or_404(_page_of(visible_to(owner)), conversation=conversation, x_id=x_id)


def older_than(created_at, sort_id: str) -> Q:
    """Strictly before (created_at, sort_id). The redundant `created_at <=` is what lets SQLite and
    PostgreSQL turn the OR into an index range instead of filtering every row after the anchor
    (bench/reader_bench.py: a deep page went from 18 to 0.05 ms)."""
    return Q(created_at__lte=created_at) & (
        Q(created_at__lt=created_at) | Q(created_at=created_at, sort_id__lt=sort_id)
    )


def newer_than(created_at, sort_id: str, *, including: bool = False) -> Q:
    """Strictly after (created_at, sort_id), or from it on `including` it."""
    same_time = Q(created_at=created_at) & (
        Q(sort_id__gte=sort_id) if including else Q(sort_id__gt=sort_id)
    )
    return Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | same_time)


# An event's place in its conversation's order: (created_at, sort_id).
Place = tuple[datetime, str]


def _with_everything(events: QuerySet[DmEvent]) -> QuerySet[DmEvent]:
    """Events with all a body shows besides the event (rendering.render_body): the sender, the
    media and the shared posts with their authors."""
    posts = Prefetch("shared_posts", queryset=SharedPost.objects.select_related("author"))
    return events.select_related("sender").prefetch_related("media", posts)


# What a reader's page does not read of an event: its folded text for search, and its text,
# entities and inbox line, which the body the store rendered already shows (X's JSON is read:
# reactions come from it).
THREAD_UNSHOWN = (
    "search_text",
    "text",
    "entities",
    "preview_html",
    "has_link",
    "media_kinds",
    "cached_at",
    "characters",
)


def _page_of(events: QuerySet[DmEvent]) -> QuerySet[DmEvent]:
    # Of the payload X sent, a page shows only an archived message's reactions: read alone, as
    # `archived_reactions` (reactions.raw_reactions), not the whole of `raw` sent and parsed for
    # each of 50 events (0.3 ms of a page at a million events on PostgreSQL).
    return events.defer(*THREAD_UNSHOWN, "raw").annotate(
        archived_reactions=F("raw__archive__messageCreate__reactions")
    )


def _as_shown(rows: list[DmEvent], conversation: Conversation) -> list[DmEvent]:
    """A reader's page: each event's sender from the conversation's people (every sender is one:
    the store makes them so), read only for one that is not; each body as the store rendered it,
    so the page reads no media or posts. An event whose body other code made (stored before the
    rendering changed) is read again whole, with its media and posts, to render it now."""
    people = {p.pk: p for p in conversation.participants.all()}
    for event in rows:
        if event.sender_id in people:
            event.sender = people[event.sender_id]
    prefetch_related_objects(
        [e for e in rows if e.sender_id and not DmEvent.sender.is_cached(e)], "sender"
    )
    stale = [e.pk for e in rows if not rendering.body_is_current(e)]
    if stale:
        whole = {e.pk: e for e in _with_everything(DmEvent.objects.filter(pk__in=stale))}
        rows = [whole.get(e.pk, e) for e in rows]
    return rows


def events_before(
    owner: AbstractBaseUser, conversation: Conversation, place: Place | None, limit: int = PAGE
) -> Page:
    """The `limit` events just before `place` (the newest ones without it), by keyset on
    (created_at, sort_id): never OFFSET, so the thousandth page costs what the first does."""
    events = visible_to(owner).filter(conversation=conversation)
    if place is not None:
        events = events.filter(older_than(*place))
    rows = list(_page_of(events).order_by("-created_at", "-sort_id")[: limit + 1])
    rows = _as_shown(rows, conversation)
    return Page(
        events=rows[:limit][::-1], found_oldest=len(rows) <= limit, found_newest=place is None
    )


def events_after(
    owner: AbstractBaseUser,
    conversation: Conversation,
    place: Place,
    limit: int = PAGE,
    *,
    including: bool = False,
) -> Page:
    # newer_than's redundant created_at >= is what makes the anchor an index range: without it
    # both databases read the conversation from its oldest event up to the anchor (a search
    # result 50,000 events deep: 470 ms on PostgreSQL at 1M events; bench/reader_bench.py).
    events = (
        visible_to(owner)
        .filter(conversation=conversation)
        .filter(newer_than(*place, including=including))
    )
    rows = _as_shown(
        list(_page_of(events).order_by("created_at", "sort_id")[: limit + 1]), conversation
    )
    return Page(events=rows[:limit], found_oldest=False, found_newest=len(rows) <= limit)


@dataclass(frozen=True)
class Reading:
    """A page of a conversation as the reader shows it, and how it ends at the top."""

    page: Page
    anchor: DmEvent | None
    # Nothing older is cached and X has nothing older to give either.
    ended: bool
    # ...and the oldest event shown is the group's creation: the real beginning. Otherwise X's
    # 30-day window may have cut the history short (docs/x-api.md §3.3).
    beginning: bool

    @property
    def oldest(self) -> DmEvent | None:
        return self.page.events[0] if self.page.events else None

    @property
    def newest(self) -> DmEvent | None:
        return self.page.events[-1] if self.page.events else None


def read_conversation(
    owner: AbstractBaseUser,
    conversation: Conversation,
    *,
    before: str = "",
    after: str = "",
    around: str = "",
) -> Reading:
    """The newest page; the page older than `before` or newer than `after` (infinite scroll);
    or the messages around one (`around`, a search result). A cursor must be one of this
    conversation's cached events (404 otherwise). Reads the cache only: fetching older history
    from X is the sync side's (sync.sync_conversation), asked for by a POST."""
    if around:
        # The page's events are read with the event itself among the newer ones: its place is
        # all a query of its own reads.
        place = _place(owner, conversation, around)
        older = events_before(owner, conversation, place, limit=PAGE // 2)
        newer = events_after(owner, conversation, place, limit=PAGE // 2 + 1, including=True)
        page = Page(
            events=[*older.events, *newer.events],
            found_oldest=older.found_oldest,
            found_newest=newer.found_newest,
        )
        return _ending(owner, conversation, page, newer.events[0])
    anchor = place = None
    if cursor := before or after:
        anchor = _as_shown([event(owner, conversation, cursor)], conversation)[0]
        place = (anchor.created_at, anchor.sort_id)
    if after:
        page = events_after(owner, conversation, place)
        return Reading(page=page, anchor=anchor, ended=False, beginning=False)
    return _ending(owner, conversation, events_before(owner, conversation, place), anchor)


def _place(owner: AbstractBaseUser, conversation: Conversation, x_id: str) -> Place:
    place = (
        visible_to(owner)
        .filter(conversation=conversation, x_id=x_id)
        .values_list("created_at", "sort_id")
        .first()
    )
    if place is None:
        raise Http404("No such event in this conversation")
    return place


def _ending(
    owner: AbstractBaseUser, conversation: Conversation, page: Page, anchor: DmEvent | None
) -> Reading:
    oldest = page.events[0] if page.events else None
    if not page.found_oldest:
        return Reading(page=page, anchor=anchor, ended=False, beginning=False)
    # An empty page older than the cache's oldest event (what a fetch from X that found nothing
    # shows) still ends the conversation when X has nothing older either.
    if oldest is not None and xids.creates_group(conversation.x_id, oldest.x_id):
        return Reading(page=page, anchor=anchor, ended=True, beginning=True)
    if oldest is not None and archive_covers(owner, oldest.created_at):
        return Reading(page=page, anchor=anchor, ended=True, beginning=True)
    ended = history_exhausted(owner, conversation)
    return Reading(page=page, anchor=anchor, ended=ended, beginning=False)


def archive_covers(owner: AbstractBaseUser, moment: datetime) -> bool:
    """An imported archive holds every DM of the account up to its `covered_until`: an event
    cached from before then is preceded by nothing the cache lacks."""
    return ImportJob.objects.filter(
        owner=owner, status=ImportJob.DONE, covered_until__gte=moment
    ).exists()


def history_exhausted(owner: AbstractBaseUser, conversation: Conversation) -> bool:
    """Nothing older to ask X for: the conversation's own endpoint said so, or the inbox backfill
    already walked X's whole window (every conversation's events in it are cached)."""
    if conversation.history_complete:
        return True
    return SyncState.objects.filter(owner=owner, backfill_complete=True).exists()


def one_to_one(owner: AbstractBaseUser, me: str, other: str) -> Conversation | None:
    """The owner's cached one-to-one with `other`, if it holds any event."""
    return Conversation.objects.filter(
        owner=owner, x_id=xids.one_to_one_id(me, other), last_event__isnull=False
    ).first()


def sync_state(owner: AbstractBaseUser) -> SyncState | None:
    return SyncState.objects.filter(owner=owner).first()


def media_item(owner: AbstractBaseUser, media_key: str) -> Media:
    return get_object_or_404(Media, owner=owner, media_key=media_key)


def x_user(owner: AbstractBaseUser, x_id: str) -> XUser:
    return get_object_or_404(XUser, owner=owner, x_id=x_id)


def x_user_by_username(owner: AbstractBaseUser, username: str) -> XUser | None:
    """Someone the owner's cache knows by this @username (X's usernames ignore case)."""
    return XUser.objects.filter(owner=owner, username__iexact=username).first()


EXPORT_BATCH = 1000


def conversations_with_counts(
    owner: AbstractBaseUser, events: QuerySet[DmEvent] | None = None
) -> list[tuple[Conversation, int]]:
    """The owner's conversations that have events in `events` (default: all of theirs), latest
    activity first, each with how many: what an export holds, in one grouped query and one for
    the conversations with their participants."""
    scoped = (events if events is not None else visible_to(owner)).filter(owner=owner)
    grouped = scoped.order_by().values("conversation_id").annotate(n=Count("pk"))
    counts = {row["conversation_id"]: row["n"] for row in grouped}
    conversations = (
        Conversation.objects.filter(owner=owner, pk__in=list(counts))
        .prefetch_related(Prefetch("participants", queryset=XUser.objects.order_by("x_id")))
        .order_by("-last_event_at", "-pk")
    )
    return [(c, counts[c.pk]) for c in conversations]


def events_in_order(
    owner: AbstractBaseUser,
    conversation: Conversation,
    events: QuerySet[DmEvent] | None = None,
    *,
    batch: int = EXPORT_BATCH,
) -> Iterator[list[DmEvent]]:
    """Every event of `conversation` in `events` (default: all of the owner's), oldest first, in
    batches read by keyset on (created_at, sort_id) with senders, media and posts fetched in bulk
    per batch: an export's memory stays flat however long the conversation is."""
    scoped = (events if events is not None else visible_to(owner)).filter(
        owner=owner, conversation=conversation
    )
    last = None
    while True:
        page = scoped if last is None else scoped.filter(newer_than(last.created_at, last.sort_id))
        rows = list(_with_everything(page).order_by("created_at", "sort_id")[:batch])
        if rows:
            yield rows
        if len(rows) < batch:
            return
        last = rows[-1]


def history_gaps(
    owner: AbstractBaseUser, *conversations: Conversation | None
) -> dict[int | None, list[HistoryGap]]:
    """Gaps X no longer holds (HistoryGap), oldest first, in one query: {conversation pk: its
    gaps} for each conversation given, and {None: the inbox's own} for None."""
    where = Q(conversation_id__in=[c.pk for c in conversations if c is not None])
    if None in conversations:
        where |= Q(conversation__isnull=True)
    found: dict[int | None, list[HistoryGap]] = {c and c.pk: [] for c in conversations}
    for gap in HistoryGap.objects.filter(where, owner=owner).order_by("after_at", "pk"):
        found[gap.conversation_id].append(gap)
    return found


IMPORTS_LISTED = 20


def import_jobs(owner: AbstractBaseUser) -> QuerySet[ImportJob]:
    """The owner's archive imports, newest first (the Import page's list)."""
    return ImportJob.objects.filter(owner=owner).order_by("-created_at", "-pk")


def import_job(owner: AbstractBaseUser, job_id: int) -> ImportJob:
    """The owner's import, or 404: another account's is as unknown as a made-up one."""
    return get_object_or_404(ImportJob, owner=owner, pk=job_id)


def import_under_way(owner: AbstractBaseUser) -> ImportJob | None:
    return import_jobs(owner).filter(status__in=ImportJob.UNFINISHED).first()


# Media and links ----------------------------------------------------------------------------------

GALLERY_PAGE = 30


def media_events(
    owner: AbstractBaseUser,
    conversation: Conversation,
    before: DmEvent | None = None,
    limit: int | None = None,
) -> Page:
    """The conversation's messages that carry photos, videos or GIFs, NEWEST first (a gallery
    reads back in time), `limit` at a time below `before`: keyset on (created_at, sort_id) as the
    thread pages, with the media in one more query. `found_oldest`: no older page."""
    limit = limit or GALLERY_PAGE
    # The kinds the store keeps on each event (DmEvent.media_kinds), not a probe of the media
    # links for every event of the conversation.
    events = visible_to(owner).filter(~Q(media_kinds=""), conversation=conversation)
    if before is not None:
        events = events.filter(older_than(before.created_at, before.sort_id))
    rows = list(
        events.select_related("sender")
        .prefetch_related(Prefetch("media", queryset=Media.objects.order_by("pk")))
        .order_by("-created_at", "-sort_id")[: limit + 1]
    )
    return Page(events=rows[:limit], found_oldest=len(rows) <= limit, found_newest=before is None)


def message(owner: AbstractBaseUser, x_id: str) -> DmEvent:
    """One of the owner's cached events by its X id, or 404 (a link card's picture names it)."""
    return get_object_or_404(visible_to(owner), x_id=x_id)


def first_event_from(
    owner: AbstractBaseUser, conversation: Conversation, moment: datetime
) -> DmEvent | None:
    """The conversation's first cached event at or after `moment` (jump to a date); past its
    newest, the newest one; None for a conversation with nothing cached."""
    events = visible_to(owner).filter(conversation=conversation)
    found = events.filter(created_at__gte=moment).order_by("created_at", "sort_id").first()
    return found or events.order_by("-created_at", "-sort_id").first()


def media_count(owner: AbstractBaseUser, conversation: Conversation) -> int:
    """How many photos, videos and GIFs the conversation's cached messages carry (the gallery's
    "3 of 57")."""
    return Media.objects.filter(
        owner=owner, events__conversation=conversation, events__owner=owner
    ).count()
