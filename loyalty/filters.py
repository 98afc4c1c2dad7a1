"""Query-parameter filters of loyalty cards, the points ledger, credit requests and
tickets."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework import serializers

from crm_project.api.filters import AccountDateTimeFilter, LenientChoiceFilter
from loyalty.models import (
    CardStatus,
    CreditRequest,
    CreditStatus,
    LoyaltyCard,
    LoyaltyTransaction,
    TransactionKind,
)
from orders import selectors as order_selectors
from orders.filters import OrderFilter


def _account(request: Any) -> Any:
    access = getattr(request, "access", None)
    if access is not None:
        return access.account
    return getattr(request, "account", None)


def _filter_customer(queryset: QuerySet, name: str, value: str) -> QuerySet:
    lookup = order_selectors.id_or_number_lookup(value)
    if lookup is None:
        raise serializers.ValidationError({name: ["Give a customer id or number."]})
    if "number" in lookup:
        return queryset.filter(customer__number=lookup["number"])
    return queryset.filter(customer_id=lookup["pk"])


class LoyaltyCardFilter(filters.FilterSet):
    number = filters.CharFilter(label="The card number, exactly")
    customer = filters.CharFilter(method="filter_customer", label="The holder's id or number")
    status = LenientChoiceFilter(choices=CardStatus.choices)

    class Meta:
        model = LoyaltyCard
        fields: list[str] = []

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _filter_customer(queryset, name, value)


class LoyaltyTransactionFilter(filters.FilterSet):
    card = filters.CharFilter(field_name="card__number", label="The card number, exactly")
    customer = filters.CharFilter(method="filter_customer", label="The customer's id or number")
    kind = LenientChoiceFilter(choices=TransactionKind.choices)
    ticket_id = filters.CharFilter()
    created_after = AccountDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="Written at or after (a bare date: 00:00 in the account's timezone)",
    )
    created_before = AccountDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label="Written before (a bare date: 00:00 in the account's timezone)",
    )

    class Meta:
        model = LoyaltyTransaction
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timezone_name = getattr(_account(self.request), "timezone", None) or "UTC"
        for name in ("created_after", "created_before"):
            self.filters[name].extra["timezone_name"] = timezone_name

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _filter_customer(queryset, name, value)


class CreditRequestFilter(filters.FilterSet):
    customer = filters.CharFilter(method="filter_customer", label="The customer's id or number")
    status = LenientChoiceFilter(choices=CreditStatus.choices)

    class Meta:
        model = CreditRequest
        fields: list[str] = []

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return _filter_customer(queryset, name, value)


class TicketFilter(OrderFilter):
    """Tickets are orders: the orders' filters, and the date range also as
    `date_from` / `date_to` (a bare `date_to` includes that whole day)."""

    date_from = filters.CharFilter(method="filter_ordered_after", label="Alias of ordered_after")
    date_to = filters.CharFilter(method="filter_ordered_before", label="Alias of ordered_before")
