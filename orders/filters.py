"""Query-parameter filters of products, points of sale and orders."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from crm_project.api import filters as api_filters
from crm_project.api.fields import ChoiceField
from crm_project.datetimes import (
    InvalidDateTime,
    account_zone,
    next_local_midnight,
    parse_account_datetime,
)
from orders import selectors
from orders.models import Channel, Order, OrderStatus, PaymentMethod, PointOfSale, Product


class _ChoiceListField(forms.CharField):
    """Comma-separated choice values, read as leniently as the API's bodies read them
    (`COMPLETED`, `e-commerce`); cleaned to the canonical values."""

    def __init__(self, *, choices: Any, **kwargs: Any) -> None:
        self.choice = ChoiceField(choices=choices)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        if not text:
            return []
        cleaned = []
        for part in text.split(","):
            try:
                cleaned.append(self.choice.to_internal_value(part.strip()))
            except serializers.ValidationError:
                choices = ", ".join(self.choice.choices)
                # The value goes in params: django-filter %-formats the message.
                raise forms.ValidationError(
                    "%(value)r is not one of %(choices)s.",
                    code="invalid_choice",
                    params={"value": part.strip(), "choices": choices},
                ) from None
        return cleaned


class ChoiceListFilter(filters.CharFilter):
    """`?status=pending,processing`: any of the values, case and `-`/`_` ignored."""

    field_class = _ChoiceListField

    def __init__(self, *args: Any, choices: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=choices, **kwargs)

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


def _zone(request: Any) -> ZoneInfo:
    return account_zone(getattr(getattr(request, "access", None), "account", None))


def _parse_when(request: Any, name: str, value: str) -> tuple[datetime, bool]:
    """(instant, was a bare date) read as the body's datetimes are
    (crm_project.datetimes): without an offset in the account's timezone, a bare date
    at 00:00 there."""
    try:
        return parse_account_datetime(value, _zone(request))
    except InvalidDateTime as exc:
        raise serializers.ValidationError({name: [ErrorDetail(str(exc), code=exc.code)]}) from None


class ProductFilter(filters.FilterSet):
    brand = filters.CharFilter(lookup_expr="iexact")
    category = filters.CharFilter(lookup_expr="iexact")
    sku = filters.CharFilter()
    external_id = filters.CharFilter()
    active = api_filters.BooleanFilter()
    q = filters.CharFilter(method="filter_q", label="SKU, name or brand contains")

    class Meta:
        model = Product
        fields = ["active", "brand", "category", "sku", "external_id"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(sku__icontains=value) | Q(name__icontains=value) | Q(brand__icontains=value)
        )


class PointOfSaleFilter(filters.FilterSet):
    code = filters.CharFilter()
    city = filters.CharFilter(lookup_expr="iexact")
    q = filters.CharFilter(method="filter_q", label="Code, name or city contains")

    class Meta:
        model = PointOfSale
        fields = ["code", "city"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(city__icontains=value)
        )


class OrderFilter(filters.FilterSet):
    customer = filters.CharFilter(
        method="filter_customer", label="The customer's id or per-account number"
    )
    status = ChoiceListFilter(choices=OrderStatus.choices, label="Any of these statuses")
    channel = ChoiceListFilter(choices=Channel.choices, label="Any of these channels")
    payment_method = ChoiceListFilter(
        choices=PaymentMethod.choices, label="Any of these payment methods"
    )
    pos = filters.CharFilter(method="filter_pos", label="The point of sale's id or code")
    ordered_after = filters.CharFilter(
        method="filter_ordered_after",
        label="Placed at or after (ISO 8601; a bare date is 00:00 in the account's timezone)",
    )
    ordered_before = filters.CharFilter(
        method="filter_ordered_before",
        label="Placed at or before (ISO 8601; a bare date includes that whole day)",
    )
    min_amount = filters.NumberFilter(field_name="amount", lookup_expr="gte")
    max_amount = filters.NumberFilter(field_name="amount", lookup_expr="lte")
    external_id = filters.CharFilter()
    number = filters.NumberFilter(decimal_places=0)

    class Meta:
        model = Order
        fields = ["external_id", "number"]

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        lookup = selectors.id_or_number_lookup(value)
        if lookup is None:
            raise serializers.ValidationError({name: ["Give a customer id or number."]})
        if "number" in lookup:
            return queryset.filter(customer__number=lookup["number"])
        return queryset.filter(customer_id=lookup["pk"])

    def filter_pos(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        pos_id = selectors.as_uuid(value)
        if pos_id is not None:
            return queryset.filter(Q(pos_id=pos_id) | Q(pos__code=value.strip()))
        return queryset.filter(pos__code=value.strip())

    def filter_ordered_after(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        at, _is_date = _parse_when(self.request, name, value)
        return queryset.filter(ordered_at__gte=at)

    def filter_ordered_before(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        at, is_date = _parse_when(self.request, name, value)
        if is_date:
            end = next_local_midnight(at, _zone(self.request))
            return queryset if end is None else queryset.filter(ordered_at__lt=end)
        return queryset.filter(ordered_at__lte=at)
