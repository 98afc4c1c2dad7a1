"""Feedback in the admin, scoped like every tenant model, read-only: requests are made
and answered through feedback.services (the API, the public form)."""

from django.contrib import admin

from crm_project.admin import ReadOnlyTenantAdmin
from feedback.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyTenantAdmin):
    list_display = ("requested_at", "customer", "channel", "category", "rating", "answered_at")
    list_filter = ("rating", "category", "channel")
    search_fields = ("comment",)
    list_select_related = ("customer",)
