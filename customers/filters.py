"""Query-parameter filters and ordering of the customer list (API and pages)."""

from typing import Any

from django.db.models import F, QuerySet
from django_filters import rest_framework as filters
from rest_framework.filters import OrderingFilter

from crm_project.api import filters as api_filters
from crm_project.api.filters import AccountDateTimeFilter, LenientChoiceFilter
from crm_project.phones import account_region
from customers import selectors
from customers.models import (
    Customer,
    CustomerStatus,
    CustomerType,
    Interaction,
    InteractionType,
)
from segments.selectors import customer_ids_in_segment, customers_with_tags


class PersonFilter(filters.FilterSet):
    """The filters customers' and leads' lists share: email, phone, agent, external id
    and the creation window (bare dates at 00:00 in the account's timezone)."""

    email = filters.CharFilter(method="filter_email", label="Email (case-insensitive)")
    phone = filters.CharFilter(method="filter_phone", label="Phone (any format, compared in E.164)")
    assigned_to = filters.UUIDFilter(field_name="assigned_to_id", label="Agent id")
    external_id = filters.CharFilter()
    created_after = AccountDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="Created at or after (a bare date: 00:00 in the account's timezone)",
    )
    created_before = AccountDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label="Created before (a bare date: 00:00 in the account's timezone)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timezone_name = getattr(self._account(), "timezone", None) or "UTC"
        for name in ("created_after", "created_before"):
            self.filters[name].extra["timezone_name"] = timezone_name

    def _account(self) -> Any:
        # The API puts the credentials' access on the request; the pages' middleware
        # puts the account itself.
        access = getattr(self.request, "access", None)
        if access is not None:
            return access.account
        return getattr(self.request, "account", None)

    def filter_email(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # lower(email): the expression of the (account, lower(email)) indexes.
        return queryset.alias(search_email=selectors.EMAIL_LOWER).filter(
            search_email=value.strip().lower()
        )

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            phone=selectors.phone_filter_value(value, phone_region=account_region(self._account()))
        )


class CustomerFilter(PersonFilter):
    q = filters.CharFilter(
        method="filter_q",
        label="Name or email contains (case-insensitive), phone digits, or exactly the "
        "id, number or external_id",
    )
    status = LenientChoiceFilter(choices=CustomerStatus.choices)
    type = LenientChoiceFilter(choices=CustomerType.choices)
    city = filters.CharFilter(lookup_expr="iexact")
    country = filters.CharFilter(lookup_expr="iexact")
    tag = filters.CharFilter(method="filter_tag", label="Has this tag (repeat for several)")
    min_lifetime_spend = filters.NumberFilter(field_name="lifetime_spend", lookup_expr="gte")
    max_lifetime_spend = filters.NumberFilter(field_name="lifetime_spend", lookup_expr="lte")
    number = filters.NumberFilter(decimal_places=0)
    segment = filters.CharFilter(
        method="filter_segment", label="In this segment (id; active or not)"
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_segment(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet:
        return queryset.filter(pk__in=customer_ids_in_segment(self._account(), value))

    def filter_q(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet:
        return selectors.with_search_fields(queryset).filter(
            selectors.customer_search_filter(value, phone_region=account_region(self._account()))
        )

    def filter_tag(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet:
        tags = [tag.strip() for tag in self.data.getlist(name) for tag in tag.split(",")]
        tags = [tag for tag in tags if tag]
        return queryset.filter(customers_with_tags(tags)) if tags else queryset


# What `?ordering=` takes on the customer list and its export.
CUSTOMER_ORDERING_FIELDS = [
    "name",
    "email",
    "created_at",
    "number",
    "lifetime_spend",
    "total_orders",
    "last_order_date",
]


class CustomerOrdering(OrderingFilter):
    """`?ordering=name` sorts by last then first name (the (account, last_name,
    first_name) index); every ordering ends with the id, so pages never overlap, and
    missing dates sort last in both directions."""

    ALIASES = {"name": ("last_name", "first_name")}
    NULLABLE = frozenset({"last_order_date"})

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> list[str]:
        ordering = super().get_ordering(request, queryset, view) or []
        expanded: list[str] = []
        for term in ordering:
            descending = term.startswith("-")
            field = term.lstrip("-")
            for part in self.ALIASES.get(field, (field,)):
                expanded.append(f"-{part}" if descending else part)
        if not any(term.lstrip("-") == "id" for term in expanded):
            last = expanded[-1] if expanded else "-created_at"
            expanded.append("-id" if last.startswith("-") else "id")
        return expanded

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        terms: list[Any] = []
        for term in ordering:
            field = term.lstrip("-")
            if field in self.NULLABLE:
                expression = F(field)
                terms.append(
                    expression.desc(nulls_last=True)
                    if term.startswith("-")
                    else expression.asc(nulls_last=True)
                )
            else:
                terms.append(term)
        return queryset.order_by(*terms)


class InteractionFilter(filters.FilterSet):
    """A customer's or lead's interactions: `type` in any case, `completed` a strict
    boolean (anything else is a 400 naming it)."""

    type = LenientChoiceFilter(choices=InteractionType.choices)
    completed = api_filters.BooleanFilter()

    class Meta:
        model = Interaction
        fields = ["type", "completed"]
