"""The admin's tools for big tables, shared by the account admin here and the cache admin in
conversations: a user owns up to a million cached rows, and every changelist built with these runs
the same few queries whatever the size of the table.

- counting stops at CappedCountPaginator.cap (and capped_count), the unfiltered total is never
  counted (show_full_result_count = False) and facet counts are off (show_facets = NEVER);
- no filter lists the distinct values or the rows of a big table: a column whose values are known
  gets a FixedChoicesFilter, and a row of a big table (a conversation, a sender, an account) is
  chosen by following a link from its own row (ChosenOnlyFilter, AccountFilter; changelist_url
  makes the link), the filter then showing that one only;
- only columns an index sorts can be sorted by (SortableOnlyChangeList).
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html


class AtLeast(int):
    """A count that stopped early: the admin prints it as "10000+"."""

    def __str__(self) -> str:
        return f"{int(self)}+"


def capped_count(queryset: QuerySet, cap: int = 10_000) -> int:
    """COUNT over at most `cap` + 1 rows: the exact count below the cap, AtLeast(cap) above it."""
    counted = queryset[: cap + 1].count()
    return AtLeast(cap) if counted > cap else counted


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows, so a page of a million-row table never runs COUNT(*) over all
    of them. Past the cap the count reads "10000+" and the page links stop there (so OFFSET is
    bounded too); filters and search narrow a list down to what can be paged."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return capped_count(self.object_list, self.cap)


def changelist_url(model: type, **filters: object) -> str:
    """A changelist narrowed to the rows linked to the given ones: `owner=7` is
    `?owner__id__exact=7`, the lookup a ChosenOnlyFilter shows."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{name}__id__exact={value}" for name, value in filters.items())
    return f"{url}?{query}" if query else url


def account_link(account_id: int | None, username: str | None, owner_id: int) -> str:
    """An owner as their @username, linked to their X account's page; a user without an X account
    (a staff user made with createsuperuser) by number."""
    if account_id is None:
        return f"user {owner_id}"
    url = reverse("admin:dmreader_xaccount_change", args=[account_id])
    return format_html('<a href="{}">@{}</a>', url, username)


class ChosenOnlyFilter(admin.RelatedFieldListFilter):
    """A filter on a foreign key into a big table (`?conversation__id__exact=…`). It never lists
    the table: it appears once a row is chosen, by a link from that row ("events" on a
    conversation, the conversation column of an event), and offers to clear it."""

    def has_output(self) -> bool:
        # Django hides (and so does not apply) a filter with a single choice.
        return self.lookup_val is not None or bool(self.lookup_val_isnull)

    def field_choices(self, field, request, model_admin):
        chosen = [value for value in self.lookup_val or [] if value.isdigit()]
        return self.choices_for(field, chosen) if chosen else []

    def choices_for(self, field, pks: list[str]) -> list[tuple[int, str]]:
        rows = field.remote_field.model._default_manager.filter(pk__in=pks)
        return [(row.pk, str(row)) for row in rows]


class AccountFilter(ChosenOnlyFilter):
    """`?owner__id__exact=…`, shown as the account's @username."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "account"

    def choices_for(self, field, pks: list[str]) -> list[tuple[int, str]]:
        users = get_user_model().objects.filter(pk__in=pks)
        return [
            (pk, f"@{username}" if username else f"user {pk}")
            for pk, username in users.values_list("pk", "x_account__username")
        ]


class FixedChoicesFilter(admin.SimpleListFilter):
    """A filter on a text column whose values are known: the default one would SELECT DISTINCT
    over the whole table to find them."""

    field = ""
    known: tuple[tuple[str, str], ...] = ()
    other = ""  # label for values outside `known` (stored as sent, e.g. new event types)

    def lookups(self, request, model_admin):
        return [*self.known, *([("__other__", self.other)] if self.other else [])]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "__other__":
            return queryset.exclude(**{f"{self.field}__in": [key for key, _ in self.known]})
        return queryset.filter(**{self.field: value})


class SortableOnlyChangeList(ChangeList):
    """Django sorts by any column a URL names in ?o=, sortable or not; here only by the columns
    in sortable_by, the ones an index sorts."""

    def get_ordering_field(self, field_name):
        if field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)
