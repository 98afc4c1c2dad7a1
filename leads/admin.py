"""Leads in the admin, scoped like every tenant model (crm_project.admin.TenantAdmin).
Writes go through leads.services (the same rules as the API); the conversion and
nurturing columns are read-only here."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from crm_project.admin import TenantAdmin
from crm_project.counting import counted_paginator
from crm_project.phones import account_region
from customers.admin import ContactAdminForm
from customers.selectors import with_search_fields
from leads import inputs, selectors, services
from leads.models import LEAD_COUNTER, Lead, LeadStatus

MAINTAINED = (
    "last_contact",
    "unsubscribed_at",
    "nurture_state",
    "nurture_step",
    "converted_customer",
    "converted_at",
)


class LeadAdminForm(ContactAdminForm):
    """The customers' rules for contact fields, and the lead's own."""

    def clean_status(self) -> str:
        value = self.cleaned_data.get("status") or ""
        if value == LeadStatus.CONVERTED and self.instance.status != LeadStatus.CONVERTED:
            raise ValidationError(inputs.CONVERT_ONLY, code="use_convert")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        account = self.owning_account()
        if self.instance._state.adding and getattr(account, "lead_consent_required", False):
            for field, errors in inputs.consent_errors(cleaned).items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, [str(error) for error in errors])
        return cleaned


@admin.register(Lead)
class LeadAdmin(TenantAdmin):
    form = LeadAdminForm
    list_display = (
        "full_name",
        "email",
        "phone",
        "status",
        "source",
        "score",
        "nurture_state",
        "created_at",
    )
    list_filter = ("status", "source", "nurture_state")
    search_fields = ("email",)
    search_help_text = "Name or email (any part), phone digits, or exactly the external id."
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ("id", *MAINTAINED, "created_at", "updated_at")
    fields = (
        "id",
        "external_id",
        "source_id",
        ("first_name", "last_name"),
        ("email", "phone"),
        "company",
        ("status", "source", "score"),
        ("assigned_to", "campaign"),
        "street",
        ("zip", "city", "state"),
        ("ip_address", "acquired_at"),
        ("jornaya_lead_id", "trusted_form_id"),
        "attributes",
        "notes",
        *MAINTAINED,
        ("created_at", "updated_at"),
    )

    def get_paginator(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Paginator:
        return counted_paginator(request, LEAD_COUNTER)(*args, **kwargs)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj: Lead) -> str:
        return obj.name or "—"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Lead], search_term: str
    ) -> tuple[QuerySet[Lead], bool]:
        if not search_term.strip():
            return queryset, False
        condition = selectors.lead_search_filter(
            search_term, phone_region=account_region(getattr(request, "account", None))
        )
        return with_search_fields(queryset).filter(condition), False

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        editable = [name for name in form.fields if name != "account"]
        if change:
            if not self._owns(request, obj):
                raise PermissionDenied
            stored = Lead.objects.get(pk=obj.pk)
            changed = {name: getattr(obj, name) for name in form.changed_data if name in editable}
            services.lead_update(lead=stored, **changed)
            return
        account = getattr(request, "account", None) or form.cleaned_data.get("account")
        created = services.lead_create(
            account=account, **{name: getattr(obj, name) for name in editable}
        )
        obj.pk = created.pk
        obj.account = created.account
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False
        obj._state.db = created._state.db

    def delete_model(self, request: HttpRequest, obj: Lead) -> None:
        services.lead_delete(lead=obj)
