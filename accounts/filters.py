"""Query-parameter filters of the accounts app's lists. A filter that names another
row takes its choices from the request's account only: the browsable form lists no
one else's rows, and an id from elsewhere is refused exactly like a missing one."""

from typing import Any

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from accounts import selectors
from accounts.models import Account, AccountStatus, Agent
from crm_project.api import filters as api_filters


def _members_of_request_account(request: Any) -> QuerySet:
    """The users of the request's account; none without a request or an account (the
    schema's generation, a superuser across accounts)."""
    access = getattr(request, "access", None)
    return selectors.account_users(getattr(access, "account", None))


class PlatformAccountFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=AccountStatus.choices)
    q = filters.CharFilter(method="filter_q", label="Name or slug contains")

    class Meta:
        model = Account
        fields = ["status", "type"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class AgentFilter(filters.FilterSet):
    external_id = filters.CharFilter()
    email = filters.CharFilter(lookup_expr="iexact")
    active = api_filters.BooleanFilter()
    user = filters.ModelChoiceFilter(
        queryset=_members_of_request_account, label="The linked user (a member of the account)"
    )
    q = filters.CharFilter(method="filter_q", label="Name, email or phone contains")

    class Meta:
        model = Agent
        fields = ["active", "external_id", "email", "user"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(phone__icontains=value)
        )
