"""`POST /leads/lookup/`, `POST|PUT /leads/bulk/` and `POST|PUT /leads/{id}/convert/`."""

import threading

import pytest
from django.db import connection

from crm_project.tenancy import account_scope
from customers.models import Customer
from leads import services
from leads.models import Lead
from tests.factories import CustomerFactory
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
LOOKUP = f"{LEADS}lookup/"
BULK = f"{LEADS}bulk/"


# --- Lookup ---------------------------------------------------------------------------


@pytest.fixture
def phoned(account):
    return LeadFactory(account=account, email="Ann@X.example", phone="+14155550100")


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ann@x.example"},
        {"phone": "(415) 555-0100"},
        {"externalId": "EXT-9"},
    ],
)
def test_lookup_finds_the_lead(api_client, account, body):
    lead = LeadFactory(
        account=account, email="Ann@X.example", phone="+14155550100", external_id="EXT-9"
    )
    response = api_client.post(LOOKUP, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(lead.pk)


def test_lookup_without_a_match_is_404(api_client, phoned):
    assert api_client.post(LOOKUP, {"email": "nobody@x.example"}, format="json").status_code == 404
    assert api_client.post(LOOKUP, {"email": " "}, format="json").status_code == 400


def test_lookup_does_not_see_another_accounts_leads(other_api_client, phoned):
    response = other_api_client.post(LOOKUP, {"email": "ann@x.example"}, format="json")
    assert response.status_code == 404


def test_lookup_is_a_read_for_read_only_keys(read_only_client, phoned):
    response = read_only_client.post(LOOKUP, {"email": "ann@x.example"}, format="json")
    assert response.status_code == 200


# --- Bulk -----------------------------------------------------------------------------


def test_bulk_upserts_by_external_id(api_client, account):
    existing = LeadFactory(account=account, external_id="EXT-32342-TR", first_name="Old")
    rows = [
        {
            "firstName": "John",
            "lastName": "Smith",
            "phone": "+1333-111-8888",
            "timestamp": "06-23-2021 22:55:23",
            "attributes": {"ABANDONED_CART_URL": "www.shop.com/123"},
            "externalId": "EXT-32342-TR",
        },
        {"firstName": "New", "email": "new@x.example", "externalId": "EXT-NEW"},
        {"firstName": "Bad", "phone": "12"},
        {"email": "noname@x.example"},
    ]
    response = api_client.post(BULK, {"leads": rows}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 1, 0, 2)
    assert [r["status"] for r in body["results"]] == ["updated", "created", "failed", "failed"]
    assert body["results"][2]["errors"][0]["attr"] == "phone"
    assert body["results"][3]["errors"][0]["code"] == "name_required"
    updated = stored(account, existing)
    assert updated.first_name == "John"
    assert updated.phone == "+13331118888"
    assert updated.attributes == {"ABANDONED_CART_URL": "www.shop.com/123"}
    assert stored(account, body["results"][1]["id"]).external_id == "EXT-NEW"


def test_bulk_takes_a_bare_list_and_skips_unchanged_rows(api_client, account):
    LeadFactory(account=account, external_id="E1", first_name="Ann", last_name="Lee")
    response = api_client.post(BULK, [{"externalId": "E1", "firstName": "Ann"}], format="json")
    assert response.json()["results"][0]["status"] == "skipped"


def test_bulk_creates_follow_the_consent_rules(api_client, account):
    account.lead_consent_required = True
    account.save()
    response = api_client.post(BULK, [{"firstName": "Ann", "email": "a@x.example"}], format="json")
    attrs = {e["attr"] for e in response.json()["results"][0]["errors"]}
    assert {"phone", "last_name", "acquired_at", "zip"} <= attrs
    with account_scope(account):
        assert not Lead.objects.exists()


def test_put_bulk_updates_only(api_client, account):
    lead = LeadFactory(account=account, external_id="E1", first_name="Ann")
    rows = [{"externalId": "E1", "firstName": "Janet"}, {"externalId": "E2", "firstName": "X"}]
    response = api_client.put(BULK, {"leads": rows}, format="json")
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["updated", "failed"]
    assert body["results"][1]["errors"][0]["attr"] == "external_id"
    assert stored(account, lead).first_name == "Janet"
    with account_scope(account):
        assert not Lead.objects.filter(external_id="E2").exists()


def test_bulk_of_another_account_never_touches_this_one(other_api_client, account):
    lead = LeadFactory(account=account, external_id="E1", first_name="Ann")
    response = other_api_client.put(
        BULK, [{"externalId": "E1", "firstName": "Mallory"}], format="json"
    )
    assert response.json()["failed"] == 1
    response = other_api_client.post(
        BULK, [{"externalId": "E1", "firstName": "Mallory", "email": "m@x.example"}], format="json"
    )
    assert response.json()["created"] == 1
    assert stored(account, lead).first_name == "Ann"


def test_bulk_row_with_another_accounts_agent_fails_on_assigned_to(api_client, other_agent):
    rows = [{"firstName": "A", "email": "a@x.example", "assignedTo": str(other_agent.pk)}]
    result = api_client.post(BULK, rows, format="json").json()["results"][0]
    assert result["status"] == "failed"
    assert result["errors"][0]["attr"] == "assigned_to"


# --- Convert --------------------------------------------------------------------------


def test_convert_creates_a_customer(api_client, account, lead, agent):
    with account_scope(account):
        services.lead_update(lead=lead, assigned_to=agent, attributes={"K": "v"})
    response = api_client.post(f"{LEADS}{lead.pk}/convert/")
    assert response.status_code == 201, response.json()
    customer_id = response.json()["id"]
    with account_scope(account):
        customer = Customer.objects.get(pk=customer_id)
    assert (customer.first_name, customer.email) == ("John", "John.Smith@alot.co")
    assert customer.source_lead == lead.pk
    assert customer.assigned_to_id == agent.pk
    converted = stored(account, lead)
    assert converted.status == "converted"
    assert converted.converted_customer_id == customer.pk
    assert converted.converted_at is not None
    assert converted.nurture_state == "stopped"


def test_convert_links_the_customer_with_the_same_email(api_client, account, lead):
    customer = CustomerFactory(account=account, email="JOHN.SMITH@ALOT.CO")
    response = api_client.put(f"{LEADS}ext:EXT-1/convert/")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(customer.pk)
    with account_scope(account):
        assert Customer.objects.count() == 1
        assert Customer.objects.get(pk=customer.pk).source_lead == lead.pk
    assert stored(account, lead).converted_customer_id == customer.pk


def test_convert_twice_answers_the_same_customer(api_client, account, lead):
    first = api_client.post(f"{LEADS}{lead.pk}/convert/")
    second = api_client.post(f"{LEADS}{lead.pk}/convert/")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    with account_scope(account):
        assert Customer.objects.count() == 1


def test_a_lead_converts_into_one_customer_even_moved_back_and_converted_again(
    api_client, account, lead
):
    """The customer keeps its `source_lead` (unique per account): converting the lead
    again, its customer's email changed meanwhile, links that customer."""
    first = api_client.post(f"{LEADS}{lead.pk}/convert/").json()
    api_client.patch(
        f"/api/v1/customers/{first['id']}/", {"email": "renamed@alot.co"}, format="json"
    )
    assert (
        api_client.patch(f"{LEADS}{lead.pk}/", {"status": "qualified"}, format="json").json()[
            "status"
        ]
        == "qualified"
    )

    again = api_client.post(f"{LEADS}{lead.pk}/convert/")

    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    with account_scope(account):
        assert Customer.objects.count() == 1
    assert stored(account, lead).status == "converted"


def test_a_converted_lead_cannot_be_reconverted_by_another_account(other_api_client, lead):
    assert other_api_client.put(f"{LEADS}{lead.pk}/convert/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_conversions_create_one_customer(account):
    lead = LeadFactory(account=account, first_name="Race", email="race@x.example")
    barrier = threading.Barrier(2)
    outcomes = []

    def convert():
        try:
            with account_scope(account):
                barrier.wait()
                customer, created = services.lead_convert(account=account, lead=lead)
                outcomes.append((customer.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=convert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2
    assert outcomes[0][0] == outcomes[1][0]
    assert sorted(created for _pk, created in outcomes) == [False, True]
    with account_scope(account):
        assert Customer.objects.count() == 1
    assert stored(account, lead).converted_customer_id == outcomes[0][0]


def test_put_bulk_row_without_external_id_fails(api_client, account):
    LeadFactory(account=account, first_name="Ann")
    result = api_client.put(BULK, [{"firstName": "X"}], format="json").json()["results"][0]
    assert result["status"] == "failed"
    assert result["errors"][0]["attr"] == "external_id"
    with account_scope(account):
        assert not Lead.objects.filter(first_name="X").exists()


def test_consent_rules_apply_to_creates_not_updates(api_client, account):
    lead = LeadFactory(account=account, external_id="E1", first_name="Ann")
    account.lead_consent_required = True
    account.save()
    response = api_client.post(BULK, [{"externalId": "E1", "lastName": "Lee"}], format="json")
    assert response.json()["results"][0]["status"] == "updated"
    assert stored(account, lead).last_name == "Lee"


def test_a_phone_only_lead_converts_to_a_phone_only_customer(api_client, account):
    lead = LeadFactory(account=account, first_name="Pat", email="", phone="+14155550123")
    response = api_client.post(f"{LEADS}{lead.pk}/convert/")
    assert response.status_code == 201, response.json()
    with account_scope(account):
        customer = Customer.objects.get(pk=response.json()["id"])
    assert (customer.phone, customer.email) == ("+14155550123", "")
    assert stored(account, lead).converted_customer_id == customer.pk
