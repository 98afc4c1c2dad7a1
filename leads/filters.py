"""Query-parameter filters and ordering of the lead list."""

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from crm_project.api import filters as api_filters
from crm_project.api.filters import LenientChoiceFilter
from crm_project.phones import account_region
from customers.filters import CustomerOrdering, PersonFilter
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


class LeadFilter(PersonFilter):
    q = filters.CharFilter(
        method="filter_q",
        label="Name or email contains (case-insensitive), phone digits, or exactly the "
        "id or external_id",
    )
    status = LenientChoiceFilter(choices=LeadStatus.choices)
    source = LenientChoiceFilter(choices=LeadSource.choices)
    nurture_state = LenientChoiceFilter(choices=NurtureState.choices)

    class Meta:
        model = Lead
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet:
        return with_search_fields(queryset).filter(
            selectors.lead_search_filter(value, phone_region=account_region(self._account()))
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
