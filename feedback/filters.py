"""Query-parameter filters of the feedback list."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework import serializers

from crm_project.api.filters import BooleanFilter, LenientChoiceFilter
from crm_project.api.windows import WindowQuerySerializer
from feedback.models import Feedback, FeedbackCategory, FeedbackChannel
from orders import selectors as order_selectors


class FeedbackFilter(filters.FilterSet):
    rating = filters.MultipleChoiceFilter(
        choices=[(str(n), str(n)) for n in range(1, 6)], label="Any of these ratings"
    )
    category = LenientChoiceFilter(choices=FeedbackCategory.choices)
    channel = LenientChoiceFilter(choices=FeedbackChannel.choices)
    customer = filters.CharFilter(method="filter_customer", label="The customer's id or number")
    answered = BooleanFilter(method="filter_answered", label="Answered (true) or waiting (false)")
    date_from = filters.CharFilter(
        method="filter_window", label="Requested at or after (a bare date: 00:00 there)"
    )
    date_to = filters.CharFilter(
        method="filter_window", label="Requested before (a bare date includes that day)"
    )

    class Meta:
        model = Feedback
        fields: list[str] = []

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        lookup = order_selectors.id_or_number_lookup(value)
        if lookup is None:
            raise serializers.ValidationError({name: ["Give a customer id or number."]})
        if "number" in lookup:
            return queryset.filter(customer__number=lookup["number"])
        return queryset.filter(customer_id=lookup["pk"])

    def filter_answered(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(answered_at__isnull=not value)

    def filter_window(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        if name != "date_from" and "date_from" in self.data:
            return queryset  # both bounds are applied once, by date_from
        window = WindowQuerySerializer(
            data={key: self.data[key] for key in ("date_from", "date_to") if key in self.data},
            context={"account": getattr(getattr(self.request, "access", None), "account", None)},
        )
        window.is_valid(raise_exception=True)
        start, end = window.validated_data["start"], window.validated_data["end"]
        if start is not None:
            queryset = queryset.filter(requested_at__gte=start)
        if end is not None:
            queryset = queryset.filter(requested_at__lt=end)
        return queryset
