"""`POST /customers/lookup/` and `POST /customers/bulk/`."""

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.customers.conftest import stored
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/customers/lookup/"
BULK = "/api/v1/customers/bulk/"


# --- Lookup ---------------------------------------------------------------------------


@pytest.fixture
def known(account):
    return CustomerFactory(
        account=account, email="Eddison@Ursi.fr", phone="+14155550100", external_id="BKN1CST18"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"email": "eddison@ursi.fr"},
        {"email": "  EDDISON@URSI.FR "},
        {"phone": "(415) 555-0100"},
        {"phone": "+14155550100"},
        {"external_id": "BKN1CST18"},
        {"externalId": "BKN1CST18"},
        {"email": "eddison@ursi.fr", "external_id": "BKN1CST18"},
    ],
)
def test_lookup_finds_the_customer(api_client, known, body):
    response = api_client.post(LOOKUP, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(known.pk)
    assert response.json()["email"] == "Eddison@Ursi.fr"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nobody@ursi.fr"},
        {"external_id": "bkn1cst18"},  # external ids are exact
        {"email": "eddison@ursi.fr", "external_id": "OTHER"},  # every key given must match
    ],
)
def test_lookup_without_a_match_is_404(api_client, known, body):
    response = api_client.post(LOOKUP, body, format="json")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_lookup_needs_a_key(api_client):
    response = api_client.post(LOOKUP, {"email": " "}, format="json")
    assert response.status_code == 400


def test_read_only_keys_may_look_up(read_only_client, known):
    response = read_only_client.post(LOOKUP, {"email": known.email}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == str(known.pk)


# --- Bulk -----------------------------------------------------------------------------


def test_bulk_applies_good_rows_and_reports_bad_ones_with_their_fields(api_client, account):
    response = api_client.post(
        BULK,
        {
            "customers": [
                {"name": "Alice Johnson", "email": "alice@example.com", "phone": "1111111111"},
                {"name": "No Contact"},
                {"name": "Bad Mail", "email": "not-an-email", "phone": "abc"},
                "not an object",
                {"name": "Bob Smith", "email": "bob@example.com", "credit_limit": -5},
                {"first_name": "Carol", "phone": "415 555 0199", "metadata": {"vip": True}},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (2, 0, 0, 4)
    statuses = [row["status"] for row in body["results"]]
    assert statuses == ["created", "failed", "failed", "failed", "failed", "created"]
    assert [row["index"] for row in body["results"]] == list(range(6))
    assert body["results"][1]["errors"][0]["code"] == "email_or_phone_required"
    assert {e["attr"] for e in body["results"][2]["errors"]} == {"email", "phone"}
    assert body["results"][4]["errors"][0]["attr"] == "credit_limit"
    assert body["results"][1]["id"] is None

    alice = stored(account, body["results"][0]["id"])
    assert (alice.first_name, alice.last_name, alice.phone) == ("Alice", "Johnson", "+11111111111")
    carol = stored(account, body["results"][5]["id"])
    assert (carol.phone, carol.metadata) == ("+14155550199", {"vip": True})
    with account_scope(account):
        assert Customer.objects.count() == 2


def test_bulk_upserts_by_external_id_then_by_email(api_client, account):
    by_external_id = CustomerFactory(account=account, external_id="K1", email="k1@example.com")
    by_email = CustomerFactory(account=account, email="Mail@Example.com", external_id=None)
    body = api_client.post(
        BULK,
        [
            {"external_id": "K1", "email": "new-k1@example.com", "city": "Lyon"},
            {"email": "mail@example.com", "external_id": "K2", "city": "Paris"},
            {"email": "fresh@example.com", "city": "Nice"},
        ],
        format="json",
    ).json()
    assert [row["status"] for row in body["results"]] == ["updated", "updated", "created"]
    assert body["results"][0]["id"] == str(by_external_id.pk)
    assert body["results"][1]["id"] == str(by_email.pk)

    first = stored(account, by_external_id)
    assert (first.email, first.city) == ("new-k1@example.com", "Lyon")
    second = stored(account, by_email)
    assert (second.external_id, second.city, second.email) == ("K2", "Paris", "mail@example.com")
    with account_scope(account):
        assert Customer.objects.count() == 3


def test_bulk_skips_rows_that_change_nothing(api_client, account):
    row = {
        "Nom": "Eddison-18",
        "Prenom": "Jean",
        "Mail": "jean@ursi.fr",
        "Compte": "BKN1CST18",
        "Montant": 125,
        "tags": ["a"],
    }
    first = api_client.post(BULK, {"clients": [row]}, format="json").json()
    again = api_client.post(BULK, {"clients": [row]}, format="json").json()
    assert (first["created"], again["skipped"]) == (1, 1)
    assert again["results"][0]["id"] == first["results"][0]["id"]
    jean = stored(account, first["results"][0]["id"])
    assert (jean.last_name, jean.metadata, jean.number) == ("Eddison-18", {"montant": 125}, 1)


def test_bulk_rows_without_a_key_always_create(api_client, account):
    """Only id_client, external_id and email identify a customer; a phone does not."""
    row = {"name": "Marc Sarkozy", "phone": "0102030405"}
    api_client.post(BULK, [row], format="json")
    again = api_client.post(BULK, [row], format="json").json()
    assert again["created"] == 1
    with account_scope(account):
        assert Customer.objects.filter(last_name="Sarkozy").count() == 2


def test_bulk_reimport_of_the_same_rows_changes_nothing(api_client, account):
    rows = [
        {"external_id": f"R{n}", "email": f"r{n}@example.com", "name": f"Row {n}"} for n in range(5)
    ]
    assert api_client.post(BULK, {"customers": rows}, format="json").json()["created"] == 5
    with account_scope(account):
        before = {c.pk: c.updated_at for c in Customer.objects.all()}
    again = api_client.post(BULK, {"customers": rows}, format="json").json()
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 5)
    with account_scope(account):
        assert {c.pk: c.updated_at for c in Customer.objects.all()} == before


def test_bulk_seed_metadata_keys_merge_into_existing_metadata(api_client, account):
    customer = CustomerFactory(account=account, external_id="C1", metadata={"keep": True})
    body = api_client.post(
        BULK, {"clients": [{"Compte": "C1", "Montant": 99, "Credit": 0.0}]}, format="json"
    ).json()
    assert body["results"][0]["status"] == "updated"
    assert stored(account, customer).metadata == {"keep": True, "montant": 99, "credit": 0.0}


def test_bulk_row_whose_email_belongs_to_another_external_id_fails(api_client, account):
    CustomerFactory(account=account, external_id="A", email="a@example.com")
    body = api_client.post(
        BULK, {"customers": [{"external_id": "B", "email": "A@example.com"}]}, format="json"
    ).json()
    row = body["results"][0]
    assert row["status"] == "failed"
    assert (row["errors"][0]["code"], row["errors"][0]["attr"]) == ("duplicate_email", "email")
    with account_scope(account):
        assert not Customer.objects.filter(external_id="B").exists()


def test_bulk_update_to_a_taken_email_fails_that_row_only(api_client, account):
    CustomerFactory(account=account, external_id="A", email="a@example.com")
    CustomerFactory(account=account, external_id="B", email="b@example.com")
    body = api_client.post(
        BULK,
        {
            "customers": [
                {"external_id": "B", "email": "a@example.com"},
                {"external_id": "C", "email": "c@example.com"},
            ]
        },
        format="json",
    ).json()
    assert [row["status"] for row in body["results"]] == ["failed", "created"]
    assert body["results"][0]["errors"][0]["code"] == "duplicate_email"
    with account_scope(account):
        assert Customer.objects.get(external_id="B").email == "b@example.com"


def test_bulk_id_client_updates_that_customer(api_client, account):
    customer = CustomerFactory(account=account, email="old@example.com")
    body = api_client.post(
        BULK,
        {"clients": [{"IdClient": str(customer.pk), "Mail": "new@example.com"}]},
        format="json",
    ).json()
    assert body["results"][0] == {
        "index": 0,
        "status": "updated",
        "id": str(customer.pk),
        "errors": [],
    }
    assert stored(account, customer).email == "new@example.com"


def test_bulk_takes_at_most_1000_rows(api_client, account):
    rows = [{"email": f"r{n}@example.com"} for n in range(1001)]
    response = api_client.post(BULK, {"customers": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "customers"
    with account_scope(account):
        assert not Customer.objects.exists()


def test_bulk_takes_1000_rows(api_client, account):
    rows = [{"email": f"r{n}@example.com"} for n in range(1000)]
    body = api_client.post(BULK, {"customers": rows}, format="json").json()
    assert body["created"] == 1000
    with account_scope(account):
        assert sorted(Customer.objects.values_list("number", flat=True)) == list(range(1, 1001))


def test_bulk_needs_a_list(api_client, account):
    response = api_client.post(BULK, {"customers": {"email": "x@example.com"}}, format="json")
    assert response.status_code == 400
    assert api_client.post(BULK, {"customers": []}, format="json").status_code == 400
    with account_scope(account):
        assert not Customer.objects.exists()


def test_bulk_is_for_members(read_only_client, account):
    response = read_only_client.post(BULK, [{"email": "x@example.com"}], format="json")
    assert response.status_code == 403
    with account_scope(account):
        assert not Customer.objects.exists()
