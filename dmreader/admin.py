"""The admin for X accounts and the users behind them.

An account's OAuth tokens never reach a page: they are left out of every field list and not even
loaded (deferred); the pages show only whether the account has tokens and when they expire.

This is the tokens-only account admin: conversations/admin.py registers a subclass of it with the
account's sync state and the Sync now / Full resync actions, since syncing is that app's (this one
imports nothing from it).
"""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from dmreader import accounts
from dmreader.admin_tables import CappedCountPaginator, account_link, capped_count
from dmreader.models import Heartbeat, XAccount

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
    )
    list_filter = (TokenStatusFilter,)
    search_fields = ("username", "=x_user_id")
    search_help_text = "A username, or an X user id."
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
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

    @admin.display(description="tokens")
    def tokens(self, account: XAccount) -> str:
        return TOKEN_STATUSES[token_status(account)]

    @admin.display(description="user")
    def user_link(self, account: XAccount) -> str:
        url = reverse("admin:auth_user_change", args=[account.user_id])
        return format_html('<a href="{}">{}</a>', url, account.user)


User = get_user_model()


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
        x_accounts = capped_count(XAccount.objects.filter(user_id__in=owner_ids))
        if x_accounts:
            counts[XAccount._meta.verbose_name_plural] = x_accounts
        owned = (
            (
                model._meta.verbose_name_plural,
                capped_count(model.objects.filter(owner_id__in=owner_ids)),
            )
            for model in accounts.owned_models()
        )
        # The biggest kinds first: what a deletion mostly takes away (DM events) heads the list.
        for name, count in sorted(owned, key=lambda kind: -kind[1]):
            if count:
                counts[name] = count
        perms_needed = set()
        if not all(self.has_delete_permission(request, user) for user in users):
            perms_needed.add(User._meta.verbose_name)
        return to_delete, counts, perms_needed, []

    # Deleting a user with a million cached rows in the request would time out and hold one long
    # transaction: the user is made inactive now, and leaving.erase_user_task revokes the tokens
    # at X and deletes the rows in batches in the background. (Imported here: leaving imports
    # this module.)
    def delete_model(self, request, obj) -> None:
        from dmreader import leaving

        leaving.request_erasure(obj)
        self.message_user(
            request, f"{obj}: tokens revoked and data deleted in the background, in batches."
        )

    def delete_queryset(self, request, queryset) -> None:
        from dmreader import leaving

        users = list(queryset)
        for user in users:
            leaving.request_erasure(user)
        self.message_user(
            request,
            f"{len(users)} users: tokens revoked and data deleted in the background, in batches.",
        )


class ProcessStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("running", "Running"), ("stale", "Stale"), ("stopped", "Stopped")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "running":
            return queryset.filter(stopped_at=None, stale_at__gte=now)
        if self.value() == "stale":
            return queryset.filter(stopped_at=None, stale_at__lt=now)
        if self.value() == "stopped":
            return queryset.exclude(stopped_at=None)
        return queryset


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """The background processes (task workers, the scheduler) and whether each still beats: a
    stale one stopped without saying so (killed, out of memory, its machine gone)."""

    list_display = ("kind", "name", "host", "pid", "process_state", "last_seen_at", "started_at")
    list_filter = ("kind", ProcessStateFilter)
    search_fields = ("name", "host")
    ordering = ("stopped_at", "kind", "-last_seen_at")
    readonly_fields = (
        "kind",
        "name",
        "host",
        "pid",
        "started_at",
        "last_seen_at",
        "stale_at",
        "stopped_at",
    )

    # Processes write their own rows; an operator may only clear away the rows of dead ones.
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="state")
    def process_state(self, process: Heartbeat) -> str:
        state = process.state
        if state == "stale":
            return format_html("<strong>stale</strong> (silent since {})", process.last_seen_at)
        return state
