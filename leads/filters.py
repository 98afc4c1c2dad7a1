"""Query-parameter filters and ordering of the lead list."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from crm_project.api import filters as api_filters
from crm_project.api.filters import AccountDateTimeFilter, LenientChoiceFilter
from crm_project.phones import account_region
from customers.filters import CustomerOrdering
from customers.selectors import with_search_fields
from leads import selectors
from leads.models import Lead, LeadSource, LeadStatus, NurtureSequence, NurtureState

# What `?ordering=` takes on the lead list and its export.
LEAD_ORDERING_FIELDS = [
    "name",
    "email",
    "created_at",
    "updated_at",
    "score",
    "status",
    "acquired_at",
    "last_contact",
]


class LeadFilter(filters.FilterSet):
    q = filters.CharFilter(
        method="filter_q",
        label="Name or email contains (case-insensitive), phone digits, or exactly the "
        "id or external_id",
    )
    external_id = filters.CharFilter()
    email = filters.CharFilter(method="filter_email", label="Email (case-insensitive)")
    phone = filters.CharFilter(method="filter_phone", label="Phone (any format, compared in E.164)")
    status = LenientChoiceFilter(choices=LeadStatus.choices)
    source = LenientChoiceFilter(choices=LeadSource.choices)
    nurture_state = LenientChoiceFilter(choices=NurtureState.choices)
    assigned_to = filters.UUIDFilter(field_name="assigned_to_id", label="Agent id")
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

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timezone_name = getattr(self._account(), "timezone", None) or "UTC"
        for name in ("created_after", "created_before"):
            self.filters[name].extra["timezone_name"] = timezone_name

    def _account(self) -> Any:
        access = getattr(self.request, "access", None)
        if access is not None:
            return access.account
        return getattr(self.request, "account", None)

    def filter_q(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet:
        return with_search_fields(queryset).filter(
            selectors.lead_search_filter(value, phone_region=account_region(self._account()))
        )

    def filter_email(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet:
        return queryset.alias(search_email=selectors.EMAIL_LOWER).filter(
            search_email=value.strip().lower()
        )

    def filter_phone(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet:
        return queryset.filter(
            phone=selectors.phone_filter_value(value, phone_region=account_region(self._account()))
        )


class LeadOrdering(CustomerOrdering):
    """As customers': `name` sorts by last then first name, every ordering ends with the
    id, and missing dates sort last."""

    NULLABLE = frozenset({"acquired_at", "last_contact"})


class NurtureSequenceFilter(filters.FilterSet):
    active = api_filters.BooleanFilter()
    is_default = api_filters.BooleanFilter()

    class Meta:
        model = NurtureSequence
        fields = ["active", "is_default"]
