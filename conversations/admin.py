"""The admin for operators: the DM cache, read-only, built for a million cached events, and the
X account page with its sync state and the Sync now / Full resync actions.

Every changelist runs the same few queries whatever the size of the cache (the tools are in
dmreader/admin_tables.py):
- related rows come in the page's own query (list_select_related, and an annotation for the
  owner's @username), never one query per row;
- no filter lists the distinct values or the rows of a big table: event types and sync outcomes
  are fixed lists, dates are relative links, and a conversation, sender or account is chosen by
  following a link from its own row (the filter then shows that one only);
- counting stops at CappedCountPaginator.cap, the unfiltered total is never counted
  (show_full_result_count) and facet counts are off;
- lists are in an order an index walks (the primary key; an account's or a conversation's
  events by time), and only columns an index sorts can be sorted by.

The cache is written only by sync.py, so nothing here adds, changes or deletes a row.
"""

import json
import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from conversations import rendering
from conversations.models import (
    Conversation,
    DmEvent,
    ImportJob,
    Media,
    SharedPost,
    SyncRun,
    SyncState,
    UnstoredEvent,
    XUser,
)
from conversations.tasks import request_sync
from dmreader import admin as accounts_admin
from dmreader.admin_tables import (
    AccountFilter,
    CappedCountPaginator,
    ChosenOnlyFilter,
    FixedChoicesFilter,
    SortableOnlyChangeList,
    account_link,
    changelist_url,
)
from dmreader.models import XAccount


def pretty_json(value: Any) -> str:
    """JSON as X sent it, indented, escaped, in a <pre>: read-only, never trusted as markup."""
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class EventTypeFilter(FixedChoicesFilter):
    title = "event type"
    parameter_name = field = "event_type"
    known = (
        (DmEvent.MESSAGE_CREATE, "Message"),
        (DmEvent.PARTICIPANTS_JOIN, "Participants joined"),
        (DmEvent.PARTICIPANTS_LEAVE, "Participants left"),
    )
    other = "Other (unknown to us)"


class MediaTypeFilter(FixedChoicesFilter):
    title = "type"
    parameter_name = field = "type"
    known = ((Media.PHOTO, "Photo"), (Media.VIDEO, "Video"), (Media.ANIMATED_GIF, "GIF"))


class SyncKindFilter(FixedChoicesFilter):
    title = "kind"
    parameter_name = field = "kind"
    known = (("inbox", "Inbox"), ("full", "Full resync"), ("conversation", "Conversation"))


class SyncOutcomeFilter(FixedChoicesFilter):
    title = "outcome"
    parameter_name = field = "outcome"
    known = (
        (SyncState.IDLE, "Finished"),
        (SyncState.WAITING, "Stopped for the rate limit"),
        (SyncState.FAILED, "Failed"),
        (SyncState.NEEDS_REAUTH, "Needs sign-in"),
        ("unfinished", "Unfinished (running, or its worker died)"),
    )

    def queryset(self, request, queryset):
        if self.value() == "unfinished":
            return queryset.filter(outcome="")
        return super().queryset(request, queryset)


class HasErrorFilter(admin.SimpleListFilter):
    title = "errors"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "With errors"), ("no", "Without errors")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(error="")
        if self.value() == "no":
            return queryset.filter(error="")
        return queryset


class CachedRowAdmin(admin.ModelAdmin):
    """Read-only pages over one kind of cached row. Every row has an owner, shown as the
    account's @username through an annotation (one join, no query per row)."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)
    sortable_by: tuple[str, ...] = ()
    # Nothing here is editable; should that change, no widget lists a big table in a <select>.
    raw_id_fields: tuple[str, ...] = ("owner",)
    # An id typed into the search box is looked up through the (owner, id) unique index.
    id_field: str | None = "x_id"
    id_pattern = re.compile(r"^\d{1,19}$")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                owner_username=F("owner__x_account__username"),
                owner_account_id=F("owner__x_account__id"),
            )
        )

    def get_changelist(self, request, **kwargs):
        return SortableOnlyChangeList

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Cached rows go with their owner: delete the user (see dmreader/admin.py).
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if self.id_field and self.id_pattern.match(term):
            # Exact, and through the unique (owner, id) index: listing the owners (a few) lets
            # the database probe it once per owner instead of scanning every row for the id.
            owners = get_user_model().objects.values("pk")
            return queryset.filter(**{self.id_field: term, "owner__in": owners}), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="account")
    def account(self, obj) -> str:
        return account_link(obj.owner_account_id, obj.owner_username, obj.owner_id)

    @admin.display(description="raw (as X sent it)")
    def raw_json(self, obj) -> str:
        return pretty_json(obj.raw)


@admin.register(Conversation)
class ConversationAdmin(CachedRowAdmin):
    list_display = (
        "x_id",
        "title",
        "account",
        "is_group",
        "participant_list",
        "last_event_at",
        "history_complete",
        "events",
    )
    list_filter = ("is_group", "history_complete", ("owner", AccountFilter))
    list_select_related = ("owner",)
    # The inbox index (owner, -last_event_at) serves this within an account; across accounts
    # there are thousands of conversations, not millions.
    ordering = (F("last_event_at").desc(nulls_last=True),)
    sortable_by = ("last_event_at",)
    search_fields = ("=x_id",)
    id_pattern = re.compile(r"^\d{1,19}(-\d{1,19})?$")
    search_help_text = "A conversation id: 123-456 for a one-to-one, a single number for a group."
    raw_id_fields = ("owner", "last_event", "participants")
    fields = (
        "x_id",
        "title",
        "name",
        "archive_name",
        "archive_name_at",
        "account",
        "is_group",
        "participant_list",
        "last_event",
        "last_event_at",
        "history_token",
        "history_complete",
        "events",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(owner_x_id=F("owner__x_account__x_user_id"))
            .prefetch_related("participants")
        )

    @admin.display(description="title")
    def title(self, obj: Conversation) -> str:
        # The title the owner sees (rendering.title), as named from the owner's side.
        return rendering.title(obj, getattr(obj, "owner_x_id", "") or "")

    @admin.display(description="participants")
    def participant_list(self, obj: Conversation) -> str:
        return ", ".join(str(user) for user in obj.participants.all())

    @admin.display(description="events")
    def events(self, obj: Conversation) -> str:
        return format_html('<a href="{}">events</a>', changelist_url(DmEvent, conversation=obj.pk))


@admin.register(DmEvent)
class DmEventAdmin(CachedRowAdmin):
    list_display = (
        "x_id",
        "event_type",
        "created_at",
        "account",
        "conversation_events",
        "sender_events",
        "short_text",
    )
    list_filter = (
        EventTypeFilter,
        ("created_at", admin.DateFieldListFilter),
        ("conversation", ChosenOnlyFilter),
        ("sender", ChosenOnlyFilter),
        ("owner", AccountFilter),
    )
    list_select_related = ("conversation", "sender")
    # Text search is a scan (LIKE '%…%'): an id is the fast way in.
    search_fields = ("text",)
    search_help_text = (
        "An event id (digits only) finds that event; anything else searches the text. Newest "
        "cached first; a conversation's or an account's events are listed newest first."
    )
    raw_id_fields = ("owner", "conversation", "sender", "media", "shared_posts")
    fields = (
        "x_id",
        "event_type",
        "created_at",
        "account",
        "conversation",
        "sender",
        "sender_x_id",
        "text",
        "participant_ids",
        "media_list",
        "shared_post_list",
        "entities_json",
        "raw_json",
        "cached_at",
    )

    def get_queryset(self, request):
        # The detail page shows the conversation and sender too: fetched in the same query.
        return super().get_queryset(request).select_related("conversation", "sender")

    def get_ordering(self, request):
        # Only orders an index walks: a conversation's events by time (dmevent_conversation_time),
        # an account's by X id, which is time order (dmevent_owner_sort); across the whole cache
        # the order they were cached in (the primary key), as no index sorts them all by time.
        if "conversation__id__exact" in request.GET:
            return ("-created_at", "-sort_id")
        if "owner__id__exact" in request.GET:
            return ("-sort_id",)
        return ("-pk",)

    def get_sortable_by(self, request):
        return ("created_at",) if "conversation__id__exact" in request.GET else ()

    @admin.display(description="conversation")
    def conversation_events(self, obj: DmEvent) -> str:
        url = changelist_url(DmEvent, conversation=obj.conversation_id)
        return format_html(
            '<a href="{}" title="Events in this conversation">{}</a>', url, obj.conversation
        )

    @admin.display(description="sender")
    def sender_events(self, obj: DmEvent) -> str:
        if obj.sender_id is None:
            return obj.sender_x_id or "-"
        url = changelist_url(DmEvent, sender=obj.sender_id)
        return format_html('<a href="{}" title="Events this user sent">{}</a>', url, obj.sender)

    @admin.display(description="text")
    def short_text(self, obj: DmEvent) -> str:
        return Truncator(obj.text).chars(80)

    @admin.display(description="media")
    def media_list(self, obj: DmEvent) -> str:
        return linked_list(Media, obj.media.all())

    @admin.display(description="shared posts")
    def shared_post_list(self, obj: DmEvent) -> str:
        return linked_list(SharedPost, obj.shared_posts.all())

    @admin.display(description="entities")
    def entities_json(self, obj: DmEvent) -> str:
        return pretty_json(obj.entities)


def linked_list(model: type, rows) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    return (
        format_html_join(
            ", ", '<a href="{}">{}</a>', ((reverse(name, args=[row.pk]), row) for row in rows)
        )
        or "-"
    )


@admin.register(XUser)
class XUserAdmin(CachedRowAdmin):
    list_display = (
        "x_id",
        "username",
        "name",
        "account",
        "unavailable",
        "protected",
        "verified",
        "updated_at",
        "events_sent",
    )
    list_filter = ("unavailable", "protected", "verified", ("owner", AccountFilter))
    list_select_related = ("owner",)
    search_fields = ("^username", "^name")
    search_help_text = "An X user id (digits only), or the start of a username or name."
    fields = (
        "x_id",
        "username",
        "name",
        "account",
        "profile_image_url",
        "description",
        "location",
        "url",
        "created_at",
        "protected",
        "verified",
        "verified_type",
        "unavailable",
        "metrics_json",
        "raw_json",
        "updated_at",
        "events_sent",
    )

    @admin.display(description="public metrics")
    def metrics_json(self, obj: XUser) -> str:
        return pretty_json(obj.public_metrics)

    @admin.display(description="events")
    def events_sent(self, obj: XUser) -> str:
        return format_html('<a href="{}">sent</a>', changelist_url(DmEvent, sender=obj.pk))


@admin.register(Media)
class MediaAdmin(CachedRowAdmin):
    list_display = ("media_key", "type", "account", "size", "duration_ms", "short_alt_text")
    list_filter = (MediaTypeFilter, ("owner", AccountFilter))
    list_select_related = ("owner",)
    search_fields = ("=media_key",)
    id_field = "media_key"
    id_pattern = re.compile(r"^\d{1,3}_\d{1,19}$")
    search_help_text = "A media key, such as 3_1234567890."
    fields = (
        "media_key",
        "type",
        "account",
        "url",
        "preview_image_url",
        "width",
        "height",
        "duration_ms",
        "alt_text",
        "variants_json",
        "metrics_json",
        "raw_json",
    )

    @admin.display(description="size")
    def size(self, obj: Media) -> str:
        return f"{obj.width}x{obj.height}" if obj.width and obj.height else "-"

    @admin.display(description="alt text")
    def short_alt_text(self, obj: Media) -> str:
        return Truncator(obj.alt_text).chars(60)

    @admin.display(description="variants")
    def variants_json(self, obj: Media) -> str:
        return pretty_json(obj.variants)

    @admin.display(description="public metrics")
    def metrics_json(self, obj: Media) -> str:
        return pretty_json(obj.public_metrics)


@admin.register(SharedPost)
class SharedPostAdmin(CachedRowAdmin):
    list_display = ("x_id", "author", "account", "short_text", "created_at", "unavailable")
    list_filter = ("unavailable", ("owner", AccountFilter))
    list_select_related = ("owner", "author")
    search_fields = ("text",)
    search_help_text = "A post id (digits only), or words of its text."
    raw_id_fields = ("owner", "author")
    fields = (
        "x_id",
        "author",
        "author_x_id",
        "account",
        "text",
        "created_at",
        "lang",
        "unavailable",
        "entities_json",
        "referenced_json",
        "metrics_json",
        "raw_json",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description="text")
    def short_text(self, obj: SharedPost) -> str:
        return Truncator(obj.text).chars(80)

    @admin.display(description="entities")
    def entities_json(self, obj: SharedPost) -> str:
        return pretty_json(obj.entities)

    @admin.display(description="referenced posts")
    def referenced_json(self, obj: SharedPost) -> str:
        return pretty_json(obj.referenced_tweets)

    @admin.display(description="public metrics")
    def metrics_json(self, obj: SharedPost) -> str:
        return pretty_json(obj.public_metrics)


@admin.register(SyncState)
class SyncStateAdmin(CachedRowAdmin):
    list_display = (
        "account",
        "status",
        "backfill_complete",
        "events_stored",
        "pages",
        "requests_made",
        "rate",
        "rate_reset_at",
        "last_started_at",
        "last_success_at",
        "next_sync_at",
        "lease_until",
        "short_error",
    )
    list_filter = ("status", "backfill_complete")
    list_select_related = ("owner",)
    sortable_by = ("last_started_at", "last_success_at")
    search_fields = ("owner__x_account__username",)
    id_field = None
    search_help_text = "An account's username."
    fields = (
        "account",
        "status",
        "last_started_at",
        "last_success_at",
        "error",
        "backfill_complete",
        "pass_token",
        "pass_stop_id",
        "pass_started_at",
        "lease_until",
        "pages",
        "events_stored",
        "requests_made",
        "rate",
        "rate_reset_at",
        "updated_at",
        "runs",
    )

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lstrip("@"))

    @admin.display(description="rate limit left")
    def rate(self, obj: SyncState) -> str:
        if obj.rate_limit is None:
            return "-"
        return (
            f"{obj.rate_remaining if obj.rate_remaining is not None else '?'} of {obj.rate_limit}"
        )

    @admin.display(description="last error")
    def short_error(self, obj: SyncState) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description="last error")
    def error(self, obj: SyncState) -> str:
        return format_html("<pre>{}</pre>", obj.last_error) if obj.last_error else "-"

    @admin.display(description="sync runs")
    def runs(self, obj: SyncState) -> str:
        return format_html('<a href="{}">runs</a>', changelist_url(SyncRun, owner=obj.owner_id))


@admin.register(SyncRun)
class SyncRunAdmin(CachedRowAdmin):
    list_display = (
        "started_at",
        "account",
        "kind",
        "outcome",
        "duration",
        "events_stored",
        "pages",
        "requests_made",
        "short_error",
    )
    list_filter = (
        SyncOutcomeFilter,
        SyncKindFilter,
        HasErrorFilter,
        ("started_at", admin.DateFieldListFilter),
        ("owner", AccountFilter),
    )
    list_select_related = ("owner",)
    # Runs are numbered in the order they started: the primary key orders them for free.
    search_fields = ("error",)
    id_field = None
    search_help_text = "Words of the error."
    fields = (
        "account",
        "kind",
        "started_at",
        "finished_at",
        "duration",
        "outcome",
        "events_stored",
        "pages",
        "requests_made",
        "error_text",
    )

    @admin.display(description="duration")
    def duration(self, obj: SyncRun) -> str:
        if obj.finished_at is None:
            return "-"
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    @admin.display(description="error")
    def short_error(self, obj: SyncRun) -> str:
        return Truncator(obj.error.splitlines()[0] if obj.error else "").chars(80)

    @admin.display(description="error")
    def error_text(self, obj: SyncRun) -> str:
        return format_html("<pre>{}</pre>", obj.error) if obj.error else "-"


@admin.register(UnstoredEvent)
class UnstoredEventAdmin(CachedRowAdmin):
    """Events the database refused even one by one (conversations/store.py), kept with X's payload
    and the reason so an operator can see what the cache is missing and why."""

    list_display = ("last_failed_at", "account", "x_id", "conversation_x_id", "short_reason")
    list_select_related = ("owner",)
    list_filter = (("owner", AccountFilter),)
    search_help_text = "An event id."
    fields = (
        "account",
        "x_id",
        "conversation_x_id",
        "first_failed_at",
        "last_failed_at",
        "reason",
        "payload_json",
    )

    @admin.display(description="reason")
    def short_reason(self, obj: UnstoredEvent) -> str:
        return Truncator(obj.reason).chars(80)

    @admin.display(description="payload (as X sent it)")
    def payload_json(self, obj: UnstoredEvent) -> str:
        try:
            return pretty_json(json.loads(obj.payload))
        except ValueError:
            return format_html("<pre>{}</pre>", obj.payload)


@admin.register(ImportJob)
class ImportJobAdmin(CachedRowAdmin):
    """Archive imports and backup restores from the Import page: where each stands and why one
    failed. The upload's path is on the server, so it is shown, never linked."""

    list_display = (
        "created_at", "account", "kind", "file_name", "status", "progress", "short_error"
    )  # fmt: skip
    list_filter = ("status", "kind", ("owner", AccountFilter))
    list_select_related = ("owner",)
    search_fields = ("file_name", "error")
    id_field = None
    search_help_text = "Words of the file name or the error."
    fields = (
        "account",
        "kind",
        "file_name",
        "size",
        "status",
        "progress",
        "messages_new",
        "gaps_closed",
        "covered_until",
        "created_at",
        "started_at",
        "finished_at",
        "lease_until",
        "attempts",
        "path",
        "error_text",
    )

    @admin.display(description="progress")
    def progress(self, obj: ImportJob) -> str:
        if obj.status == ImportJob.CHECKING:
            return f"checked {obj.percent}% of the archive"
        return (
            f"{obj.messages_done:,} of {obj.messages_total:,} messages, "
            f"{obj.conversations_done:,} of {obj.conversations_total:,} conversations"
        )

    @admin.display(description="error")
    def short_error(self, obj: ImportJob) -> str:
        return Truncator(obj.error).chars(80)

    @admin.display(description="error")
    def error_text(self, obj: ImportJob) -> str:
        return format_html("<pre>{}</pre>", obj.error) if obj.error else "-"


# The account admin is dmreader's (tokens only); its sync columns and actions are added here, where
# syncing lives, so that dmreader needs nothing from this app.
admin.site.unregister(XAccount)


@admin.register(XAccount)
class XAccountAdmin(accounts_admin.XAccountAdmin):
    list_display = (
        *accounts_admin.XAccountAdmin.list_display,
        "sync_status",
        "last_sync",
        "next_sync",
        "cache",
    )
    # The sync state comes in the page's own query (a reverse one-to-one of the account's user).
    list_select_related = ("user__sync_state",)
    actions = ("sync_now", "full_resync")
    fields = (
        *accounts_admin.XAccountAdmin.fields,
        "sync_status",
        "last_sync",
        "next_sync",
        "sync_error",
        "cache",
    )
    readonly_fields = fields

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dmreader.change_xaccount")

    @admin.display(description="sync")
    def sync_status(self, account: XAccount) -> str:
        state = _sync_state(account)
        return state.get_status_display() if state else "Never synced"

    @admin.display(description="last sync")
    def last_sync(self, account: XAccount):
        state = _sync_state(account)
        return state.last_success_at if state and state.last_success_at else "-"

    @admin.display(description="next sync")
    def next_sync(self, account: XAccount):
        """When the scheduler syncs it next; none for an account X no longer lets us sync."""
        state = _sync_state(account)
        if accounts_admin.token_status(account) == accounts_admin.NEEDS_SIGN_IN:
            return "Not scheduled: needs to sign in with X again"
        return state.next_sync_at if state and state.next_sync_at else "At the next tick"

    @admin.display(description="last sync error")
    def sync_error(self, account: XAccount) -> str:
        state = _sync_state(account)
        return format_html("<pre>{}</pre>", state.last_error) if state and state.last_error else "-"

    @admin.display(description="cache")
    def cache(self, account: XAccount) -> str:
        links = (
            (Conversation, "conversations"),
            (DmEvent, "events"),
            (XUser, "users"),
            (SyncRun, "sync runs"),
        )
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            ((changelist_url(model, owner=account.user_id), label) for model, label in links),
        )

    @admin.action(description="Sync now", permissions=["sync"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue(request, queryset, full=False)

    @admin.action(
        description="Full resync (walk X's whole 30-day window again)", permissions=["sync"]
    )
    def full_resync(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue(request, queryset, full=True)

    def _queue(self, request: HttpRequest, queryset: QuerySet, *, full: bool) -> None:
        queued, skipped = [], []
        for account in queryset.order_by("username"):
            if accounts_admin.token_status(account) == accounts_admin.NEEDS_SIGN_IN:
                skipped.append(str(account))
            else:
                request_sync(account.user_id, full=full)
                queued.append(str(account))
        what = "full resync" if full else "sync"
        if queued:
            plural = "" if len(queued) == 1 else "s"
            self.message_user(
                request,
                f"Queued a {what} for {len(queued)} account{plural}: {', '.join(queued)}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {', '.join(skipped)}: needs to sign in with X again first.",
                messages.WARNING,
            )


def _sync_state(account: XAccount) -> SyncState | None:
    try:
        return account.user.sync_state
    except SyncState.DoesNotExist:
        return None
