"""Exports for operators: who asked for what, how far it got, how it ended. Read-only, and never
the token (it names the file) or the file itself: an export is its owner's alone."""

from django.contrib import admin
from django.http import HttpRequest

from exports.models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["pk", "owner", "format", "status", "events_done", "events_total", "size"]
    list_display_links = ["pk"]
    list_filter = ["status", "format"]
    list_select_related = ["owner"]
    ordering = ["-pk"]
    show_full_result_count = False
    fields = [
        "owner",
        "format",
        "description",
        "scope",
        "status",
        "events_done",
        "events_total",
        "size",
        "error",
        "created_at",
        "finished_at",
        "expires_at",
        "lease_until",
        "attempts",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Files go with their rows through files.delete (the owner, or a week passing).
        return False
