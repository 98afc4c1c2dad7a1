"""`/api/v1/leads/`: create, read, update, delete, and the input rules of leads.inputs."""

import pytest

from crm_project.tenancy import account_scope
from leads.models import Lead
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"

SEED_002_LEAD = {
    "firstName": "John",
    "lastName": "Smith",
    "phone": "+1333-111-8888",
    "externalId": "2",
    "timestamp": "06-23-2021 22:55:23",
    "ipAddress": "192.168.3.2",
    "email": "john.smith@alot.co",
    "agentExternalId": "2",
    "state": "WA",
    "zip": "98121",
    "jornayaLeadId": "095796C6-4D33-A73C-7BCE-D5563F59E778",
}


def errors_by_attr(response):
    return {e["attr"]: e["code"] for e in response.json()["errors"]}


def test_seed_002_lead_is_created_with_its_camel_case_keys(api_client, account, agent):
    account.timezone = "America/New_York"
    account.save()
    response = api_client.post(LEADS, SEED_002_LEAD, format="json")
    assert response.status_code == 201, response.json()
    lead = stored(account, response.json()["id"])
    assert (lead.first_name, lead.last_name) == ("John", "Smith")
    assert lead.phone == "+13331118888"
    assert lead.external_id == "2"
    assert lead.ip_address == "192.168.3.2"
    assert lead.assigned_to_id == agent.pk
    assert lead.jornaya_lead_id == "095796C6-4D33-A73C-7BCE-D5563F59E778"
    # 22:55:23 in New York (EDT, UTC-4) on June 23rd.
    assert lead.acquired_at.isoformat() == "2021-06-24T02:55:23+00:00"
    assert lead.status == "new"
    assert response.json()["acquired_at"] == "2021-06-24T02:55:23Z"
    assert response.json()["assigned_to"] == str(agent.pk)


def test_name_is_split_like_customers_names(api_client, account):
    response = api_client.post(
        LEADS, {"name": "Alice Mae Johnson", "email": "a@x.example"}, format="json"
    )
    assert response.status_code == 201, response.json()
    lead = stored(account, response.json()["id"])
    assert (lead.first_name, lead.last_name) == ("Alice Mae", "Johnson")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "a@x.example"}, "name_required"),
        ({"first_name": "Ann"}, "email_or_phone_required"),
    ],
)
def test_a_lead_needs_a_name_and_an_email_or_phone(api_client, account, body, code):
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    with account_scope(account):
        assert not Lead.objects.exists()


def test_an_impossible_phone_is_a_400_on_phone(api_client):
    response = api_client.post(LEADS, {"first_name": "Ann", "phone": "12"}, format="json")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"phone": "invalid_phone"}


@pytest.mark.parametrize(
    ("field", "length"), [("first_name", 251), ("last_name", 251), ("phone", 101)]
)
def test_names_and_phone_have_maximum_lengths(api_client, field, length):
    body = {"first_name": "Ann", "email": "a@x.example", field: "1" * length}
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert field in errors_by_attr(response)


def test_250_character_names_are_kept(api_client, account):
    body = {"first_name": "A" * 250, "last_name": "B" * 250, "email": "a@x.example"}
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 201, response.json()
    assert stored(account, response.json()["id"]).first_name == "A" * 250


def test_consent_required_names_each_missing_field(api_client, account):
    account.lead_consent_required = True
    account.save()
    response = api_client.post(
        LEADS, {"first_name": "Ann", "email": "a@x.example", "state": "WA"}, format="json"
    )
    assert response.status_code == 400
    assert set(errors_by_attr(response)) == {
        "phone",
        "last_name",
        "acquired_at",
        "zip",
        "city",
        "jornaya_lead_id",
        "trusted_form_id",
    }
    with account_scope(account):
        assert not Lead.objects.exists()


def test_consent_required_accepts_the_seed_002_lead(api_client, account, agent):
    account.lead_consent_required = True
    account.save()
    response = api_client.post(LEADS, SEED_002_LEAD, format="json")
    assert response.status_code == 201, response.json()
    body = {**SEED_002_LEAD, "externalId": "3", "zip": "", "city": "Seattle"}
    body.pop("jornayaLeadId")
    body["trustedFormId"] = "tf-1"
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 201, response.json()
    assert stored(account, response.json()["id"]).trusted_form_id == "tf-1"


def test_an_unknown_agent_external_id_is_a_400_on_that_field(api_client, other_agent):
    body = {**SEED_002_LEAD, "agentExternalId": "2"}  # only the other account has "2"
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"agent_external_id": "does_not_exist"}


def test_another_accounts_agent_id_is_a_400_on_assigned_to(api_client, other_agent):
    body = {"first_name": "Ann", "email": "a@x.example", "assigned_to": str(other_agent.pk)}
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"assigned_to": "does_not_exist"}


def test_status_converted_is_refused(api_client, account, lead):
    response = api_client.patch(f"{LEADS}{lead.pk}/", {"status": "CONVERTED"}, format="json")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"status": "use_convert"}
    assert stored(account, lead).status == "new"
    response = api_client.post(
        LEADS, {"first_name": "A", "email": "a@x.example", "status": "converted"}, format="json"
    )
    assert response.status_code == 400


def test_choices_are_read_case_insensitively(api_client, account, lead):
    response = api_client.put(
        f"{LEADS}{lead.pk}/", {"status": "QUALIFIED", "source": "Web-Site"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (stored(account, lead).status, stored(account, lead).source) == (
        "qualified",
        "website",
    )


def test_put_is_partial_and_attributes_are_replaced(api_client, account, lead):
    api_client.patch(f"{LEADS}{lead.pk}/", {"attributes": {"A": 1, "B": 2}}, format="json")
    response = api_client.put(
        f"{LEADS}{lead.pk}/", {"customFields": {"DISCOUNT_CODE": "TR44"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    lead = stored(account, lead)
    assert lead.attributes == {"DISCOUNT_CODE": "TR44"}
    assert (lead.first_name, lead.email) == ("John", "John.Smith@alot.co")


def test_score_is_0_to_100(api_client, lead):
    assert api_client.patch(f"{LEADS}{lead.pk}/", {"score": 101}, format="json").status_code == 400
    assert api_client.patch(f"{LEADS}{lead.pk}/", {"score": 100}, format="json").status_code == 200


def test_a_lead_is_read_by_uuid_or_external_id(api_client, lead):
    for ref in (lead.pk, "ext:EXT-1"):
        response = api_client.get(f"{LEADS}{ref}/")
        assert response.status_code == 200
        assert response.json()["id"] == str(lead.pk)
    assert api_client.get(f"{LEADS}ext:nope/").status_code == 404
    assert api_client.get(f"{LEADS}not-an-id/").status_code == 404


def test_external_ids_with_dots_are_found(api_client, account):
    lead = LeadFactory(account=account, external_id="a.b.c")
    assert api_client.get(f"{LEADS}ext:a.b.c/").json()["id"] == str(lead.pk)


def test_a_duplicate_external_id_is_a_409(api_client, lead):
    response = api_client.post(
        LEADS, {"first_name": "A", "email": "a@x.example", "external_id": "EXT-1"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["attr"] == "external_id"


def test_lead_emails_are_not_unique(api_client, account, lead):
    response = api_client.post(
        LEADS, {"first_name": "B", "email": "john.smith@alot.co"}, format="json"
    )
    assert response.status_code == 201
    with account_scope(account):
        assert Lead.objects.count() == 2


def test_delete(api_client, account, lead):
    assert api_client.delete(f"{LEADS}ext:EXT-1/").status_code == 204
    with account_scope(account):
        assert not Lead.objects.filter(pk=lead.pk).exists()


def test_another_accounts_lead_is_a_404_for_every_method(other_api_client, account, lead):
    url = f"{LEADS}{lead.pk}/"
    assert other_api_client.get(url).status_code == 404
    assert other_api_client.get(f"{LEADS}ext:EXT-1/").status_code == 404
    assert other_api_client.patch(url, {"first_name": "X"}, format="json").status_code == 404
    assert other_api_client.put(url, {"first_name": "X"}, format="json").status_code == 404
    assert other_api_client.delete(url).status_code == 404
    assert other_api_client.post(f"{url}convert/").status_code == 404
    assert other_api_client.get(LEADS).json()["count"] == 0
    assert stored(account, lead).first_name == "John"


def test_read_only_keys_may_read_but_not_write(read_only_client, account, lead):
    assert read_only_client.get(f"{LEADS}{lead.pk}/").status_code == 200
    response = read_only_client.patch(f"{LEADS}{lead.pk}/", {"first_name": "X"}, format="json")
    assert response.status_code == 403
    assert read_only_client.post(f"{LEADS}{lead.pk}/convert/").status_code == 403
    assert stored(account, lead).first_name == "John"
