"""Search over one owner's cached messages.

A query is words, "exact phrases", -excluded words and operators: from:@user, in:@user (the
one-to-one with them), in:<conversation id>, in:name (groups with someone of that name),
has:media|photo|video|gif|link|post, before:YYYY-MM-DD, after:YYYY-MM-DD. Matching ignores case
and accents. Words match by prefix through the full-text index (SQLite FTS5, or a PostgreSQL
tsvector); text with no word boundaries to index (Chinese, Japanese, emoji, symbols) matches as
a substring of the folded text instead, so it is findable on both databases alike.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import BooleanField, Exists, FloatField, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from conversations import queries, xids
from conversations.models import Conversation, DmEvent, Media, XUser
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


@dataclass(frozen=True)
class Result:
    event: DmEvent
    snippet: SafeString


@dataclass(frozen=True)
class ResultPage:
    results: list[Result]
    cursor: str  # for the next page; empty at the end


def run(
    owner: AbstractBaseUser,
    query: Query,
    *,
    order: str = "newest",
    cursor: str = "",
    conversation: Conversation | None = None,
    limit: int = PAGE,
) -> ResultPage:
    events = matching(owner, query)
    if conversation is not None:
        events = events.filter(conversation=conversation)
    best = order == "best" and any(t.words for t in query.include)
    if best:
        events = events.annotate(score=_score(query))
        ordering = ["-score", "-created_at", "-sort_id"]
    else:
        ordering = ["-created_at", "-sort_id"]
    if cursor:
        events = events.filter(_after_cursor(owner, cursor, best))
    rows = list(events.select_related("conversation", "sender").order_by(*ordering)[: limit + 1])
    page = rows[:limit]
    results = [Result(e, highlight(e.text, query.include)) for e in page]
    next_cursor = ""
    if len(rows) > limit:
        last = page[-1]
        next_cursor = f"{last.score!r}:{last.x_id}" if best else last.x_id
    return ResultPage(results, next_cursor)


def matching(owner: AbstractBaseUser, query: Query) -> QuerySet[DmEvent]:
    """The owner's events that match: the index narrows by words, filters by the rest."""
    events = queries.visible_to(owner).filter(event_type=DmEvent.MESSAGE_CREATE)
    indexed = [t for t in query.include if t.words]
    if indexed and connection.vendor == "sqlite":
        # Joined once, the FTS table drives the plan (rare words stay cheap) and bm25() is read
        # from the join rather than matched again for every row (see _score).
        events = events.extra(
            tables=["conversations_dmevent_fts"],
            where=[
                "conversations_dmevent_fts.rowid = conversations_dmevent.id",
                "conversations_dmevent_fts MATCH %s",
            ],
            params=[_fts5(indexed)],
        )
    elif indexed:
        events = events.filter(_index_match(indexed))
    for text in query.include:
        if not text.words:
            events = events.filter(search_text__contains=text.folded)
    for text in query.exclude:
        events = events.exclude(
            _index_match([text]) if text.words else Q(search_text__contains=text.folded)
        )
    if query.senders:
        events = events.filter(_senders(owner, query.senders))
    if query.places:
        events = events.filter(_places(owner, query.places))
    for kind in query.has:
        events = events.filter(_has(kind))
    if query.before:
        events = events.filter(created_at__lt=_start_of(query.before))
    if query.after:
        events = events.filter(created_at__gte=_start_of(query.after + timedelta(days=1)))
    return events


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _fts5(texts: list[Text]) -> str:
    # Words are letters and digits only (see _text), so quoting them cannot be broken out of.
    parts = []
    for text in texts:
        if text.phrase:
            parts.append('"' + " ".join(text.words) + '"')
        else:
            parts.append(" AND ".join(f'"{w}"*' for w in text.words))
    return " AND ".join(parts)


def _tsquery(texts: list[Text]) -> str:
    parts = []
    for text in texts:
        if text.phrase:
            parts.append("(" + " <-> ".join(text.words) + ")")
        else:
            parts.append(" & ".join(f"{w}:*" for w in text.words))
    return " & ".join(parts)


def _index_match(texts: list[Text]) -> Q:
    if connection.vendor == "postgresql":
        matched = RawSQL(
            "search_vector @@ to_tsquery('simple', %s)",
            [_tsquery(texts)],
            output_field=BooleanField(),
        )
        return Q(matched)
    return Q(
        pk__in=RawSQL(
            "SELECT rowid FROM conversations_dmevent_fts WHERE conversations_dmevent_fts MATCH %s",
            [_fts5(texts)],
        )
    )


def _score(query: Query) -> RawSQL:
    """Higher is better on both databases."""
    if connection.vendor == "postgresql":
        texts = [t for t in query.include if t.words]
        return RawSQL(
            # double precision: a float4 would not round-trip through the keyset cursor exactly.
            "ts_rank(search_vector, to_tsquery('simple', %s))::double precision",
            [_tsquery(texts)],
            output_field=FloatField(),
        )
    # The FTS table is joined by matching() whenever there are words to rank by.
    return RawSQL("-bm25(conversations_dmevent_fts)", [], output_field=FloatField())


def _after_cursor(owner: AbstractBaseUser, cursor: str, best: bool) -> Q:
    """Keyset: results strictly after the last one shown. A cursor is checked, never trusted."""
    score, _, x_id = cursor.rpartition(":") if best else ("", "", cursor)
    if not xids.is_x_id(x_id):
        raise SearchError("That page of results no longer exists; search again.")
    last = queries.visible_to(owner).filter(x_id=x_id).values("created_at", "sort_id").first()
    if last is None:
        raise SearchError("That page of results no longer exists; search again.")
    older = queries.older_than(last["created_at"], last["sort_id"])
    if not best:
        return older
    try:
        value = float(score)
    except ValueError:
        raise SearchError("That page of results no longer exists; search again.") from None
    return Q(score__lt=value) | (Q(score=value) & older)


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
            groups = Conversation.objects.filter(
                owner=owner, is_group=True, participants__in=members
            ).values("pk")
            match |= Q(conversation__in=groups)
    return match


def _has(kind: str) -> Q:
    if kind == "link":
        return Q(has_link=True)
    if kind == "post":
        return Q(Exists(DmEvent.shared_posts.through.objects.filter(dmevent_id=OuterRef("pk"))))
    types = {
        "media": None,
        "photo": [Media.PHOTO],
        "video": [Media.VIDEO],
        "gif": [Media.ANIMATED_GIF],
    }[kind]
    attached = DmEvent.media.through.objects.filter(dmevent_id=OuterRef("pk"))
    if types:
        attached = attached.filter(media__type__in=types)
    return Q(Exists(attached))


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
