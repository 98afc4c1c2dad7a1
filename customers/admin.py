"""Customers and interactions in the admin, scoped like every tenant model
(crm_project.admin.TenantAdmin).

The spend aggregates (lifetime spend, orders, first and last order...) belong to the
order writes: they are read-only here, and a customer saved in the admin writes only the
fields its form changed (customers.services), so a save never puts back aggregates it
read before a concurrent order changed them."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.validators import EmailValidator
from django.db.models import QuerySet
from django.http import HttpRequest

from crm_project.admin import ReadOnlyTenantAdmin, TenantAdmin, TenantAdminForm
from crm_project.counting import counted_paginator
from crm_project.errors import Conflict
from crm_project.phones import InvalidPhone, account_region, normalize_phone
from customers import selectors, services
from customers.models import CUSTOMER_COUNTER, Customer, FollowUp, Interaction

AGGREGATES = (
    "lifetime_spend",
    "total_orders",
    "average_order_value",
    "first_order_date",
    "last_order_date",
    "refusals_count",
)


def indexed_search(
    request: HttpRequest, queryset: QuerySet[Customer], term: str
) -> QuerySet[Customer]:
    """The API's `?q=` (customers.selectors): served by the trigram and unique indexes,
    where the admin's own `icontains` search would scan every row."""
    return selectors.with_search_fields(queryset).filter(
        selectors.customer_search_filter(
            term, phone_region=account_region(getattr(request, "account", None))
        )
    )


class ContactAdminForm(TenantAdminForm):
    """The API's rules for contact fields: a trimmed, valid email; a phone in E.164 in
    the account's region. The admin forms of people (customers, leads) build on it."""

    def clean_email(self) -> str:
        value = (self.cleaned_data.get("email") or "").strip()
        if value:
            EmailValidator(message="Enter a valid email address.")(value)
        return value

    def clean_phone(self) -> str:
        region = account_region(self.owning_account())
        try:
            return normalize_phone(self.cleaned_data.get("phone") or "", region)
        except InvalidPhone as exc:
            raise ValidationError(str(exc), code="invalid_phone") from None


@admin.register(Customer)
class CustomerAdmin(TenantAdmin):
    form = ContactAdminForm
    list_display = (
        "number",
        "full_name",
        "email",
        "phone",
        "city",
        "status",
        "lifetime_spend",
        "total_orders",
        "last_order_date",
        "created_at",
    )
    list_display_links = ("number", "full_name")
    list_filter = ("status", "type")
    # The box searches like the API's `?q=` (get_search_results below).
    search_fields = ("email",)
    search_help_text = (
        "Name or email (any part), phone digits, or exactly the number or external id."
    )
    # A million customers: no COUNT(*) of them per page view (get_paginator).
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ("id", "number", *AGGREGATES, "created_at", "updated_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "number",
                    "external_id",
                    ("first_name", "last_name"),
                    ("email", "phone"),
                    "company",
                    ("type", "status"),
                    "assigned_to",
                )
            },
        ),
        ("Personal", {"fields": (("gender", "date_of_birth"),)}),
        (
            "Address",
            {
                "fields": (
                    "street",
                    ("zip", "city"),
                    ("state", "country"),
                    "billing_address",
                    "shipping_address",
                )
            },
        ),
        (
            "Billing",
            {"fields": ("payment_terms", "credit_limit", "tax_id"), "classes": ("collapse",)},
        ),
        (
            "Marketing and notes",
            {
                "fields": (
                    ("email_opt_in", "sms_opt_in"),
                    "unsubscribed_at",
                    "tags",
                    "metadata",
                    "source_lead",
                    "notes",
                )
            },
        ),
        (
            "Spend (maintained by the orders; read-only)",
            {
                "fields": (
                    ("lifetime_spend", "total_orders", "average_order_value"),
                    ("first_order_date", "last_order_date"),
                    ("refusals_count",),
                )
            },
        ),
        ("History", {"fields": (("created_at", "updated_at"),)}),
    )

    def get_paginator(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Paginator:
        return counted_paginator(request, CUSTOMER_COUNTER)(*args, **kwargs)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj: Customer) -> str:
        return obj.name or "—"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Customer], search_term: str
    ) -> tuple[QuerySet[Customer], bool]:
        if not search_term.strip():
            return queryset, False
        return indexed_search(request, queryset, search_term), False

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # TenantAdmin shows the account (a chooser when a superuser adds across
        # accounts, read-only afterwards) through get_fields; fieldsets need it too.
        fieldsets = list(super().get_fieldsets(request, obj))
        if "account" in self.get_fields(request, obj):
            title, options = fieldsets[0]
            fieldsets[0] = (title, {**options, "fields": ("account", *options["fields"])})
        return fieldsets

    # --- Writes through customers.services ---------------------------------------------

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        editable = [name for name in form.fields if name != "account"]
        if change:
            if not self._owns(request, obj):
                raise PermissionDenied
            stored = Customer.objects.get(pk=obj.pk)
            changed = {name: getattr(obj, name) for name in form.changed_data if name in editable}
            services.customer_update(customer=stored, **changed)
            return
        account = getattr(request, "account", None) or form.cleaned_data.get("account")
        created = services.customer_create(
            account=account,
            customer_id=obj.pk,
            **{name: getattr(obj, name) for name in editable},
        )
        obj.account = created.account
        obj.number = created.number
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False
        obj._state.db = created._state.db

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        services.customer_delete(customer=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        refused = []
        for customer in queryset:
            try:
                services.customer_delete(customer=customer)
            except Conflict:
                refused.append(str(customer))
        if refused:
            self.message_user(
                request,
                f"Not deleted, they have orders: {', '.join(refused)}.",
                messages.WARNING,
            )


@admin.register(Interaction)
class InteractionAdmin(TenantAdmin):
    list_display = ("date", "type", "subject", "customer", "agent", "completed", "next_action_date")
    list_filter = ("type", "completed")
    search_fields = ("subject",)
    list_select_related = ("customer", "agent")
    autocomplete_fields = ("customer",)
    show_full_result_count = False
    fields = (
        "customer",
        ("type", "date"),
        "subject",
        "description",
        "outcome",
        ("next_action", "next_action_date"),
        ("agent", "completed"),
    )


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyTenantAdmin):
    """Follow-ups, read-only: written by customers.services.followups_process and
    completed through the API."""

    list_display = ("due_at", "status", "interaction", "agent", "notified", "notify_error")
    list_filter = ("status", "notified")
    list_select_related = ("interaction", "agent")
    show_full_result_count = False
