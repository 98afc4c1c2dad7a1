"""Loyalty cards and the points ledger in the admin, scoped like every tenant model
(crm_project.admin.TenantAdmin), and read-only: balances move only through
loyalty.services, which append the ledger row in the same statement, and the ledger
itself refuses updates and deletes."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from crm_project.admin import TenantAdmin
from loyalty.models import LoyaltyCard, LoyaltyTransaction


class ReadOnlyTenantAdmin(TenantAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
