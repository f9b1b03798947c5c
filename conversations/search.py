"""Search over one owner's cached messages.

A query is words, "exact phrases", -excluded words and operators: from:@user, in:@user (the
one-to-one with them), in:<conversation id>, in:name (groups with someone of that name, and the
group of that name), has:media|photo|video|gif|link|post, before:YYYY-MM-DD, after:YYYY-MM-DD. Matching ignores case
and accents. Words match by prefix through the full-text index (SQLite FTS5, or a PostgreSQL
tsvector); text with no word boundaries to index (Chinese, Japanese, emoji, symbols) matches as
a substring of the folded text instead, so it is findable on both databases alike.
"""

import contextlib
import functools
import json
import math
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import BooleanField, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from conversations import queries, rendering, xids
from conversations.models import (
    MEDIA_KIND_LETTERS,
    Conversation,
    DmEvent,
    Media,
    SharedPost,
    XUser,
)
from dmreader import accounts

PAGE = 20
HAS = {"media", "photo", "video", "gif", "link", "post"}
OPERATORS = ("from", "in", "has", "before", "after")
_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+))')
_WORD = re.compile(r"[^\W_]+")
# Scripts written without spaces between words: the tokenizers see a whole run as one word.
# Punctuation the tokenizers treat as a break between words, as a query may contain it ("don't").
_BETWEEN_WORDS = set("'\u2019.,!?;:()-")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


class SearchError(ValueError):
    """A query that cannot be run; the message says how to fix it."""


def normalize(text: str) -> str:
    """Fold case, accents and compatibility forms (ﬁ, full-width letters) the same way for the
    indexed text and the query, and turn punctuation into spaces: FTS5 splits words there anyway,
    while PostgreSQL's parser would read "<b>" as a tag or a URL as one token, and drop or keep
    them whole. Symbols and emoji stay, to be found as written."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFC", stripped).casefold()
    return "".join(
        " " if unicodedata.category(c).startswith("P") or c in "<>=+|^`~$" else c for c in folded
    )


# A space in the Unicode tables SQLite's tokenizer was built from, a format character since
# Unicode 6.3: indexed on one side only, it would be a token no message holds.
MONGOLIAN_VOWEL_SEPARATOR = "\u180e"


def characters_of(folded: str) -> str:
    """DmEvent.characters for a folded text: each of its characters outside ASCII once, in code
    point order, between spaces, but those the index's tokenizer takes for spaces (Unicode's Z
    categories, and U+180E). A message holding 東京 or 🔥 holds these characters: the index of
    them narrows a substring search to the rows holding every character of the text, and LIKE
    decides."""
    found = {
        c
        for c in folded
        if ord(c) > 0x7F and unicodedata.category(c)[0] != "Z" and c != MONGOLIAN_VOWEL_SEPARATOR
    }
    return " ".join(sorted(found))


@dataclass(frozen=True)
class Text:
    """A word or phrase to find, folded. `words` is set when the index can find it."""

    folded: str
    words: tuple[str, ...]
    phrase: bool


@dataclass
class Query:
    include: list[Text] = field(default_factory=list)
    exclude: list[Text] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # usernames, or "me"
    places: list[str] = field(default_factory=list)
    has: set[str] = field(default_factory=set)
    before: date | None = None
    after: date | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.include or self.senders or self.places or self.has or self.before or self.after
        )


def parse(raw: str) -> Query:
    if raw.count('"') % 2:
        raise SearchError('A quote is not closed: put a " at the end of the phrase.')
    query = Query()
    for negated, operator, quoted, bare in _TOKEN.findall(raw):
        value = quoted if quoted or bare == "" else bare
        operator = operator.lower()
        if not operator and not quoted and value.endswith(":") and value[:-1].lower() in OPERATORS:
            operator, value = value[:-1].lower(), ""
        if operator and operator not in OPERATORS:
            value, operator = f"{operator}:{value}", ""  # a URL or "10:30", not an operator
        if not operator:
            text = _text(value, phrase=bool(quoted))
            if text is not None:
                (query.exclude if negated else query.include).append(text)
            continue
        if not value:
            raise SearchError(
                f"{operator}: needs something after it, for example {_EXAMPLES[operator]}."
            )
        if negated:
            raise SearchError(f"-{operator}: is not supported; leave out the minus.")
        _operator(query, operator, value)
    if query.empty and query.exclude:
        raise SearchError("Add something to look for besides the words to leave out.")
    return query


_EXAMPLES = {
    "from": "from:@ana",
    "in": "in:@ana",
    "has": "has:photo",
    "before": "before:2026-11-01",
    "after": "after:2026-10-01",
}


def _operator(query: Query, operator: str, value: str) -> None:
    if operator == "from":
        query.senders.append(value.lstrip("@"))
    elif operator == "in":
        query.places.append(value)
    elif operator == "has":
        if value.lower() not in HAS:
            raise SearchError(
                f"has:{value} is not known; use one of has:{', has:'.join(sorted(HAS))}."
            )
        query.has.add(value.lower())
    else:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise SearchError(
                f"{operator}:{value} is not a date; write it as {_EXAMPLES[operator]}."
            ) from None
        setattr(query, operator, day)


def _text(value: str, *, phrase: bool) -> Text | None:
    folded = " ".join(normalize(value).split())
    if not folded:
        return None
    words = tuple(_WORD.findall(folded))
    # The index serves text made only of words (and the punctuation between them); anything
    # else — emoji, symbols, unspaced scripts — is looked for as it is written.
    leftover = _WORD.sub("", folded)
    indexable = (
        bool(words)
        and not _UNSPACED.search(folded)
        and all(c.isspace() or c in _BETWEEN_WORDS for c in leftover)
    )
    return Text(folded=folded, words=words if indexable else (), phrase=phrase or len(words) > 1)


# Running a query -------------------------------------------------------------------------------

# Best match ranks the newest matches only: ranking every match of a common word means reading
# half the cache (ts_rank or bm25 over 424,567 rows took 550-890 ms at a million events), while
# the newest hundred are what a person looking back through their DMs is after.
BEST_CANDIDATES = 100
# What a page shows of an event, its conversation and its sender (search.html): the rest of the
# row (raw payloads) is never read for a result. Entities turn t.co links back into what they show.
_RESULT_FIELDS = [
    "x_id",
    "text",
    "entities",
    "created_at",
    "sort_id",
    "sender_x_id",
    "conversation__x_id",
    "conversation__is_group",
    "conversation__name",
    "conversation__archive_name",
    "sender__x_id",
    "sender__name",
    "sender__username",
]


@dataclass(frozen=True)
class Result:
    event: DmEvent
    snippet: SafeString


@dataclass(frozen=True)
class ResultPage:
    results: list[Result]
    cursor: str  # for the next page; empty at the end
    # Best match ranked only the newest this many matches, there being more (0 otherwise).
    ranked_newest: int = 0

    @property
    def note(self) -> str:
        """What the page should tell the person about how it was ordered, if anything."""
        if not self.ranked_newest:
            return ""
        return (
            f"Best match ranks the newest {self.ranked_newest:,} matches; "
            "to look further back, sort by newest or add words, dates or from:."
        )


@dataclass(frozen=True)
class _Found:
    """A matching event, as far as choosing a page needs it."""

    pk: int
    search_text: str
    created_at: datetime | None  # None until needed (see _texts)
    sort_id: str


def run(
    owner: AbstractBaseUser,
    query: Query,
    *,
    order: str = "newest",
    cursor: str = "",
    conversation: Conversation | None = None,
    limit: int = PAGE,
) -> ResultPage:
    """A page of results: first the ids (newest_matches picks the cheapest plan for the query),
    then the page's rows with only what a result shows."""
    with _serial_plans():
        return _run(
            owner, query, order=order, cursor=cursor, conversation=conversation, limit=limit
        )


@contextlib.contextmanager
def _serial_plans():
    """PostgreSQL: the search's statements without parallel workers. Its plans are index walks
    that stop at a page, or a bounded set read through an index; a Gather's workers cost more to
    start than the work they share on two cores (has:video at a million events: 12 ms with two
    workers, 2 without; "you has:photo" best match 50-59 ms, 19). SET LOCAL: for this
    transaction only, so nothing else on the connection is changed."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def _run(
    owner: AbstractBaseUser,
    query: Query,
    *,
    order: str,
    cursor: str,
    conversation: Conversation | None,
    limit: int,
) -> ResultPage:
    undated = _scoped(owner, query, conversation, dates=False)
    scoped = _between_dates(undated, query)
    events = _filtered(scoped, query, conversation)
    # The walk (SQLite) bounds each stretch itself; see _sqlite_newest.
    walkable = _filtered(undated, query, conversation)
    narrowed = bool(
        query.senders or query.places or conversation is not None or query.has & MEDIA_KINDS.keys()
    )
    best = order == "best" and any(t.words for t in query.include)
    ranked_newest = 0
    if best:
        # One more than are ranked, to tell whether there were more.
        candidates = newest_matches(
            scoped, query, events, BEST_CANDIDATES + 1, walkable=walkable, narrowed=narrowed
        )
        if len(candidates) > BEST_CANDIDATES:
            ranked_newest = BEST_CANDIDATES
        ranked = _ranked(_dated(candidates[:BEST_CANDIDATES]), query)
        if cursor:
            after = _best_cursor(owner, cursor)
            ranked = [(score, f) for score, f in ranked if _best_key(score, f) > after]
        scores = {f.pk: score for score, f in ranked[: limit + 1]}
        found = [f for _, f in ranked[: limit + 1]]
    else:
        older = _newest_cursor(owner, cursor) if cursor else None
        found = newest_matches(
            scoped, query, events, limit + 1, older=older, walkable=walkable, narrowed=narrowed
        )
    rows = (
        queries.visible_to(owner)
        .filter(pk__in=[f.pk for f in found[:limit]])
        .select_related("conversation", "sender")
        .only(*_RESULT_FIELDS)
    )
    by_pk = {event.pk: event for event in rows}
    _load_related(list(by_pk.values()))
    # An event deleted (account erasure) between the two queries is left out.
    page = [by_pk[f.pk] for f in found[:limit] if f.pk in by_pk]
    results = [Result(e, highlight(_shown_text(e), query.include)) for e in page]
    next_cursor = ""
    if len(found) > limit and page:
        last = page[-1]
        next_cursor = f"{scores[last.pk]!r}:{last.x_id}" if best else last.x_id
    return ResultPage(results, next_cursor, ranked_newest)


def _load_related(events: list[DmEvent]) -> None:
    """Where each result is (its conversation's people, for the title) and what it carries (its
    media and shared posts): one query over each through table for the whole page, the rows set
    where `event.media.all()` and the others find them, as prefetch_related leaves them.
    prefetch_related itself built a related manager and a filtered queryset for every event and
    relation: most of a page's Python time (bench/search_bench.py)."""
    conversations = {event.conversation_id for event in events}
    people = queries.participants_of(conversations)
    media = queries.related_rows(
        DmEvent.media.through.objects.filter(dmevent_id__in=[event.pk for event in events]),
        "dmevent_id",
        "media",
        Media,
        ["media_key", "type", "alt_text"],
    )
    posts = queries.related_rows(
        DmEvent.shared_posts.through.objects.filter(dmevent_id__in=[event.pk for event in events]),
        "dmevent_id",
        "sharedpost",
        SharedPost,
        ["x_id"],
    )
    for event in events:
        queries.set_prefetched(
            event.conversation, "participants", XUser, people[event.conversation_id]
        )
        queries.set_prefetched(event, "media", Media, media[event.pk])
        queries.set_prefetched(event, "shared_posts", SharedPost, posts[event.pk])


def _shown_text(event: DmEvent) -> str:
    """The text as the conversation shows it: links as X displays them instead of t.co, without
    the links a photo or a shared post stands for (a photo alone has no text: the result names it)."""
    return rendering.plain_text(
        event.text, event.entities, {p.x_id for p in event.shared_posts.all()}
    )


def matching(owner: AbstractBaseUser, query: Query) -> QuerySet[DmEvent]:
    """Every event of the owner's that matches, as one SQL query: the full-text index narrows by
    words, filters by the rest. The reference for what a query finds (tests, bench/); run()
    reaches the same rows by the cheapest way for the query (newest_matches)."""
    events = _filtered(_scoped(owner, query), query)
    indexed = [t for t in query.include if t.words]
    excluded = [t for t in query.exclude if t.words]
    if indexed and connection.vendor == "sqlite":
        events = _fts_joined(events, _fts5(indexed, excluded))
    elif indexed:
        events = events.filter(_tsquery_match(_tsquery(indexed, excluded)))
    elif excluded and connection.vendor == "sqlite":
        events = events.exclude(
            pk__in=RawSQL(
                "SELECT rowid FROM conversations_dmevent_fts"
                " WHERE conversations_dmevent_fts MATCH %s",
                [_fts5_any(excluded)],
            )
        )
    elif excluded:
        events = events.exclude(_tsquery_match(_tsquery_any(excluded)))
    return events


def _scoped(
    owner: AbstractBaseUser,
    query: Query,
    conversation: Conversation | None = None,
    *,
    dates: bool = True,
) -> QuerySet[DmEvent]:
    """The owner's events in the places, from the senders, with the media (_media_timeline) and
    between the dates asked for: a stretch of timeline that an index serves in date order (see
    _sqlite_newest)."""
    events = queries.visible_to(owner)
    if conversation is not None:
        events = events.filter(conversation=conversation)
    if query.senders:
        events = events.filter(_senders(owner, query.senders))
    if query.places:
        events = events.filter(_places(owner, query.places))
    for kind in sorted(_media_timeline(query, conversation)):
        events = events.filter(_has(kind))
    return _between_dates(events, query) if dates else events


def _between_dates(
    events: QuerySet[DmEvent], query: Query, *, before: bool = True, after: bool = True
) -> QuerySet[DmEvent]:
    if query.before and before:
        events = events.filter(created_at__lt=_start_of(query.before))
    if query.after and after:
        events = events.filter(created_at__gte=_start_of(query.after + timedelta(days=1)))
    return events


def _media_timeline(query: Query, conversation: Conversation | None) -> set[str]:
    """The media has: that make the timeline search walks (_scoped), read through the index of
    events with media (dmevent_owner_media_time): "you has:photo" walks the photos, a few hundred
    rows for a page, not the 19,000 events they lie among. Not with from: or in:: their own
    index is the timeline then, and the media a check on its rows. Given both, SQLite read the
    sender's index and each row for its media, which made the timeline's edge 14,000 rows read
    ("you has:photo from:@friend" at a million events: 45 ms, 15 as a check on the walk)."""
    if query.senders or query.places or conversation is not None:
        return set()
    return query.has & MEDIA_KINDS.keys()


def _filtered(
    scoped: QuerySet[DmEvent], query: Query, conversation: Conversation | None = None
) -> QuerySet[DmEvent]:
    """The messages of `scoped` (_scoped for `conversation`) that pass everything but the indexed
    words: has: (but the media of the timeline), and text the index cannot serve (a substring of
    the folded text)."""
    events = scoped.filter(event_type=DmEvent.MESSAGE_CREATE)
    for text in query.include:
        if not text.words:
            events = events.filter(search_text__contains=text.folded)
    for text in query.exclude:
        if not text.words:
            events = events.exclude(search_text__contains=text.folded)
    for kind in sorted(query.has - _media_timeline(query, conversation)):
        events = events.filter(_has(kind))
    return events


def _fts_joined(
    events: QuerySet[DmEvent], expression: str, *, table: str = "conversations_dmevent_fts"
) -> QuerySet[DmEvent]:
    # Joined, the FTS table drives the plan: a rare word reads its few rows from the index. The
    # table is one of the two index tables, never from the query; the expression is a parameter.
    return events.extra(  # noqa: S610
        tables=[table],
        where=[f"{table}.rowid = conversations_dmevent.id", f"{table} MATCH %s"],
        params=[expression],
    )


def _tsquery_match(tsquery: str) -> Q:
    matched = RawSQL(
        "search_vector @@ to_tsquery('simple', %s)", [tsquery], output_field=BooleanField()
    )
    return Q(matched)


_NEWEST = ["-created_at", "-sort_id"]
_FOUND = ["pk", "search_text", "created_at", "sort_id"]


def newest_matches(
    scoped: QuerySet[DmEvent],
    query: Query,
    events: QuerySet[DmEvent],
    count: int,
    *,
    older: tuple[datetime, str] | None = None,
    walkable: QuerySet[DmEvent] | None = None,
    narrowed: bool = False,
) -> list[_Found]:
    """The newest `count` of `events` (_filtered from `scoped`) that match the query's words,
    older than `older` (created_at, sort_id) when given. `walkable` is `events` without the
    query's dates, for the SQLite walk to bound its stretches by. `narrowed`: `scoped` is one
    person's messages or some conversations', whose rows lie scattered in the table.

    Both databases read a first stretch of the timeline, which tells how common the words are,
    then walk on (common words) or ask the full-text index for every match and sort (rare ones).
    PostgreSQL's planner alone walked the time index for a rare prefix word (587 ms for 201
    matches at a million events): see _postgres_newest. SQLite's FTS5 can only hand over every
    match in rowid order, which is not date order, and a prefix query ("you"*) merges the whole
    doclist of every word it covers before the first row (150 ms and more for a common word at
    a million events, per query and so per row when asked row by row). So on SQLite the words
    are decided here instead (_sqlite_newest)."""
    indexed = [t for t in query.include if t.words]
    excluded = [t for t in query.exclude if t.words]
    if connection.vendor == "postgresql" and indexed:
        tsquery = _tsquery(indexed, excluded)
        return _postgres_newest(scoped, events, indexed, tsquery, count, older, narrowed)
    characters = _unindexed_characters(query)
    # SQLite leaves words out with its sieve, on the walk (_sieved_batches).
    if characters and (connection.vendor == "postgresql" or not excluded):
        if excluded:
            events = events.exclude(_tsquery_match(_tsquery_any(excluded)))
        return _substring_newest(scoped, events, walkable, query, characters, count, older)
    if connection.vendor == "postgresql" or not (indexed or excluded):
        if older is not None:
            events = events.filter(queries.older_than(*older))
        if excluded:
            events = events.exclude(_tsquery_match(_tsquery_any(excluded)))
        return _newest(events, count)
    walkable = events if walkable is None else walkable
    return _sqlite_newest(scoped, events, walkable, query, count, older)


def _newest(events: QuerySet[DmEvent], count: int) -> list[_Found]:
    return [_Found(*row) for row in events.order_by(*_NEWEST).values_list(*_FOUND)[:count]]


# PostgreSQL: the newest stretch first, then the planner's walk or the GIN index ------------------

# Rows of the timeline read first: a word found in a page of them is common (bench: "you" at a
# million events). Fewer than that and the planner alone would still walk the time index with
# the tsquery as a filter, for a rare prefix word too (587 ms for 201 matches at a million events).
_POSTGRES_FIRST_WINDOW = 1024


def _postgres_newest(
    scoped, events, indexed, tsquery: str, count: int, older, narrowed: bool = False
) -> list[_Found]:
    """The newest `count` of `events` matching `tsquery` (the `indexed` texts without the words
    left out), older than `older`. A first stretch of the timeline, read through the time index
    with the tsquery as a plain filter, finds the page when the words are common. Otherwise the
    planner's own estimate of the words' matches (what the GIN index would read) is weighed
    against the rows still to walk: walking, the one query (the plan PostgreSQL picks for ORDER
    BY ... LIMIT: the same walk) finds the page; else every match comes from the GIN index,
    materialized so the planner cannot turn it back into the walk, then sorted."""
    words = _tsquery(indexed)
    if older is not None:
        events = events.filter(queries.older_than(*older))
    # The GIN index serves the words; what is left out is checked on the rows it finds: GIN
    # evaluates "coffee:* & !you:*" by reading every posting of you* (302 ms of 357).
    matched = events.filter(_tsquery_match(words))
    if words != tsquery:
        matched = matched.filter(_tsquery_unindexed(tsquery))
    edge = _timeline_edge(scoped, older, _POSTGRES_FIRST_WINDOW)
    if edge is None:  # the whole scope is shorter than a stretch
        return _newest(matched, count)
    # The stretch through the time index only: with the GIN index too, for "you" a bitmap of
    # 424,567 matches ANDed with the stretch cost 10 ms where reading its 1,024 rows costs one.
    stretch = events.filter(_at_or_after(*edge)).filter(_tsquery_unindexed(tsquery))
    found = _newest(stretch, count)
    if len(found) >= count:
        return found
    matches = _postgres_estimate(indexed)
    if found:
        needed = (count - len(found)) * _POSTGRES_FIRST_WINDOW / len(found)
    else:  # rarer than one in a stretch, and as rare as the whole cache says
        needed = count * max(_POSTGRES_FIRST_WINDOW, _cache_rows() / max(matches, 1))
    cost = _POSTGRES_SCATTERED_MATCH_COST if narrowed else _POSTGRES_INDEX_MATCH_COST
    if matches * cost >= needed:
        # The walk, again from the newest: bounded by the stretch's edge, the planner took the
        # GIN index for a common phrase ("you the": 146 ms, 0.65 ms without the bound). And the
        # tsquery only as a filter no index serves: offered the words' GIN index, the planner
        # read every match of coffee* for "coffee -you" and sorted them (120 ms; the walk, 14).
        walk = events.filter(_tsquery_unindexed(tsquery))
        return _newest(walk, count)
    rest = matched.filter(queries.older_than(*edge))
    window = TIME_WINDOW_MARGIN * needed
    # A window of time only where the first stretch held matches, its pace then a measure of the
    # words' own (the planner's estimate for a prefix is no guide: thousands for a word in 201
    # messages), and only while it reads fewer rows than the matches it spares would cost.
    if not found or window >= _WINDOW_ROWS_PER_MATCH * matches:
        return found + _materialized_newest(rest, count - len(found))
    # First the matches of the stretch of time the page should lie in, by the first stretch's
    # pace (its rows a second) and TIME_WINDOW_MARGIN times the rows it needs: bounded by time,
    # PostgreSQL ANDs the GIN index's bitmap with the time index's and reads from the table only
    # the rows in both ("coffee -you" by best match: 8-10 ms, against 17-19 for every one of
    # coffee*'s 6,554 matches). Then, if the stretch held too few, the matches older than it.
    top = older[0] if older is not None else _timeline_edge(scoped, None, 1)[0]
    bound = edge[0] - (top - edge[0]) * (window / _POSTGRES_FIRST_WINDOW)
    found += _materialized_newest(rest.filter(created_at__gte=bound), count - len(found))
    if len(found) >= count:
        return found
    return found + _materialized_newest(rest.filter(created_at__lt=bound), count - len(found))


# How much wider than the first stretch's pace says the page needs the window of time read first
# is: a guess too narrow costs a second query for the rest.
TIME_WINDOW_MARGIN = 2
# A row of the time index's bitmap costs about a fiftieth of a match read from the table (80,000
# rows in 4-5 ms, coffee*'s 6,554 matches in 17): a window of time pays while it holds fewer rows
# than that for each match. For a rare word it does not: "nimairoutros" (201 matches) read a
# window of 209,000 rows and went from 11.8 to 16.4 ms.
_WINDOW_ROWS_PER_MATCH = 50


def _postgres_estimate(indexed: list[Text]) -> float:
    """How many messages (everyone's) the planner expects the GIN index to find for the words,
    every word of a phrase apart (the index finds those rows; the phrase is checked on them).
    From the column's statistics, no row read: "coffee" 6,032 (6,554 are), a rare prefix word a
    few hundred. PostgreSQL's walk-or-GIN choice already uses it, and for a rare prefix word
    picked the walk anyway (587 ms for 201 matches)."""
    parts = [w if t.phrase else f"{w}:*" for t in indexed for w in t.words]
    with connection.cursor() as cursor:
        cursor.execute(_ESTIMATE, [" & ".join(parts)])
        [(plan,)] = cursor.fetchall()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


_ESTIMATE = (
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM conversations_dmevent"
    " WHERE search_vector @@ to_tsquery('simple', %s)"
)


# Text no word index serves (CJK, emoji, symbols): the index of characters ----------------------

# Chinese, Japanese and Korean text, emoji and symbols are looked for as substrings (LIKE '%…%'),
# which no B-tree, tsvector or word of FTS5 serves; a message holding 東京 holds the characters 東
# and 京, so an index of each event's characters (DmEvent.characters, migration 0015) narrows the
# rows to those holding every such character of the text, and LIKE decides. pg_trgm's trigram
# index would not do: it keeps letters and digits only (no emoji) and a LIKE needle must have
# three of them in a row (東京, two characters, has no trigram); nor would FTS5's trigram
# tokenizer, for the same three.
#
# PostgreSQL: the column split at its spaces, as migration 0015's GIN index holds it (a query
# must write the expression exactly as the index does). SQLite: an FTS5 table over the column,
# one token a character.
UNINDEXED_CHARACTERS = "string_to_array(characters, ' ')"
_HOLDS_CHARACTERS = f"{UNINDEXED_CHARACTERS} @> %s::text[]"
_CHARACTERS_TABLE = "conversations_dmevent_characters"


# A row found through the characters' index (a bitmap heap scan: 1,050 rows for 東京 in 3.3 ms
# at a million events) costs about as much as four rows walked with LIKE (40,000 in 34 ms).
_POSTGRES_CHARACTER_MATCH_COST = 4.0


def _unindexed_characters(query: Query) -> list[str]:
    """Every character of the query's substring texts that DmEvent.characters would hold, each
    once; empty when there are none or the query also has words to look for."""
    if any(t.words for t in query.include):
        return []
    return sorted({c for t in query.include for c in characters_of(t.folded).split()})


def _substring_newest(scoped, events, walkable, query, characters: list[str], count, older):
    """The newest `count` of `events` (whose filters hold the LIKE of each text), older than
    `older`: a first stretch of the timeline, then, if the texts are rarer than that, the walk
    or every row the characters' index finds (then sorted), as for words (_postgres_newest,
    _sqlite_newest). 🔥 at a million events walked 40,000 rows (70 ms) for its page on
    PostgreSQL; "🔥 from:@friend" read that person's 72,141 messages on SQLite (37 ms)."""
    postgres = connection.vendor == "postgresql"
    if older is not None:
        events = events.filter(queries.older_than(*older))
    window = _POSTGRES_FIRST_WINDOW if postgres else _FIRST_WINDOW
    edge = _timeline_edge(scoped, older, window)
    if edge is None:
        return _newest(events, count)
    found = _newest(events.filter(_at_or_after(*edge)), count)
    if len(found) >= count:
        return found
    # The index costs its matches; the walk, the rows still to read for the page. With nothing
    # found yet those are count * cache / matches (the texts' share of the whole cache) or at
    # least a stretch each: the index is cheaper below the larger of the two bounds.
    cost = max(_POSTGRES_CHARACTER_MATCH_COST if postgres else _INDEX_MATCH_COST, 1e-9)
    if found:
        enough = (count - len(found)) * window / len(found) / cost
    else:
        enough = max(count * window / cost, math.sqrt(count * _cache_rows() / cost))
    if _character_matches(characters, below=enough) >= enough:
        return found + _newest(events.filter(queries.older_than(*edge)), count - len(found))
    if postgres:
        # The SQL is a constant; the characters are a parameter.
        held = RawSQL(_HOLDS_CHARACTERS, [characters], output_field=BooleanField())  # noqa: S611
        rest = events.filter(queries.older_than(*edge)).filter(Q(held))
        return found + _materialized_newest(rest, count - len(found))
    # Beside a MATCH, SQLite's planner would walk a date index and ask FTS5 row by row: the
    # dates are written so that none serves them (see _sqlite_newest).
    rest = _older_unindexed(_unindexed_dates(walkable, query), edge)
    rest = _fts_joined(rest, _fts5_characters(characters), table=_CHARACTERS_TABLE)
    return found + _newest(rest, count - len(found))


def _character_matches(characters: list[str], *, below: float) -> float:
    """How many events (everyone's) hold every one of `characters`: PostgreSQL's planner's
    estimate, from the statistics of the indexed expression (no row is read); SQLite's count of
    the index's matches, read no further than `below`."""
    if connection.vendor == "postgresql":
        return _postgres_rows(_HOLDS_CHARACTERS, [characters])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {_CHARACTERS_TABLE}"  # noqa: S608
            f" WHERE {_CHARACTERS_TABLE} MATCH %s LIMIT %s)",
            [_fts5_characters(characters), max(1, math.ceil(below))],
        )
        return cursor.fetchone()[0]


def _fts5_characters(characters: list[str]) -> str:
    # Characters outside ASCII: none is a double quote, so quoting cannot be broken out of.
    return " AND ".join(f'"{c}"' for c in characters)


def _postgres_rows(condition: str, params: list) -> float:
    """How many events (everyone's) the planner expects to match `condition`, from the
    statistics: no row is read."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM conversations_dmevent WHERE {condition}",  # noqa: S608
            params,
        )
        [(plan,)] = cursor.fetchall()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def _tsquery_unindexed(tsquery: str) -> Q:
    """The tsquery as a filter on rows read some other way: no index matches `(… @@ …) IS TRUE`
    (as SQLite's unary + on a column)."""
    matched = RawSQL(
        "(search_vector @@ to_tsquery('simple', %s)) IS TRUE",
        [tsquery],
        output_field=BooleanField(),
    )
    return Q(matched)


def _materialized_newest(events: QuerySet[DmEvent], count: int) -> list[_Found]:
    """Every row of `events` read first (the GIN index serves the tsquery), then the newest
    `count`: a MATERIALIZED CTE is a fence PostgreSQL's planner does not push the ORDER BY and
    LIMIT through."""
    sql, params = events.order_by().values_list(*_FOUND).query.sql_with_params()
    newest = "ORDER BY 3 DESC, 4 DESC"  # created_at, sort_id (_FOUND)
    with connection.cursor() as cursor:
        cursor.execute(
            # The SQL is Django's own compilation of the queryset, with its parameters apart.
            f"WITH found AS MATERIALIZED ({sql}) SELECT * FROM found {newest} LIMIT %s",  # noqa: S608
            [*params, count],
        )
        return [_Found(*row) for row in cursor.fetchall()]


def _dated(found: list[_Found]) -> list[_Found]:
    """The same events with their created_at and sort_id, in one query for those without."""
    missing = [f.pk for f in found if f.created_at is None]
    if not missing:
        return found
    dates = DmEvent.objects.filter(pk__in=missing).values_list("pk", "created_at", "sort_id")
    known = {pk: (created_at, sort_id) for pk, created_at, sort_id in dates}
    return [f if f.created_at else _Found(f.pk, f.search_text, *known[f.pk]) for f in found]


def _ranked(found: list[_Found], query: Query) -> list[tuple[float, _Found]]:
    """Best first: a BM25-like score of the query's words in each message (more occurrences in a
    shorter message score higher), computed here so both databases rank alike; ties newest
    first."""
    scored = [(_score(f.search_text, query), f) for f in found]
    return sorted(scored, key=lambda item: _best_key(*item))


def _best_key(score: float, found: _Found) -> tuple:
    # Ascending order of this key is the result order: score high to low, then newest first.
    return (-score, _Descending(found.created_at), _Descending(found.sort_id))


@functools.total_ordering
class _Descending:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self.value == other.value

    def __lt__(self, other):
        return self.value > other.value


_AVERAGE_WORDS = 10  # words in a message of the generated cache (bench/datagen.py), about


def _score(search_text: str, query: Query) -> float:
    tokens = _WORD.findall(search_text)
    length_norm = 1.2 * (0.25 + 0.75 * len(tokens) / _AVERAGE_WORDS)
    score = 0.0
    for text in query.include:
        if not text.words:
            continue
        if text.phrase:
            size = len(text.words)
            counts = [
                sum(tokens[i : i + size] == list(text.words) for i in range(len(tokens) - size + 1))
            ]
        else:
            counts = [sum(token.startswith(word) for token in tokens) for word in text.words]
        for count in counts:
            score += count * 2.2 / (count + length_norm)
    return score


# SQLite: walking the timeline with FTS5's own tokenizer as the filter ----------------------------

# Rows of the owner's timeline read, at most, before a query's words are taken to be rare and
# the full-text index is asked instead (a few milliseconds; see bench/search_bench.py).
WALK_BUDGET = 32_768
_FIRST_WINDOW = 256


def _sqlite_newest(scoped, events, walkable, query, count, older) -> list[_Found]:
    """Common words: read the timeline (`scoped`) newest first in growing stretches, keep the rows
    that contain the words as substrings (LIKE: never fewer rows than the index would match,
    since the folded text holds every letter FTS5 indexes), and let the sieve decide exactly.
    When FTS5's own document counts say the index's matches cost less than the rows still to
    walk (_index_matches), or those rows would exceed WALK_BUDGET, the words are rare here and the
    full-text index finds the rest: for a rare word that is the cheap way."""
    indexed = [t for t in query.include if t.words]
    excluded = [t for t in query.exclude if t.words]
    if not indexed:
        if older is not None:
            events = events.filter(queries.older_than(*older))
        return _sieved_batches(events, excluded, count)
    for text in indexed:
        for word in text.words:
            if word.isascii():
                events = events.filter(search_text__contains=word)
                walkable = walkable.filter(search_text__contains=word)
    include = _fts5(indexed)
    found: list[_Found] = []
    boundary, walked, window = older, 0, _FIRST_WINDOW
    cached = needed = None
    counted: dict = {}  # FTS5's document counts, each read once (11 ms for you* at 1M events)
    to_the_end = False
    while True:
        edge = None if to_the_end else _timeline_edge(scoped, boundary, window)
        # Each stretch is bounded by its own ends, and by the query's dates only where it has
        # none: two lower bounds on created_at and SQLite ranged over the looser one (2.5 s for
        # a rare word after:2025-01-01, reading every row since).
        stretch = _between_dates(walkable, query, before=boundary is None, after=edge is None)
        if edge is not None:
            stretch = stretch.filter(_at_or_after(*edge))
        if boundary is not None:
            stretch = stretch.filter(queries.older_than(*boundary))
        rows = _texts(stretch)
        kept = _sieve(rows, include, excluded)
        found += [f for f in rows if f.pk in kept]
        walked += window
        if len(found) >= count or edge is None:
            return found[:count]
        boundary = edge
        if found:
            needed = (count - len(found)) * walked / len(found)
        if not found or needed > 4 * _FIRST_WINDOW:
            # The index's work is every match of the words (whoever's, whatever else is asked),
            # which FTS5's own counts bound; with nothing found yet, the words' share of the
            # whole cache is the best guess at the share of the rows still to walk.
            cached = _cache_rows() if cached is None else cached
            # Index when its matches cost less than the walk: m * cost < needed, where with
            # nothing found needed = count * cached / m: m below sqrt(count * cached / cost).
            cost = max(_INDEX_MATCH_COST, 1e-9)
            enough = needed / cost if found else math.sqrt(count * cached / cost)
            matches = _index_matches(indexed, below=enough, counted=counted)
            if matches < enough:
                if _rest_fits(scoped, query, boundary, WALK_BUDGET - walked):
                    to_the_end = True
                    continue
                break
            if not found:
                needed = count * cached / max(matches, 1)
        if walked + needed > WALK_BUDGET:
            if _rest_fits(scoped, query, boundary, WALK_BUDGET - walked):
                to_the_end = True
                continue
            break
        window = min(max(int(needed * 1.25), window), WALK_BUDGET - walked)
    # Rare words: every older match from the index, newest first, then the exclusions. The
    # query's dates are written so that no index serves them, as the walk's end is: beside a
    # MATCH, a date range led SQLite to walk the time index and ask FTS5 row by row (44 ms for
    # "tomo" in a week of 9,579 events at a million, where FTS5's 10,011 matches take 15).
    rest = _fts_joined(_older_unindexed(_unindexed_dates(walkable, query), boundary), include)
    if not excluded:
        return found + _texts(rest, count - len(found))
    # The matches in growing chunks, each older than the last, until enough are left: reading
    # every one ("coffee", 6,496 texts) to keep a page cost more than the index itself.
    chunk = 4 * (count - len(found))
    while True:
        rows = _newest(rest, chunk)
        kept = _sieve(rows, "", excluded)
        found += [f for f in rows if f.pk in kept]
        if len(found) >= count or len(rows) < chunk:
            return found[:count]
        last = rows[-1]
        rest = _fts_joined(_older_unindexed(events, (last.created_at, last.sort_id)), include)
        chunk *= 4


def _rest_fits(scoped, query: Query, boundary, rows: int) -> bool:
    """Whether what is left of a query bounded by after: is at most `rows` events, to read to
    its end on the walk: a week a year back is a few thousand rows (3 ms), where the index reads
    every match of the words, whenever written."""
    return query.after is not None and _timeline_edge(scoped, boundary, max(rows, 0) + 1) is None


def _unindexed_dates(events: QuerySet[DmEvent], query: Query) -> QuerySet[DmEvent]:
    """The query's dates, written so that no index serves them (unary +; see _older_unindexed)."""
    adapt = connection.ops.adapt_datetimefield_value
    if query.before:
        before = adapt(_start_of(query.before))
        events = events.extra(where=["+conversations_dmevent.created_at < %s"], params=[before])
    if query.after:
        after = adapt(_start_of(query.after + timedelta(days=1)))
        events = events.extra(where=["+conversations_dmevent.created_at >= %s"], params=[after])
    return events


def _older_unindexed(events: QuerySet[DmEvent], before: tuple[datetime, str]):
    """Strictly before (created_at, sort_id), written so that no index serves it (unary +):
    beside a MATCH, a date range led SQLite's planner to walk the time index and ask FTS5 row by
    row (seconds for a rare word with has:link after:2025-01-01, against 20 ms)."""
    created_at = connection.ops.adapt_datetimefield_value(before[0])
    return events.extra(
        where=[
            "(+conversations_dmevent.created_at < %s OR (+conversations_dmevent.created_at = %s"
            " AND conversations_dmevent.sort_id < %s))"
        ],
        params=[created_at, created_at, before[1]],
    )


def _texts(events: QuerySet[DmEvent], limit: int | None = None) -> list[_Found]:
    """Newest first, the id and folded text only: a walk reads thousands of rows, and turning
    each one's date into a datetime cost more than reading it. run() adds the dates where it
    needs them (_dated)."""
    rows = events.order_by(*_NEWEST).values_list("pk", "search_text")[:limit]
    return [_Found(pk, text, None, "") for pk, text in rows]


# A match read through the full-text index (then sorted) costs about as much as this many rows
# read on the walk: each walked row is read from the table for its text (bench/search_bench.py
# at a million events, SQLite 3.40: "coffee" newest walked 3,300 rows in 186 ms, the index
# found its 6,496 matches in 227 ms).
_INDEX_MATCH_COST = 0.6
# PostgreSQL's walk reads a row in about a microsecond (the time index in order, the tsvector
# as a filter: "coffee" newest 3,000 rows in 3.7 ms at 1M events), while each GIN match is a
# heap page read at random (the 6,554 matches of coffee*: 85 ms): about ten times as dear. With
# SQLite's 0.6, "coffee -you" went to the GIN index: 333 ms against 40 for the walk.
_POSTGRES_INDEX_MATCH_COST = 8.0
# One person's messages, or a conversation's, lie one in ten or more of the table's rows: each
# row walked is a heap page read at random too, as dear as a GIN match. Walking 15,000 of
# @friend's rows for the 101 newest with coffee took 44 ms, the GIN index's 6,554 coffee*
# matches narrowed to theirs 12 (bench/search_bench.py, "coffee from:@…" best match).
_POSTGRES_SCATTERED_MATCH_COST = 1.0


# FTS5's terms with their document counts, over the cache's index, for this connection only.
_TERMS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.conversations_dmevent_fts_terms"
    " USING fts5vocab(main, conversations_dmevent_fts, row)"
)
_TERM_DOCUMENTS = "SELECT sum(doc) FROM temp.conversations_dmevent_fts_terms WHERE term = %s"
_PREFIX_DOCUMENTS = (
    "SELECT sum(doc) FROM temp.conversations_dmevent_fts_terms WHERE term >= %s AND term < %s"
)


def _index_matches(indexed: list[Text], *, below: float, counted: dict | None = None) -> int:
    """At most how many messages the index matches for `indexed` (all of them together): the
    fewest documents of any one word, from FTS5's own counts (fts5vocab; a prefix word counts
    every term it covers), or the first count found `below` the given number. Counting reads
    the word's whole list of documents (10-100 ms for "you" at a million events), so the
    longest words, the likely rare ones, are counted first, and once one is counted the short
    ones (chat's "you", "see", "on") are taken to be common and not counted at all. A word
    whose own term alone has `below` documents is not counted either (_documents). `counted`
    keeps what was read, for the walk's next stretch to ask again at no cost."""
    words = {(w, t.phrase) for t in indexed for w in t.words}
    counted = {} if counted is None else counted
    smallest = None
    with connection.cursor() as cursor:
        for word, exact in sorted(words, key=lambda item: -len(item[0])):
            if smallest is not None and len(word) <= _SHORT_WORD:
                break
            known = counted.get((word, exact))
            if known is None or (not known[1] and known[0] < below):
                known = counted[word, exact] = _documents(cursor, word, exact=exact, below=below)
            documents = known[0]
            smallest = documents if smallest is None else min(smallest, documents)
            if smallest < below:
                break
    return smallest


_SHORT_WORD = 3


def _documents(cursor, word: str, *, exact: bool, below: float) -> tuple[int, bool]:
    """(documents, whether that is the whole count) for `word`: when the term itself is in at
    least `below` documents, that many, read from the index as a plain term, which FTS5 streams
    and stops reading at the LIMIT (about 1 ms for you at 1M events, where fts5vocab reads all
    424,567 of you*'s documents: 10-11 ms); the word is common, whatever else it covers."""
    limit = max(1, math.ceil(below))
    # The word is letters and digits only (see _text): quoted, it is one FTS5 term.
    cursor.execute(_AT_LEAST, [f'"{word}"', limit])
    at_least = cursor.fetchone()[0]
    if at_least >= limit:
        return at_least, False
    return _term_documents(cursor, word, exact=exact), True


_AT_LEAST = (
    "SELECT count(*) FROM (SELECT 1 FROM conversations_dmevent_fts"
    " WHERE conversations_dmevent_fts MATCH %s LIMIT %s)"
)


def _term_documents(cursor, word: str, *, exact: bool) -> int:
    cursor.execute(_TERMS)
    if exact:  # a phrase's words are whole terms
        cursor.execute(_TERM_DOCUMENTS, [word])
    else:  # every term that starts with the word
        cursor.execute(_PREFIX_DOCUMENTS, [word, word[:-1] + chr(ord(word[-1]) + 1)])
    return cursor.fetchone()[0] or 0


def _cache_rows() -> int:
    """About how many events the cache holds, every owner's (ids are handed out in order)."""
    return DmEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0


def _sieved_batches(events, excluded, count) -> list[_Found]:
    """No words to look for, only words to leave out: the filtered rows newest first, in
    batches, until enough are left. A batch asks for a little more than is missing, by the share
    of rows kept so far: with text no index serves, each row can cost a thousand walked ("👍 -you"
    at 1M events: a first batch of 64 walked 64,000 rows, 26 ms of SQL, for 21 results)."""
    found: list[_Found] = []
    read = 0
    batch = count + count // 4 + 1
    while True:
        rows = _dated(_texts(events, batch))
        kept = _sieve(rows, "", excluded)
        found += [f for f in rows if f.pk in kept]
        read += len(rows)
        if len(found) >= count or len(rows) < batch:
            return found[:count]
        last = rows[-1]
        events = events.filter(queries.older_than(last.created_at, last.sort_id))
        missing = (count - len(found)) * read / max(len(found), 1)
        batch = min(int(missing * 1.25) + 1, 4 * batch)


def _timeline_edge(scoped, before, rows: int) -> tuple[datetime, str] | None:
    """(created_at, sort_id) of the `rows`-th event of `scoped` older than `before`, or None
    when fewer are left: the end of the next stretch to read. An index answers it alone
    (dmevent_owner_time, dmevent_owner_sender_time or dmevent_conversation_time)."""
    timeline = scoped
    if before is not None:
        timeline = timeline.filter(queries.older_than(*before))
    edge = timeline.order_by(*_NEWEST).values_list("created_at", "sort_id")[rows - 1 : rows]
    return next(iter(edge), None)


def _at_or_after(created_at: datetime, sort_id: str) -> Q:
    return Q(created_at__gte=created_at) & (
        Q(created_at__gt=created_at) | Q(created_at=created_at, sort_id__gte=sort_id)
    )


# The index's tokenizer (migration 0002): the sieve must split words exactly as the index does.
FTS5_TOKENIZER = "unicode61 remove_diacritics 2"
_sieve_local = threading.local()


def _sieve(rows: list[_Found], include: str, excluded: list[Text]) -> set[int]:
    """The rows whose folded text matches the FTS5 expression `include` (every row when empty)
    and none of `excluded`, decided by SQLite's own FTS5 on an in-memory table holding only these
    rows: the same answer as the cache's index, at the cost of tokenizing a few hundred short
    texts. Nothing is ever written: the rows are inserted in a transaction rolled back after."""
    if not rows:
        return set()
    if not include and not excluded:
        return {f.pk for f in rows}
    memory = getattr(_sieve_local, "connection", None)
    if memory is None:
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        memory.execute(
            "CREATE VIRTUAL TABLE sieve USING fts5(search_text, content='', "
            f"tokenize='{FTS5_TOKENIZER}')"
        )
        _sieve_local.connection = memory
    memory.execute("BEGIN")
    try:
        memory.executemany(
            "INSERT INTO sieve(rowid, search_text) VALUES (?, ?)",
            [(f.pk, f.search_text) for f in rows],
        )
        kept = set(_sieve_match(memory, include)) if include else {f.pk for f in rows}
        if excluded:
            kept -= set(_sieve_match(memory, _fts5_any(excluded)))
    finally:
        memory.execute("ROLLBACK")
    return kept


def _sieve_match(memory: sqlite3.Connection, expression: str) -> list[int]:
    sql = "SELECT rowid FROM sieve WHERE sieve MATCH ?"
    return [row[0] for row in memory.execute(sql, [expression])]


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _fts5(texts: list[Text], excluded: list[Text] = ()) -> str:
    """An FTS5 expression: every text, none of `excluded` (folded into one MATCH: `a NOT b`)."""
    # Words are letters and digits only (see _text), so quoting them cannot be broken out of.
    expression = " AND ".join(f"({_fts5_text(t)})" for t in texts)
    if excluded:
        expression += f" NOT ({_fts5_any(excluded)})"
    return expression


def _fts5_any(texts: list[Text]) -> str:
    return " OR ".join(f"({_fts5_text(t)})" for t in texts)


def _fts5_text(text: Text) -> str:
    if text.phrase:
        return '"' + " ".join(text.words) + '"'
    return " AND ".join(f'"{w}"*' for w in text.words)


def _tsquery(texts: list[Text], excluded: list[Text] = ()) -> str:
    """A tsquery: every text, none of `excluded` (`a & !b`)."""
    parts = [f"({_tsquery_text(t)})" for t in texts]
    parts += [f"!({_tsquery_text(t)})" for t in excluded]
    return " & ".join(parts)


def _tsquery_any(texts: list[Text]) -> str:
    return " | ".join(f"({_tsquery_text(t)})" for t in texts)


def _tsquery_text(text: Text) -> str:
    if text.phrase:
        return " <-> ".join(text.words)
    return " & ".join(f"{w}:*" for w in text.words)


_STALE_CURSOR = "That page of results no longer exists; search again."


def _newest_cursor(owner: AbstractBaseUser, cursor: str) -> tuple[datetime, str]:
    """Keyset: results strictly after the last one shown. A cursor is checked, never trusted."""
    if not xids.is_x_id(cursor):
        raise SearchError(_STALE_CURSOR)
    last = queries.visible_to(owner).filter(x_id=cursor).values("created_at", "sort_id").first()
    if last is None:
        raise SearchError(_STALE_CURSOR)
    return last["created_at"], last["sort_id"]


def _best_cursor(owner: AbstractBaseUser, cursor: str) -> tuple:
    score, _, x_id = cursor.rpartition(":")
    created_at, sort_id = _newest_cursor(owner, x_id)
    try:
        value = float(score)
    except ValueError:
        raise SearchError(_STALE_CURSOR) from None
    return _best_key(value, _Found(0, "", created_at, sort_id))


def _senders(owner: AbstractBaseUser, names: list[str]) -> Q:
    account = accounts.account_of(owner)
    match = Q()
    for name in names:
        if name.lower() == "me" and account is not None:
            match |= Q(sender_x_id=account.x_user_id)
        else:
            found = list(
                XUser.objects.filter(owner=owner, username__iexact=name).values_list(
                    "x_id", flat=True
                )
            )
            if not found:
                raise SearchError(f"No one called @{name} has written in your messages.")
            match |= Q(sender_x_id__in=found)
    return match


def _places(owner: AbstractBaseUser, places: list[str]) -> Q:
    account = accounts.account_of(owner)
    me = account.x_user_id if account else ""
    match = Q()
    for place in places:
        if xids.is_conversation_id(place):
            found = Conversation.objects.filter(owner=owner, x_id=place).values_list(
                "pk", flat=True
            )
            match |= Q(conversation_id__in=list(found))
        elif place.startswith("@"):
            user = queries.x_user_by_username(owner, place[1:])
            if user is None or not me or not xids.is_x_id(user.x_id):
                raise SearchError(f"You have no conversation with {place}.")
            x_id = xids.one_to_one_id(user.x_id, me)
            # By primary key: through a join on x_id no index on events would be used.
            one_to_one = Conversation.objects.filter(owner=owner, x_id=x_id).values_list(
                "pk", flat=True
            )
            match |= Q(conversation_id__in=list(one_to_one))
        else:
            members = XUser.objects.filter(owner=owner).filter(
                Q(name__icontains=place) | Q(username__icontains=place)
            )
            # A group of someone of that name, or the group of that name (rendering.group_name).
            groups = Conversation.objects.filter(
                Q(participants__in=members)
                | Q(name__icontains=place)
                | Q(name="", archive_name__icontains=place),
                owner=owner,
                is_group=True,
            ).values("pk")
            match |= Q(conversation__in=groups)
    return match


# has: for media, as the letter of that kind in DmEvent.media_kinds (any letter for has:media).
MEDIA_KINDS = {
    "media": "",
    "photo": MEDIA_KIND_LETTERS[Media.PHOTO],
    "video": MEDIA_KIND_LETTERS[Media.VIDEO],
    "gif": MEDIA_KIND_LETTERS[Media.ANIMATED_GIF],
}


def _has(kind: str) -> Q:
    if kind == "link":
        return Q(has_link=True)
    if kind == "post":
        return Q(Exists(DmEvent.shared_posts.through.objects.filter(dmevent_id=OuterRef("pk"))))
    # Written as the partial indexes' conditions (dmevent_owner_media_time; on PostgreSQL also
    # dmevent_owner_photo_time and the others, migration 0014), which neither database infers:
    # without media_kinds <> '' the index of events with media is never used.
    with_media = ~Q(media_kinds="")
    letter = MEDIA_KINDS[kind]
    return with_media & Q(media_kinds__contains=letter) if letter else with_media


# Highlighting -----------------------------------------------------------------------------------

SNIPPET = 180


def highlight(text: str, texts: list[Text]) -> SafeString:
    """The message, or the part of a long one around the first match, with the matches marked.
    Matching runs on the folded text; each folded character remembers where it came from, so the
    marks land on the original characters, and everything else is escaped."""
    folded, origin = _fold_with_origin(text)
    spans = []
    for item in texts:
        needles = [item.folded] if not item.words or item.phrase else list(item.words)
        for needle in needles:
            pattern = re.escape(needle)
            if item.words and not item.phrase:
                pattern = r"(?<![^\W_])" + pattern  # words match by prefix, as the index does
            elif item.words:
                pattern = r"(?<![^\W_])" + r"[\W_]+".join(re.escape(w) for w in item.words)
            for found in re.finditer(pattern, folded):
                spans.append((origin[found.start()], origin[found.end() - 1] + 1))
    spans = _merge(spans)
    start, end = 0, len(text)
    if len(text) > SNIPPET:
        first = spans[0][0] if spans else 0
        start = max(0, first - SNIPPET // 3)
        end = min(len(text), start + SNIPPET)
    parts, position = ["…" if start else ""], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        parts += [escape(text[position:a]), "<mark>", escape(text[a:b]), "</mark>"]
        position = b
    parts += [escape(text[position:end]), "…" if end < len(text) else ""]
    return mark_safe("".join(parts))  # noqa: S308 - every piece of the text is escaped


@functools.cache
def _fold_char(char: str) -> str:
    return normalize(char)


def _fold_with_origin(text: str) -> tuple[str, list[int]]:
    folded, origin = [], []
    for index, char in enumerate(text):
        for piece in _fold_char(char):
            folded.append(piece)
            origin.append(index)
    return "".join(folded), origin


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
