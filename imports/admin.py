from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crm_project.admin import TenantAdmin
from imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(TenantAdmin):
    """Import jobs are a record of what was imported: read-only here (imports start
    from the /import/ page, the API or the commands)."""

    list_display = (
        "filename",
        "kind",
        "status",
        "total_rows",
        "created",
        "updated",
        "skipped",
        "failed",
        "dry_run",
        "created_at",
    )
    list_filter = ("kind", "status", "dry_run")
    search_fields = ("filename",)
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
