"""Query-parameter filters and ordering of campaigns and of a campaign's recipients."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework.filters import OrderingFilter

from campaigns.models import Campaign, CampaignStatus, Channel, DeliveryMode, Message, MessageStatus
from orders.filters import ChoiceListFilter


class CampaignFilter(filters.FilterSet):
    status = ChoiceListFilter(choices=CampaignStatus.choices, label="Any of these statuses")
    channel = ChoiceListFilter(choices=Channel.choices, label="Any of these channels")
    delivery_mode = ChoiceListFilter(choices=DeliveryMode.choices, label="Any of these modes")
    segment = filters.UUIDFilter(field_name="segment_id", label="Targets this segment (id)")
    name = filters.CharFilter(lookup_expr="icontains", label="Name contains (case-insensitive)")

    class Meta:
        model = Campaign
        fields: list[str] = []


class CampaignOrdering(OrderingFilter):
    """`?ordering=field` or `-field`; every ordering ends with the id (in the last
    term's direction), so pages never overlap."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            last = ordering[-1] if ordering else "-created_at"
            ordering.append("-id" if last.startswith("-") else "id")
        return ordering


class RecipientFilter(filters.FilterSet):
    status = ChoiceListFilter(choices=MessageStatus.choices, label="Any of these statuses")

    class Meta:
        model = Message
        fields: list[str] = []
