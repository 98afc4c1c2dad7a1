"""Customers over the API: every field, the input rules, and the seeds' input habits."""

import uuid
from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.customers.conftest import place_order, stored
from tests.factories import AgentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"

AGGREGATES = [
    "lifetime_spend",
    "total_orders",
    "average_order_value",
    "first_order_date",
    "last_order_date",
    "refusals_count",
    "loyalty_points",
]
CONTRACT_FIELDS = [
    "id",
    "number",
    "external_id",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "company",
    "type",
    "status",
    "gender",
    "date_of_birth",
    "street",
    "city",
    "state",
    "zip",
    "country",
    "billing_address",
    "shipping_address",
    "payment_terms",
    "credit_limit",
    "tax_id",
    "metadata",
    "tags",
    "email_opt_in",
    "sms_opt_in",
    "unsubscribed_at",
    "assigned_to",
    "source_lead",
    "notes",
    "created_at",
    "updated_at",
    *AGGREGATES,
]


def emails_of(account):
    """The emails of the account's customers as stored, in creation order."""
    with account_scope(account):
        return list(Customer.objects.order_by("created_at", "id").values_list("email", flat=True))


def error_of(response):
    body = response.json()
    return body["errors"][0]


# --- The round trip -------------------------------------------------------------------


def test_a_customer_round_trips_every_field(api_client, account, agent):
    lead_id = uuid.uuid4()
    payload = {
        "external_id": "CRM-1",
        "first_name": "Jane",
        "last_name": "Smith",
        "email": "jane@example.com",
        "phone": "+1 (415) 555-0100",
        "company": "Tech Corp",
        "type": "business",
        "status": "inactive",
        "gender": "female",
        "date_of_birth": "1990-04-01",
        "street": "1 Main St",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "US",
        "billing_address": "123 Main St",
        "shipping_address": "456 Side St",
        "payment_terms": "Net 30",
        "credit_limit": "10000.5",
        "tax_id": "TX-9",
        "metadata": {"loyaltyTier": "gold", "nested": {"a": [1, 2]}},
        "tags": ["vip", "b2b"],
        "email_opt_in": False,
        "sms_opt_in": False,
        "unsubscribed_at": "2024-01-15T10:00:00Z",
        "assigned_to": str(agent.pk),
        "source_lead": str(lead_id),
        "notes": "Prefers email",
    }
    created = api_client.post(URL, payload, format="json")
    assert created.status_code == 201, created.json()
    body = api_client.get(f"{URL}{created.json()['id']}/").json()

    assert set(CONTRACT_FIELDS) <= set(body)
    expected = {
        **payload,
        "phone": "+14155550100",
        "credit_limit": "10000.50",
        "unsubscribed_at": "2024-01-15T10:00:00Z",
        "name": "Jane Smith",
        "number": 1,
    }
    for field, value in expected.items():
        assert body[field] == value, field
    assert body["lifetime_spend"] == "0.00"
    assert body["total_orders"] == 0
    assert body["average_order_value"] is None
    assert body["loyalty_points"] == "0.00"
    assert body["refusals_count"] == 0

    customer = stored(account, body["id"])
    assert customer.credit_limit == Decimal("10000.50")
    assert customer.assigned_to_id == agent.pk
    assert customer.metadata == {"loyaltyTier": "gold", "nested": {"a": [1, 2]}}


def test_numbers_follow_the_accounts_sequence(api_client, account, other_api_client):
    numbers = [
        api_client.post(URL, {"email": f"n{i}@example.com"}).json()["number"] for i in range(3)
    ]
    assert numbers == [1, 2, 3]
    assert other_api_client.post(URL, {"email": "x@example.com"}).json()["number"] == 1


def test_aggregates_are_read_only(api_client, account, customer):
    api_client.patch(
        f"{URL}{customer.pk}/",
        {"lifetime_spend": "999.00", "total_orders": 9, "loyalty_points": "5", "number": 77},
        format="json",
    )
    customer = stored(account, customer)
    assert (customer.lifetime_spend, customer.total_orders, customer.number) == (
        Decimal("0"),
        0,
        1,
    )


def test_aggregates_come_from_counted_orders_and_the_average_rounds_half_up(
    api_client, account, customer
):
    place_order(account, customer, "10.00")
    place_order(account, customer, "10.01")
    place_order(account, customer, "500.00", status="cancelled")
    body = api_client.get(f"{URL}{customer.pk}/").json()
    assert body["lifetime_spend"] == "20.01"
    assert body["total_orders"] == 2
    # 20.01 / 2 = 10.005: half-up gives 10.01 (banker's rounding would give 10.00)
    assert body["average_order_value"] == "10.01"
    assert body["first_order_date"] is not None
    assert body["last_order_date"] is not None


# --- Updates --------------------------------------------------------------------------


def test_put_and_patch_are_partial(api_client, account, customer):
    for method in (api_client.put, api_client.patch):
        response = method(f"{URL}{customer.pk}/", {"city": method.__name__}, format="json")
        assert response.status_code == 200, response.json()
    customer = stored(account, customer)
    assert customer.city == "patch"
    assert (customer.first_name, customer.email) == ("Alice", "alice@example.com")


def test_a_metadata_patch_replaces_the_whole_object(api_client, account):
    customer = CustomerFactory(account=account, metadata={"a": 1, "b": 2})
    api_client.patch(f"{URL}{customer.pk}/", {"metadata": {"c": 3}}, format="json")
    assert stored(account, customer).metadata == {"c": 3}


def test_metadata_must_be_an_object(api_client, account):
    response = api_client.post(URL, {"email": "m@example.com", "metadata": [1]}, format="json")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "metadata"
    assert emails_of(account) == []


def test_an_update_keeps_the_spend_aggregates_written_by_orders(api_client, account, customer):
    place_order(account, customer, "42.00")
    api_client.patch(f"{URL}{customer.pk}/", {"notes": "called"}, format="json")
    customer = stored(account, customer)
    assert (customer.notes, customer.lifetime_spend, customer.total_orders) == (
        "called",
        Decimal("42.00"),
        1,
    )


def test_delete_removes_the_customer(api_client, account, customer):
    assert api_client.delete(f"{URL}{customer.pk}/").status_code == 204
    with account_scope(account):
        assert not Customer.objects.filter(pk=customer.pk).exists()


def test_a_customer_with_orders_cannot_be_deleted(api_client, account, customer):
    place_order(account, customer, "5.00", status="cancelled")
    response = api_client.delete(f"{URL}{customer.pk}/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "has_orders"
    assert stored(account, customer).pk == customer.pk


# --- {id}: UUID or number -------------------------------------------------------------


def test_paths_accept_the_per_account_number(api_client, account, customer):
    assert api_client.get(f"{URL}{customer.number}/").json()["id"] == str(customer.pk)
    api_client.put(f"{URL}{customer.number}/", {"city": "Lyon"}, format="json")
    assert stored(account, customer).city == "Lyon"
    assert api_client.delete(f"{URL}{customer.number}/").status_code == 204
    with account_scope(account):
        assert not Customer.objects.filter(pk=customer.pk).exists()


# Fixed values: pytest-xdist workers must collect the same test ids.
UNKNOWN_UUID = "0190f3a4-5b6c-7d8e-9f01-23456789abcd"


@pytest.mark.parametrize("ref", ["999", "not-a-number", UNKNOWN_UUID, "99999999999999999999"])
def test_unknown_references_are_404(api_client, customer, ref):
    response = api_client.get(f"{URL}{ref}/")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


# --- Names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "first", "last"),
    [
        ({"name": "Kshitij Satija223"}, "Kshitij", "Satija223"),
        ({"name": "  Alice   Mae  Johnson "}, "Alice Mae", "Johnson"),
        ({"name": "Cher"}, "", "Cher"),
        ({"name": "Jon", "last_name": "Doe"}, "Jon", "Doe"),  # seed 001's create_customer
        ({"name": "Jon Doe", "last_name": "Doe"}, "Jon", "Doe"),
        ({"name": "Jon Doe", "first_name": "Jon"}, "Jon", "Doe"),
        ({"name": "X Y", "first_name": "Ann", "last_name": "Lee"}, "Ann", "Lee"),
    ],
)
def test_name_is_split_unless_first_or_last_name_is_given(
    api_client, account, payload, first, last
):
    response = api_client.post(URL, {**payload, "email": "n@example.com"}, format="json")
    assert response.status_code == 201, response.json()
    customer = stored(account, response.json()["id"])
    assert (customer.first_name, customer.last_name) == (first, last)
    assert response.json()["name"] == f"{first} {last}".strip()


def test_a_name_update_renames_both_parts(api_client, account, customer):
    api_client.put(f"{URL}{customer.pk}/", {"name": "Alice Johnson Updated"}, format="json")
    customer = stored(account, customer)
    assert (customer.first_name, customer.last_name) == ("Alice Johnson", "Updated")


# --- Seed aliases ---------------------------------------------------------------------


def test_seed_001_french_keys_are_read(api_client, account):
    id_client = "a14e39ce-e29e-11e9-a8cb-08002751d198"
    response = api_client.post(
        URL,
        {
            "IdClient": id_client,
            "Nom": "Bloggs",
            "Prenom": "Jacquie",
            "Mail": "Jacquie@mimi.com",
            "Sexe": "f",
            "Compte": "BKN1CST53",
            "Credit": "420",
            "Montant": 1330,
            "Age": 42,
            "NbRefus": 0,
            "Date_paiement": "2019-01-11",
            "carteFid": 33,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["id"] == id_client
    customer = stored(account, id_client)
    assert (customer.first_name, customer.last_name) == ("Jacquie", "Bloggs")
    assert (customer.email, customer.gender, customer.external_id) == (
        "Jacquie@mimi.com",
        "female",
        "BKN1CST53",
    )
    assert customer.metadata == {
        "credit": "420",
        "montant": 1330,
        "age": 42,
        "nb_refus": 0,
        "date_paiement": "2019-01-11",
        "carte_fid": 33,
    }


@pytest.mark.parametrize(("sexe", "gender"), [("h", "male"), ("M", "male"), ("F", "female")])
def test_seed_001_sexe_values(api_client, account, sexe, gender):
    response = api_client.post(URL, {"mail": "s@example.com", "sexe": sexe}, format="json")
    assert stored(account, response.json()["id"]).gender == gender


def test_an_id_client_of_another_accounts_customer_is_a_plain_400(
    api_client, other_api_client, account
):
    """Ids are global; a 409 `duplicate_id` would confirm that another account has it."""
    taken = other_api_client.post(URL, {"email": "o@example.com"}).json()["id"]
    response = api_client.post(URL, {"IdClient": taken, "email": "mine@example.com"}, format="json")
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "invalid",
        "detail": "This id cannot be used for a new customer: leave id_client out.",
        "attr": "id_client",
    }
    with account_scope(account):
        assert not Customer.objects.exists()


def test_an_id_client_of_the_accounts_own_customer_is_409(api_client, account, customer):
    response = api_client.post(
        URL, {"IdClient": str(customer.pk), "email": "mine@example.com"}, format="json"
    )
    assert response.status_code == 409
    assert error_of(response) == {
        "code": "duplicate_id",
        "detail": "A customer with this id exists.",
        "attr": "id_client",
    }
    assert stored(account, customer).email == customer.email
    with account_scope(account):
        assert Customer.objects.count() == 1


def test_custom_fields_is_metadata_and_its_keys_keep_their_case(api_client, account):
    response = api_client.post(
        URL,
        {"email": "c@example.com", "custom_fields": {"shoeSize": 42, "Favourite Colour": "red"}},
        format="json",
    )
    assert stored(account, response.json()["id"]).metadata == {
        "shoeSize": 42,
        "Favourite Colour": "red",
    }


def test_camel_case_keys_are_read(api_client, account):
    response = api_client.post(
        URL,
        {
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "ann@example.com",
            "externalId": "X-1",
            "billingAddress": "1 Road",
            "creditLimit": 100,
            "emailOptIn": False,
            "leadId": str(uuid.uuid4()),
        },
        format="json",
    )
    customer = stored(account, response.json()["id"])
    assert (customer.first_name, customer.last_name, customer.external_id) == ("Ann", "Lee", "X-1")
    assert (customer.billing_address, customer.credit_limit, customer.email_opt_in) == (
        "1 Road",
        Decimal("100"),
        False,
    )
    assert customer.source_lead is not None


def test_choice_values_are_lenient(api_client, account):
    response = api_client.post(
        URL,
        {"email": "l@example.com", "type": "BUSINESS", "status": "In-Active", "gender": "Male"},
        format="json",
    )
    customer = stored(account, response.json()["id"])
    assert (customer.type, customer.status, customer.gender) == ("business", "inactive", "male")


# --- Email and phone ------------------------------------------------------------------


def test_email_is_trimmed_and_unique_case_insensitively(api_client, account):
    first = api_client.post(URL, {"email": "  Ann@Example.com "}, format="json")
    assert stored(account, first.json()["id"]).email == "Ann@Example.com"
    second = api_client.post(URL, {"email": "ann@EXAMPLE.com"}, format="json")
    assert second.status_code == 409
    assert error_of(second) == {
        "code": "duplicate_email",
        "detail": "A customer with this email exists.",
        "attr": "email",
    }
    with account_scope(account):
        assert Customer.objects.count() == 1


def test_an_update_to_a_taken_email_is_409(api_client, account, customer):
    other = CustomerFactory(account=account, email="bob@example.com")
    response = api_client.patch(f"{URL}{other.pk}/", {"email": "ALICE@example.com"}, format="json")
    assert response.status_code == 409
    assert stored(account, other).email == "bob@example.com"


def test_the_same_email_in_another_account_is_fine(
    api_client, other_api_client, customer, account, other_account
):
    response = other_api_client.post(URL, {"email": customer.email}, format="json")
    assert response.status_code == 201
    assert emails_of(other_account) == emails_of(account) == [customer.email]


def test_a_taken_external_id_is_409(api_client, account):
    CustomerFactory(account=account, external_id="E1")
    response = api_client.post(URL, {"email": "e@example.com", "external_id": "E1"}, format="json")
    assert response.status_code == 409
    assert (error_of(response)["code"], error_of(response)["attr"]) == (
        "duplicate_external_id",
        "external_id",
    )
    assert "e@example.com" not in emails_of(account)


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com"])
def test_a_malformed_email_is_400(api_client, account, email):
    response = api_client.post(URL, {"email": email}, format="json")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "email"
    assert emails_of(account) == []


def test_a_customer_needs_an_email_or_a_phone(api_client, account):
    response = api_client.post(URL, {"first_name": "Nobody", "email": " "}, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "email_or_phone_required"
    assert "email or a phone" in response.json()["message"]
    with account_scope(account):
        assert not Customer.objects.exists()


def test_a_phone_alone_is_enough(api_client, account):
    response = api_client.post(URL, {"phone": "415 555 0100"}, format="json")
    assert response.status_code == 201
    assert stored(account, response.json()["id"]).phone == "+14155550100"


def test_an_update_cannot_remove_the_last_contact(api_client, account, customer):
    response = api_client.patch(f"{URL}{customer.pk}/", {"email": ""}, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "email_or_phone_required"
    assert stored(account, customer).email == "alice@example.com"
    api_client.patch(f"{URL}{customer.pk}/", {"phone": "4155550100", "email": None}, format="json")
    customer = stored(account, customer)
    assert (customer.email, customer.phone) == ("", "+14155550100")


def test_phones_are_stored_in_e164_in_the_accounts_region(api_client, account):
    account.default_phone_region = "FR"
    account.save()
    response = api_client.post(URL, {"phone": "01 02 03 04 05"}, format="json")
    assert stored(account, response.json()["id"]).phone == "+33102030405"
    response = api_client.post(URL, {"phone": "+1 415 555 0100"}, format="json")
    assert stored(account, response.json()["id"]).phone == "+14155550100"


@pytest.mark.parametrize("phone", ["abc", "12", "+999999"])
def test_a_phone_that_does_not_parse_is_400(api_client, account, phone):
    response = api_client.post(URL, {"email": "p@example.com", "phone": phone}, format="json")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "phone"
    assert emails_of(account) == []


# --- Other rules ----------------------------------------------------------------------


def test_credit_limit_cannot_be_negative(api_client, account):
    response = api_client.post(URL, {"email": "c@example.com", "credit_limit": -1}, format="json")
    assert response.status_code == 400
    assert error_of(response)["attr"] == "credit_limit"
    assert emails_of(account) == []


def test_credit_limit_null_means_no_ceiling(api_client, account):
    customer = CustomerFactory(account=account, credit_limit=Decimal("5"))
    api_client.patch(f"{URL}{customer.pk}/", {"credit_limit": None}, format="json")
    assert stored(account, customer).credit_limit is None


def test_an_agent_of_another_account_is_a_400_on_assigned_to(api_client, account, other_account):
    foreign = AgentFactory(account=other_account)
    response = api_client.post(
        URL, {"email": "a@example.com", "assigned_to": str(foreign.pk)}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["attr"] == "assigned_to"
    with account_scope(account):
        assert not Customer.objects.exists()


def test_an_agent_can_be_assigned_and_unassigned(api_client, account, customer, agent):
    api_client.patch(f"{URL}{customer.pk}/", {"assigned_to": str(agent.pk)}, format="json")
    assert stored(account, customer).assigned_to_id == agent.pk
    api_client.patch(f"{URL}{customer.pk}/", {"assigned_to": None}, format="json")
    assert stored(account, customer).assigned_to_id is None


def test_tags_are_trimmed_and_deduplicated_case_insensitively(api_client, account):
    response = api_client.post(
        URL,
        {"email": "t@example.com", "tags": [" VIP ", "vip", "Gold", "", "gold ", "new  customer"]},
        format="json",
    )
    assert stored(account, response.json()["id"]).tags == ["VIP", "Gold", "new customer"]


def test_tags_may_be_a_comma_separated_string(api_client, account):
    response = api_client.post(URL, {"email": "t@example.com", "tags": "a, b,a"}, format="json")
    assert stored(account, response.json()["id"]).tags == ["a", "b"]


def test_idempotency_key_creates_once(api_client, account):
    first = api_client.post(URL, {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    second = api_client.post(URL, {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    assert second.json() == first.json()
    with account_scope(account):
        assert Customer.objects.count() == 1


def test_null_clears_a_field(api_client, account):
    customer = CustomerFactory(
        account=account, company="Acme", tags=["a"], metadata={"k": 1}, phone="+14155550100"
    )
    response = api_client.patch(
        f"{URL}{customer.pk}/",
        {"company": None, "tags": None, "metadata": None, "phone": None, "external_id": None},
        format="json",
    )
    assert response.status_code == 200, response.json()
    customer = stored(account, customer)
    assert (customer.company, customer.tags, customer.metadata, customer.phone) == ("", [], {}, "")
    assert customer.external_id is None


def test_the_api_reads_the_customers_input_rules_as_the_import_does(api_client, account):
    """customers.inputs: one list of aliases and spellings for the API and the import."""
    response = api_client.post(
        URL,
        {
            "courriel": "rules@example.com",
            "ville": "Lyon",
            "genre": "Femme",
            "customerType": "B2B",
            "etiquettes": " vip ,VIP, new ",
            "fullName": "Ada  King Lovelace",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    customer = stored(account, response.json()["id"])
    assert (customer.email, customer.city, customer.gender, customer.type) == (
        "rules@example.com",
        "Lyon",
        "female",
        "business",
    )
    assert customer.tags == ["vip", "new"]
    assert (customer.first_name, customer.last_name) == ("Ada King", "Lovelace")


def test_the_import_kind_declares_the_customers_aliases():
    from customers import inputs
    from imports.kinds import get_kind

    kind = get_kind("customers")
    for name, aliases in inputs.FIELD_ALIASES.items():
        assert kind.field(name).aliases == aliases
    assert ("femme", "female") in kind.field("gender").choices
