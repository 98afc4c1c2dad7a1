"""Every filter, form field and choice list of the API offers the request's account
only: walked over every list endpoint the URL resolver knows, as the filter backend
and the browsable API build them for a member of one account."""

import pytest
from django.contrib.auth import get_user_model
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from accounts.models import Role
from crm_project.api.authentication import Access
from crm_project.tenancy import account_scope, unscoped
from tests.conftest import PASSWORD, basic_auth
from tests.crm_project.api_routes import list_routes
from tests.factories import (
    AgentFactory,
    CustomerFactory,
    MembershipFactory,
    PointOfSaleFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

RULES = {"logic": "AND", "rules": [{"field": "first_name", "operator": "is_not_empty"}]}


@pytest.fixture
def member(account):
    return MembershipFactory(account=account, role=Role.ADMIN).user


@pytest.fixture
def outsiders(other_account, other_api_client, superuser):
    """Another account with a row in every kind of list, its own user, and a user of no
    account: the ids and names none of `account`'s forms may offer."""
    stranger = MembershipFactory(account=other_account).user
    loner = UserFactory(username="loner")
    rows = [
        AgentFactory(account=other_account, user=stranger),
        CustomerFactory(account=other_account),
        ProductFactory(account=other_account),
        PointOfSaleFactory(account=other_account),
    ]
    segment = other_api_client.post("/api/v1/segments/", {"name": "theirs", "rules": RULES})
    assert segment.status_code == 201, segment.content
    users = [stranger, loner, superuser]
    secrets = {str(row.pk) for row in rows} | {segment.json()["id"]}
    secrets |= {str(user.pk) for user in users} | {user.username for user in users}
    return secrets


def _list_views(account, member, api_client):
    """(route, view, request) of every list endpoint, set up as dispatch would for
    `member` acting in `account`."""
    customer = CustomerFactory(account=account)
    segment = api_client.post("/api/v1/segments/", {"name": "ours", "rules": RULES}).json()
    lead = api_client.post("/api/v1/leads/", {"first_name": "l", "email": "l@x.example"}).json()
    objects = {"customer_pk": str(customer.pk), "segment_pk": segment["id"], "lead_pk": lead["id"]}
    factory = APIRequestFactory()
    for route in list_routes():
        unknown = set(route.kwargs) - set(objects)
        assert not unknown, f"{route.name}: give this test an object for {unknown}"
        kwargs = {name: objects[name] for name in route.kwargs}
        django_request = factory.get(route.url(**kwargs))
        force_authenticate(django_request, user=member)
        view = route.view_class(**route.initkwargs)
        view.action_map = route.actions
        view.action = "list"
        view.args, view.kwargs, view.format_kwarg = (), kwargs, None
        request = view.initialize_request(django_request)
        request.access = Access(account=account, role=Role.ADMIN)
        view.request = request
        yield route, view, request


def _offered(field):
    """What a form or serializer field offers: its choices' values and labels, and
    the rows of its queryset."""
    rows = []
    queryset = getattr(field, "queryset", None)
    if isinstance(field, ManyRelatedField):
        field = field.child_relation
    if isinstance(field, RelatedField):
        queryset = field.get_queryset()
    if queryset is not None:
        rows = list(queryset)
    return rows, set(_texts(getattr(field, "choices", None) or []))


def _texts(choices):
    """Every value and label of (possibly grouped) choices, as text."""
    if isinstance(choices, dict):
        choices = choices.items()
    for choice in choices:
        if isinstance(choice, (list, tuple, dict)):
            yield from _texts(choice)
        else:
            yield str(choice)


def _foreign(row, account):
    if isinstance(row, get_user_model()):
        with unscoped():
            return not row.memberships.filter(account=account).exists()
    return getattr(row, "account_id", account.pk) != account.pk


def test_no_list_filter_or_form_offers_another_accounts_rows_or_users(
    account, member, api_client, outsiders
):
    checked = 0
    for route, view, request in _list_views(account, member, api_client):
        with account_scope(account):
            queryset = view.get_queryset()
            fields = {}
            for backend_class in view.filter_backends:
                backend = backend_class()
                if not isinstance(backend, DjangoFilterBackend):
                    continue
                filterset = backend.get_filterset(request, queryset, view)
                if filterset is None:
                    continue
                fields |= {f"filter {name}": f for name, f in filterset.form.fields.items()}
                # The browsable API's filter form, as it renders.
                html = backend.to_html(request, queryset, view) or ""
                leaked = {
                    secret
                    for secret in outsiders
                    if f'value="{secret}"' in html or f">{secret}<" in html
                }
                assert not leaked, f"{route.name}: the filter form shows {leaked}"
            if getattr(view, "serializer_class", None) is not None:
                serializer = view.get_serializer()
                fields |= {f"field {name}": f for name, f in serializer.fields.items()}
            for name, field in fields.items():
                rows, labels = _offered(field)
                foreign = [row for row in rows if _foreign(row, account)]
                assert not foreign, f"{route.name} {name} offers {foreign}"
                leaked = labels & outsiders
                assert not leaked, f"{route.name} {name} offers {leaked}"
                checked += 1
    assert checked > 20  # the walk reached the lists' forms


def test_the_agents_user_filter_answers_a_stranger_like_a_missing_id(
    account, member, api_client, outsiders, other_account
):
    with unscoped():
        stranger = get_user_model().objects.get(memberships__account=other_account)
    AgentFactory(account=account, user=member)
    missing = api_client.get("/api/v1/agents/", {"user": 987654321})
    foreign = api_client.get("/api/v1/agents/", {"user": stranger.pk})
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["errors"][0]["attr"] == "user"
    mine = api_client.get("/api/v1/agents/", {"user": member.pk}).json()["results"]
    assert [agent["user"] for agent in mine] == [member.pk]


@pytest.mark.parametrize(
    "accept", ["text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]
)
def test_the_browsable_api_is_not_served_without_debug(user, accept):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    response = client.get("/api/v1/agents/", HTTP_ACCEPT=accept)
    assert "html" not in response["Content-Type"]
    assert b"<form" not in response.content
    assert client.get("/api/v1/agents/?format=api").status_code == 404
