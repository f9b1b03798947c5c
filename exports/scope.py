"""What an export holds: some conversations or all, a date range, a search query.

Dates mean what the search box's `after:` and `before:` mean (after the end of that day, before
its start), so an export of a search and of its dates agree. A query is the search box's own
language (search.parse) and selects what the search finds: messages only, never join or leave
lines. Every queryset starts from the owner's own rows (queries.visible_to, search.matching).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from conversations import queries, search, xids
from conversations.models import Conversation, DmEvent


class ScopeError(ValueError):
    """A scope that can't be exported; the message says why."""


@dataclass(frozen=True)
class Scope:
    conversations: tuple[str, ...] = ()  # X conversation ids; none: the whole account
    after: date | None = None
    before: date | None = None
    query: str = ""

    @classmethod
    def build(
        cls,
        *,
        conversations: list[str] | tuple[str, ...] = (),
        after: str | date | None = None,
        before: str | date | None = None,
        query: str = "",
    ) -> "Scope":
        """A scope from what a person typed (form, command line); ScopeError says what's wrong."""
        ids = tuple(dict.fromkeys(c.strip() for c in conversations if c.strip()))
        for x_id in ids:
            if not xids.is_conversation_id(x_id):
                raise ScopeError(f"{x_id[:40]} is not a conversation id.")
        scope = cls(ids, _day(after, "after"), _day(before, "before"), query.strip())
        if scope.after and scope.before and scope.after >= scope.before:
            raise ScopeError("Nothing is after the first date and before the second.")
        if scope.query:
            try:
                search.parse(scope.query)
            except search.SearchError as problem:
                raise ScopeError(str(problem)) from None
        return scope

    @classmethod
    def from_dict(cls, data: dict) -> "Scope":
        return cls.build(
            conversations=data.get("conversations", []),
            after=data.get("after"),
            before=data.get("before"),
            query=data.get("query", ""),
        )

    def as_dict(self) -> dict:
        return {
            "conversations": list(self.conversations),
            "after": self.after.isoformat() if self.after else None,
            "before": self.before.isoformat() if self.before else None,
            "query": self.query,
        }


def _day(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ScopeError(f"{name}: {value[:40]} is not a date like 2026-11-01.") from None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class Selection:
    """A scope resolved for one owner: the events it holds and their conversations."""

    scope: Scope
    events: QuerySet[DmEvent]
    conversations: list[tuple[Conversation, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.conversations)


def select(owner: AbstractBaseUser, scope: Scope) -> Selection:
    """The owner's events in `scope`. A conversation id that isn't theirs is a 404, as anywhere
    else; a search error is a ScopeError."""
    if scope.query:
        try:
            events = search.matching(owner, search.parse(scope.query))
        except search.SearchError as problem:
            raise ScopeError(str(problem)) from None
    else:
        events = queries.visible_to(owner)
    if scope.conversations:
        chosen = [queries.conversation(owner, x_id).pk for x_id in scope.conversations]
        events = events.filter(conversation_id__in=chosen)
    if scope.after:
        events = events.filter(created_at__gte=_start_of(scope.after + timedelta(days=1)))
    if scope.before:
        events = events.filter(created_at__lt=_start_of(scope.before))
    return Selection(scope, events, queries.conversations_with_counts(owner, events))


def describe(scope: Scope, titles: list[str]) -> str:
    """ "Theo Park", "3 conversations", "Everything", with the search and dates, for lists."""
    if not scope.conversations:
        what = "All conversations"
    elif len(titles) == 1:
        what = titles[0]
    else:
        what = f"{len(scope.conversations)} conversations"
    if scope.query:
        what += f" · search “{scope.query}”"
    if scope.after:
        what += f" · after {scope.after:%Y-%m-%d}"
    if scope.before:
        what += f" · before {scope.before:%Y-%m-%d}"
    return what
