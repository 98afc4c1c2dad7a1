"""Loyalty in the admin, scoped like every tenant model (crm_project.admin.TenantAdmin).
Cards, the points ledger and credit requests are read-only here: balances move only
through loyalty.services, which append the ledger row in the same statement, and the
ledger itself refuses updates and deletes. Levels are edited, through the services."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from crm_project.admin import ReadOnlyTenantAdmin, TenantAdmin
from loyalty import services
from loyalty.models import CreditRequest, LoyaltyCard, LoyaltyLevel, LoyaltyTransaction


@admin.register(LoyaltyCard)
class LoyaltyCardAdmin(ReadOnlyTenantAdmin):
    list_display = ("number", "customer", "status", "points_balance", "points_earned", "issued_at")
    list_filter = ("status",)
    search_fields = ("number",)
    list_select_related = ("customer",)


@admin.register(LoyaltyTransaction)
class LoyaltyTransactionAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "card", "kind", "points", "balance_after", "ticket_id")
    list_filter = ("kind",)
    search_fields = ("card__number", "ticket_id")
    list_select_related = ("card",)


@admin.register(LoyaltyLevel)
class LoyaltyLevelAdmin(TenantAdmin):
    """Levels are written through loyalty.services (a taken name or threshold is a
    form error, not a crash)."""

    list_display = ("name", "min_points", "earn_multiplier")
    ordering = ("min_points",)
    fields = ("name", "min_points", "earn_multiplier")

    def save_model(self, request: HttpRequest, obj: LoyaltyLevel, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in self.fields}
        if change:
            if not self._owns(request, obj):
                raise PermissionDenied
            services.level_update(level=LoyaltyLevel.objects.get(pk=obj.pk), **values)
            return
        account = getattr(request, "account", None) or form.cleaned_data.get("account")
        if account is None:
            raise PermissionDenied
        created = services.level_create(account=account, **values)
        obj.pk, obj.account = created.pk, created.account

    def delete_model(self, request: HttpRequest, obj: LoyaltyLevel) -> None:
        if not self._owns(request, obj):
            raise PermissionDenied
        services.level_delete(level=obj)


@admin.register(CreditRequest)
class CreditRequestAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "customer", "amount", "date", "status")
    list_filter = ("status",)
    list_select_related = ("customer",)
