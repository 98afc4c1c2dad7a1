"""Another account never sees or touches this account's customers, on any endpoint; a
read-only key never writes."""

import json

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer, Interaction
from tests.customers.conftest import add_interaction, place_order, stored
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(account):
    customer = CustomerFactory(
        account=account,
        first_name="Secret",
        last_name="Person",
        email="secret@acme.example",
        phone="+14155550123",
        external_id="ACME-1",
        city="Lyon",
        tags=["vip"],
    )
    place_order(account, customer, "99.00")
    add_interaction(account, customer, subject="Confidential")
    return customer


def detail_paths(customer):
    interaction_pk = _interaction_of(customer)
    for ref in (customer.pk, customer.number):
        base = f"/api/v1/customers/{ref}"
        yield "get", f"{base}/", None
        yield "put", f"{base}/", {"city": "Stolen"}
        yield "patch", f"{base}/", {"city": "Stolen"}
        yield "delete", f"{base}/", None
        yield "get", f"{base}/health/", None
        yield "get", f"{base}/timeline/", None
        yield "get", f"{base}/interactions/", None
        yield (
            "post",
            f"{base}/interactions/",
            {"type": "call", "subject": "x", "date": "2024-01-01"},
        )
        yield "get", f"{base}/interactions/{interaction_pk}/", None
        yield "patch", f"{base}/interactions/{interaction_pk}/", {"subject": "Stolen"}
        yield "delete", f"{base}/interactions/{interaction_pk}/", None


def _interaction_of(customer):
    with account_scope(customer.account_id):
        return Interaction.objects.get(customer=customer).pk


def test_every_customer_path_of_another_account_is_404(other_api_client, account, secret):
    for method, path, body in detail_paths(secret):
        response = getattr(other_api_client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Secret" not in response.content.decode()
    customer = stored(account, secret)
    assert (customer.city, customer.first_name) == ("Lyon", "Secret")
    with account_scope(account):
        assert Interaction.objects.get(customer=secret).subject == "Confidential"


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"q": "secret"},
        {"q": "ACME-1"},
        {"q": "5550123"},
        {"email": "secret@acme.example"},
        {"phone": "+14155550123"},
        {"city": "Lyon"},
        {"tag": "vip"},
        {"cursor": ""},
    ],
)
def test_lists_and_search_of_another_account_never_show_its_customers(
    other_api_client, secret, query
):
    for url in ("/api/v1/customers/", "/api/v1/customers/search/"):
        body = other_api_client.get(url, query).json()
        assert body["results"] == [], (url, query)
        assert "Secret" not in json.dumps(body)


def test_lookup_never_finds_another_accounts_customer(other_api_client, secret):
    for body in ({"email": secret.email}, {"phone": secret.phone}, {"external_id": "ACME-1"}):
        response = other_api_client.post("/api/v1/customers/lookup/", body, format="json")
        assert response.status_code == 404


def test_lifecycle_counts_are_per_account(other_api_client, secret):
    counts = other_api_client.get("/api/v1/customers/segments/").json()
    assert sum(counts.values()) == 0


def test_bulk_of_another_account_creates_its_own_customers(
    other_api_client, account, other_account, secret
):
    body = other_api_client.post(
        "/api/v1/customers/bulk/",
        {"customers": [{"external_id": "ACME-1", "email": secret.email, "city": "Stolen"}]},
        format="json",
    ).json()
    assert body["results"][0]["status"] == "created"
    assert body["results"][0]["id"] != str(secret.pk)
    assert stored(account, secret).city == "Lyon"
    with account_scope(other_account):
        assert Customer.objects.get().city == "Stolen"


def test_bulk_id_client_of_another_account_is_a_plain_failed_row(
    other_api_client, account, other_account, secret
):
    """Not a 409 `duplicate_id`: that would confirm the id exists in some account."""
    body = other_api_client.post(
        "/api/v1/customers/bulk/",
        {"clients": [{"IdClient": str(secret.pk), "Mail": "x@globex.example"}]},
        format="json",
    ).json()
    assert body["results"][0]["status"] == "failed"
    assert body["results"][0]["errors"] == [
        {
            "code": "invalid",
            "detail": "This id cannot be used for a new customer: leave id_client out.",
            "attr": "id_client",
        }
    ]
    assert stored(account, secret).email == "secret@acme.example"
    with account_scope(other_account):
        assert not Customer.objects.exists()


# --- Roles ----------------------------------------------------------------------------


def test_read_only_keys_read_customers(read_only_client, secret):
    assert read_only_client.get("/api/v1/customers/").json()["count"] == 1
    assert read_only_client.get(f"/api/v1/customers/{secret.pk}/health/").status_code == 200
    assert read_only_client.get(f"/api/v1/customers/{secret.pk}/timeline/").status_code == 200
    assert read_only_client.get(f"/api/v1/customers/{secret.pk}/interactions/").status_code == 200


def test_read_only_keys_cannot_write(read_only_client, account, secret):
    base = f"/api/v1/customers/{secret.pk}"
    interaction_pk = _interaction_of(secret)
    attempts = [
        ("post", "/api/v1/customers/", {"email": "new@acme.example"}),
        ("put", f"{base}/", {"city": "Paris"}),
        ("patch", f"{base}/", {"city": "Paris"}),
        ("delete", f"{base}/", None),
        ("post", f"{base}/interactions/", {"type": "call", "subject": "x", "date": "2024-01-01"}),
        ("patch", f"{base}/interactions/{interaction_pk}/", {"subject": "Changed"}),
        ("delete", f"{base}/interactions/{interaction_pk}/", None),
        ("post", "/api/v1/customers/bulk/", [{"email": "b@acme.example"}]),
    ]
    for method, path, body in attempts:
        response = getattr(read_only_client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["errors"][0]["code"] == "permission_denied"
    assert stored(account, secret).city == "Lyon"
    with account_scope(account):
        assert Customer.objects.count() == 1
        assert Interaction.objects.get(pk=interaction_pk).subject == "Confidential"


def test_members_write_customers(member_client, account):
    response = member_client.post("/api/v1/customers/", {"email": "m@acme.example"})
    assert response.status_code == 201
    assert stored(account, response.json()["id"]).email == "m@acme.example"


def test_anonymous_calls_are_401(anonymous_client, secret):
    assert anonymous_client.get("/api/v1/customers/").status_code == 401
    assert anonymous_client.get(f"/api/v1/customers/{secret.pk}/").status_code == 401
