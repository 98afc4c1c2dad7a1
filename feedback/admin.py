"""Feedback in the admin, scoped like every tenant model, read-only: requests are made
and answered through feedback.services (the API, the public form)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crm_project.admin import TenantAdmin
from feedback.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(TenantAdmin):
    list_display = ("requested_at", "customer", "channel", "category", "rating", "answered_at")
    list_filter = ("rating", "category", "channel")
    search_fields = ("comment",)
    list_select_related = ("customer",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
