"""The admin for X accounts and the users behind them.

An account's OAuth tokens never reach a page: they are left out of every field list and not even
loaded (deferred); the pages show only whether the account has tokens and when they expire.
"""

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from conversations.admin import (
    CappedCountPaginator,
    account_link,
    capped_count,
    changelist_url,
)
from conversations.models import (
    Conversation,
    DmEvent,
    Media,
    SharedPost,
    SyncRun,
    SyncState,
    XUser,
)
from conversations.tasks import request_sync
from dmreader.models import XAccount

TOKENS = ("access_token", "refresh_token")

HAS_TOKENS, EXPIRED, NEEDS_SIGN_IN = "ok", "expired", "reauth"
TOKEN_STATUSES = {
    HAS_TOKENS: "Has tokens",
    EXPIRED: "Expired",
    NEEDS_SIGN_IN: "Needs sign-in",
}


def token_status(account: XAccount) -> str:
    """From the annotations of XAccountAdmin.get_queryset, so the tokens are never decrypted.
    An access token past its expiry is refreshed at the next sync if a refresh token is held."""
    if account.needs_reauth or not account.holds_access_token:
        return NEEDS_SIGN_IN
    if account.token_expires_at and account.token_expires_at <= timezone.now():
        return EXPIRED if account.holds_refresh_token else NEEDS_SIGN_IN
    return HAS_TOKENS


class TokenStatusFilter(admin.SimpleListFilter):
    title = "tokens"
    parameter_name = "tokens"

    def lookups(self, request, model_admin):
        return list(TOKEN_STATUSES.items())

    def queryset(self, request, queryset):
        expired = Q(token_expires_at__lte=timezone.now())
        lost = Q(needs_reauth=True) | Q(holds_access_token=False)
        if self.value() == HAS_TOKENS:
            return queryset.exclude(lost).exclude(expired)
        if self.value() == EXPIRED:
            return queryset.exclude(lost).filter(expired, holds_refresh_token=True)
        if self.value() == NEEDS_SIGN_IN:
            return queryset.filter(lost | (expired & Q(holds_refresh_token=False)))
        return queryset


@admin.register(XAccount)
class XAccountAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "name",
        "x_user_id",
        "tokens",
        "token_expires_at",
        "scopes",
        "sync_status",
        "last_sync",
        "cache",
    )
    list_filter = (TokenStatusFilter,)
    list_select_related = ("user__sync_state",)
    search_fields = ("username", "=x_user_id")
    search_help_text = "A username, or an X user id."
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ("sync_now", "full_resync")
    exclude = TOKENS
    fields = (
        "username",
        "name",
        "x_user_id",
        "user_link",
        "profile_image_url",
        "tokens",
        "token_expires_at",
        "scopes",
        "needs_reauth",
        "created_at",
        "updated_at",
        "sync_status",
        "last_sync",
        "sync_error",
        "cache",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .defer(*TOKENS)
            .annotate(
                holds_access_token=ExpressionWrapper(
                    ~Q(access_token=""), output_field=BooleanField()
                ),
                holds_refresh_token=ExpressionWrapper(
                    ~Q(refresh_token=""), output_field=BooleanField()
                ),
            )
        )

    def lookup_allowed(self, lookup, value, request) -> bool:
        # No filtering on a token through the URL either (?access_token__startswith=…).
        if lookup.split("__")[0] in TOKENS:
            return False
        return super().lookup_allowed(lookup, value, request)

    # Accounts are made by signing in with X, and go with their user.
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dmreader.change_xaccount")

    @admin.display(description="tokens")
    def tokens(self, account: XAccount) -> str:
        return TOKEN_STATUSES[token_status(account)]

    @admin.display(description="user")
    def user_link(self, account: XAccount) -> str:
        url = reverse("admin:auth_user_change", args=[account.user_id])
        return format_html('<a href="{}">{}</a>', url, account.user)

    @admin.display(description="sync")
    def sync_status(self, account: XAccount) -> str:
        state = _sync_state(account)
        return state.get_status_display() if state else "Never synced"

    @admin.display(description="last sync")
    def last_sync(self, account: XAccount):
        state = _sync_state(account)
        return state.last_success_at if state and state.last_success_at else "-"

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
            if token_status(account) == NEEDS_SIGN_IN:
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


User = get_user_model()
CACHE_MODELS = (DmEvent, Conversation, XUser, Media, SharedPost, SyncState, SyncRun)

admin.site.unregister(User)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    """Django's user admin, with the X account shown, and a delete page that counts what goes
    with a user instead of listing it: a user owns up to a million cached rows."""

    list_display = (
        "username",
        "x_account_link",
        "is_staff",
        "is_superuser",
        "is_active",
        "last_login",
    )
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(owner_username=F("x_account__username"), owner_account_id=F("x_account__id"))
        )

    @admin.display(description="X account")
    def x_account_link(self, user) -> str:
        if user.owner_account_id is None:
            return "-"
        return account_link(user.owner_account_id, user.owner_username, user.pk)

    def get_deleted_objects(self, objs, request):
        """Django's version collects and lists every related row before asking; here the users
        are listed and their cached rows counted per kind (each count stops at the admin's cap).
        Deleting itself is Django's as usual. Nothing protects a user's rows from deletion, so
        there is never a protected object to report."""
        users = list(objs)
        owner_ids = [user.pk for user in users]
        to_delete = [
            format_html(
                '{}: <a href="{}">{}</a>',
                User._meta.verbose_name.capitalize(),
                reverse("admin:auth_user_change", args=[user.pk]),
                user,
            )
            for user in users
        ]
        counts = {User._meta.verbose_name_plural: len(users)}
        accounts = capped_count(XAccount.objects.filter(user_id__in=owner_ids))
        if accounts:
            counts[XAccount._meta.verbose_name_plural] = accounts
        for model in CACHE_MODELS:
            count = capped_count(model.objects.filter(owner_id__in=owner_ids))
            if count:
                counts[model._meta.verbose_name_plural] = count
        perms_needed = set()
        if not all(self.has_delete_permission(request, user) for user in users):
            perms_needed.add(User._meta.verbose_name)
        return to_delete, counts, perms_needed, []
