"""No 500 on bad input: NUL characters in JSON and query strings, JSON nested thousands
deep, repeated query parameters on every collection endpoint, and bulk rows that raise
anything at all."""

import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Agent
from crm_project.api.parsers import MAX_DEPTH
from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.crm_project.api_routes import collection_routes
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

RULES = {"logic": "AND", "rules": [{"field": "first_name", "operator": "is_not_empty"}]}


@pytest.fixture(autouse=True)
def _no_request_budget(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credential": "100000/min"},
    }


def assert_error(response, status, code, attr=None):
    assert response.status_code == status, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == (code, attr), response.json()
    return response.json()


def customers_of(account):
    with account_scope(account):
        return list(Customer.objects.values_list("first_name", flat=True))


# --- NUL characters in JSON -----------------------------------------------------------


CUSTOMERS = "/api/v1/customers/"
NUL_IN_RULE = {"logic": "AND", "rules": [{"field": "first_name", "operator": "=", "value": "\0"}]}
A = {"first_name": "A", "email": "a@example.com"}
NUL_IN_BULK_ROW = {"customers": [A, {**A, "email": "b@example.com", "metadata": {"x": "\0"}}]}


@pytest.mark.parametrize(
    ("method", "url", "body", "attr"),
    [
        ("post", CUSTOMERS, {**A, "metadata": {"note": "a\0b"}}, "metadata.note"),
        ("post", CUSTOMERS, {**A, "metadata": {"k\0": 1}}, "metadata.k\\u0000"),
        ("post", CUSTOMERS, {**A, "customFields": {"d": [{"x": "\0"}]}}, "custom_fields.d.0.x"),
        ("post", CUSTOMERS, {"email": "a@example.com", "firstName": "A\0"}, "first_name"),
        ("post", f"{CUSTOMERS}bulk/", NUL_IN_BULK_ROW, "customers.1.metadata.x"),
        ("post", "/api/v1/segments/", {"name": "s", "rules": NUL_IN_RULE}, "rules.rules.0.value"),
        ("patch", "/api/v1/account/", {"attributes": {"plan": ["ok", "\0"]}}, "attributes.plan.1"),
    ],
)
def test_a_nul_character_in_any_json_string_is_a_400_naming_its_path(
    api_client, account, method, url, body, attr
):
    response = getattr(api_client, method)(url, body, format="json")
    assert_error(response, 400, "null_characters_not_allowed", attr)
    assert customers_of(account) == []
    assert api_client.get("/api/v1/account/").json()["attributes"] == {}


def test_json_nested_thousands_deep_is_a_400(api_client, account):
    body = '{"first_name": "A", "metadata": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = api_client.post(CUSTOMERS, body, content_type="application/json")
    assert_error(response, 400, "too_deep")
    assert customers_of(account) == []


def nested(levels):
    """A customer body whose document is `levels` deep (the body itself is level 1)."""
    value = []
    for _ in range(levels - 3):
        value = [value]
    return {"first_name": "Deep", "email": "deep@example.com", "metadata": {"x": value}}


def test_json_deeper_than_the_cap_is_a_400_and_at_the_cap_is_read(api_client, account):
    assert_error(api_client.post(CUSTOMERS, nested(MAX_DEPTH + 1)), 400, "too_deep")
    created = api_client.post(CUSTOMERS, nested(MAX_DEPTH))
    assert created.status_code == 201, created.content
    stored = api_client.get(f"{CUSTOMERS}{created.json()['id']}/").json()
    assert json.dumps(stored["metadata"]).count("[") == MAX_DEPTH - 2


# --- Query strings --------------------------------------------------------------------


@pytest.fixture
def collections(api_client, account):
    """(route, url, parameter names) of every GET endpoint answering a collection."""
    customer = CustomerFactory(account=account)
    segment = api_client.post("/api/v1/segments/", {"name": "s", "rules": RULES}).json()
    lead = api_client.post("/api/v1/leads/", {"first_name": "l", "email": "l@x.example"}).json()
    objects = {"customer_pk": customer.pk, "segment_pk": segment["id"], "lead_pk": lead["id"]}
    found = []
    for route in collection_routes():
        unknown = set(route.kwargs) - set(objects)
        assert not unknown, f"{route.name}: give this test an object for {unknown}"
        url = route.url(**{name: objects[name] for name in route.kwargs})
        found.append((route, url, parameters_of(route.view_class)))
    return found


def parameters_of(view_class):
    """The query parameters a view reads: its filters', ordering's and pages'."""
    names = {"q", "page", "page_size", "cursor", "ordering"}
    filterset = getattr(view_class, "filterset_class", None)
    if filterset is not None:
        names |= set(filterset.base_filters)
    names |= set(getattr(view_class, "filterset_fields", None) or [])
    for backend in getattr(view_class, "filter_backends", []):
        for attr in ("ordering_param", "sort_param", "direction_param", "search_param"):
            names |= {getattr(backend, attr)} if hasattr(backend, attr) else set()
    paginator = getattr(view_class, "pagination_class", None)
    if paginator is not None:
        names |= set(getattr(paginator, "page_size_aliases", ()))
    return sorted(names)


# Two values each, of the kinds the parameters take (numbers, text, flags, dates,
# orderings), each kind first in one pair and last in another, and a `%` that a message
# might format.
REPEATED_VALUES = [("1", "a%"), ("a%", "true"), ("2024-01-01", "-created_at")]


def test_repeated_query_parameters_never_answer_500_on_any_collection(
    api_client, superuser, account, collections
):
    platform_client = APIClient()
    platform_client.force_authenticate(superuser)
    failures = []
    for route, url, names in collections:
        client = platform_client if getattr(route.view_class, "platform", False) else api_client
        for name in names:
            for values in REPEATED_VALUES:
                response = client.get(url, {name: list(values)}, HTTP_X_ACCOUNT=account.slug)
                if response.status_code >= 500:
                    failures.append((route.name, name, values, response.status_code))
    assert failures == []


def test_a_nul_in_any_query_parameter_is_a_400_naming_it(api_client, collections):
    for route, url, names in collections:
        for name in names:
            response = api_client.get(f"{url}?{name}=a%00b")
            assert response.status_code == 400, (route.name, name, response.status_code)
            error = response.json()["errors"][0]
            assert (error["code"], error["attr"]) == ("null_characters_not_allowed", name)
    response = api_client.get(f"{CUSTOMERS}?bad%00name=1")
    assert_error(response, 400, "null_characters_not_allowed", "bad\\u0000name")


@pytest.mark.parametrize("path", ["/?q=a%00b", "/?account=a%00", "/import/?kind=%00"])
def test_a_nul_in_a_pages_query_string_is_a_400(superuser, path):
    client = Client()
    client.force_login(superuser)
    assert client.get(path).status_code == 400


# --- Bulk rows ------------------------------------------------------------------------


def agents_of(account):
    with account_scope(account):
        return sorted(Agent.objects.values_list("external_id", flat=True))


def test_a_bulk_row_that_raises_anything_fails_alone_and_is_rolled_back(
    api_client, account, monkeypatch
):
    upsert = account_services.agent_upsert

    def written_then_broken(*, account, external_id, **fields):
        result = upsert(account=account, external_id=external_id, **fields)
        if external_id == "boom":
            raise RuntimeError("an unexpected defect")
        return result

    monkeypatch.setattr(account_services, "agent_upsert", written_then_broken)
    rows = [
        {"external_id": "a1", "first_name": "A"},
        {"external_id": "boom", "first_name": "B"},
        {"external_id": "a3", "first_name": "C"},
    ]
    body = api_client.post("/api/v1/agents/bulk/", {"agents": rows}).json()

    assert (body["created"], body["failed"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    failed = body["results"][1]
    assert failed["id"] is None
    assert failed["errors"] == [
        {"code": "error", "detail": "This row could not be applied.", "attr": None}
    ]
    # The failed row's write was rolled back with its savepoint; the others stay.
    assert agents_of(account) == ["a1", "a3"]


def test_a_bulk_row_whose_service_refuses_it_names_the_field(api_client, account, monkeypatch):
    def refuse(**_kwargs):
        raise DjangoValidationError({"email": ["Not deliverable."]})

    monkeypatch.setattr(account_services, "agent_upsert", refuse)
    body = api_client.post(
        "/api/v1/agents/bulk/", {"agents": [{"external_id": "x", "first_name": "A"}]}
    ).json()
    assert body["failed"] == 1
    assert body["results"][0]["errors"] == [
        {"code": "invalid", "detail": "Not deliverable.", "attr": "email"}
    ]
    assert agents_of(account) == []
