import json

from django.contrib import admin
from django.utils.html import format_html

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The history of every job and workflow, deleted ones included. Read-only: a record of what
    happened is not edited. Delete stays with Django's permission, since deleting a user in the
    admin deletes their events too and needs it."""

    list_display = ("at", "kind", "object_id", "action", "actor_shown", "via", "owner")
    list_filter = ("kind", "action", "via")
    search_fields = ("object_id", "actor_name", "owner__username")
    list_select_related = ("owner",)
    date_hierarchy = "at"
    fields = ("at", "kind", "object_id", "action", "actor_shown", "via", "owner", "changes_shown")
    readonly_fields = fields

    @admin.display(description="actor", ordering="actor_name")
    def actor_shown(self, event: AuditEvent) -> str:
        return event.actor_name or "(system)"

    @admin.display(description="changes")
    def changes_shown(self, event: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.changes, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
