from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError as ApiValidationError

from crm_project.admin import TenantAdmin, TenantAdminForm
from segments import rules as rule_language
from segments import services
from segments.models import Segment

EDITABLE = ("name", "description", "active", "rules")


def _messages(detail: Any, prefix: str = "") -> list[str]:
    """`rules.rules.1.operator: Unknown operator.` lines from a DRF error detail."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _messages(value, f"{key}: ")]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value, prefix)]
    return [f"{prefix}{detail}"]


class SegmentAdminForm(TenantAdminForm):
    def clean_rules(self) -> Any:
        try:
            return rule_language.validate_rule(self.cleaned_data.get("rules"), attr="rules")
        except ApiValidationError as exc:
            raise forms.ValidationError(_messages(exc.detail)) from exc


@admin.register(Segment)
class SegmentAdmin(TenantAdmin):
    """Segments, written through segments.services like the API (the rule is validated
    and the segment counted on save). The builder page at /segments/ is friendlier."""

    form = SegmentAdminForm
    list_display = ("name", "active", "customers_count", "counted_at", "updated_at")
    list_filter = ("active",)
    search_fields = ("name", "description")
    fields = (*EDITABLE, "customers_count", "counted_at", "created_at", "updated_at")
    readonly_fields = ("customers_count", "counted_at", "created_at", "updated_at")
    actions = ("activate", "deactivate", "recount")

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in EDITABLE}
        if change:
            if not self._owns(request, obj):
                raise PermissionDenied
            saved = services.segment_update(segment=obj, **values)
        else:
            account = getattr(request, "account", None) or form.cleaned_data.get("account")
            if account is None:
                raise PermissionDenied
            saved = services.segment_create(account=account, **values)
            # The admin goes on with its own instance (log entry, redirect): make it the row.
            obj.pk, obj.account = saved.pk, saved.account
            obj.created_at = saved.created_at
            obj._state.adding = False
        obj.customers_count, obj.counted_at = saved.customers_count, saved.counted_at
        obj.updated_at = saved.updated_at

    @admin.action(description="Activate selected segments", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        for segment in queryset:
            services.segment_activate(segment=segment)
        self.message_user(request, f"{len(queryset)} segment(s) active.")

    @admin.action(description="Deactivate selected segments", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: Any) -> None:
        for segment in queryset:
            services.segment_deactivate(segment=segment)
        self.message_user(request, f"{len(queryset)} segment(s) inactive.")

    @admin.action(
        description="Count the customers of selected segments now", permissions=["change"]
    )
    def recount(self, request: HttpRequest, queryset: Any) -> None:
        for segment in queryset:
            services.segment_refresh_count(segment=segment)
        self.message_user(request, f"{len(queryset)} segment(s) counted.")
