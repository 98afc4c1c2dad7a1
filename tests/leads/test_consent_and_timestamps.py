"""Seed 002's consent matrix (an account with `lead_consent_required`): each missing
field named alone, single and bulk creates alike (the platform bulk too), updates
exempt; seed 002's `timestamp` formats and their errors."""

import pytest

from crm_project.tenancy import account_scope
from leads.models import Lead
from tests.leads.conftest import stored
from tests.leads.test_leads_api import SEED_002_LEAD

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
BULK = "/api/v1/leads/bulk/"

# The seed's lead without its agent (the agent rules are tested elsewhere).
CONSENTED = {k: v for k, v in SEED_002_LEAD.items() if k != "agentExternalId"}


@pytest.fixture
def consent(account):
    account.lead_consent_required = True
    account.save()
    return account


def attrs(response):
    return {e["attr"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("phone", {"phone"}),
        ("firstName", {"first_name"}),
        ("lastName", {"last_name"}),
        ("timestamp", {"acquired_at"}),
        ("jornayaLeadId", {"jornaya_lead_id", "trusted_form_id"}),
    ],
)
@pytest.mark.parametrize("how", ["absent", "blank", "null"])
def test_each_missing_consent_field_is_named(api_client, consent, missing, named, how):
    body = {**CONSENTED}
    if how == "absent":
        body.pop(missing)
    else:
        body[missing] = "  " if how == "blank" else None
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert attrs(response) == named
    with account_scope(consent):
        assert not Lead.objects.exists()


def test_zip_or_state_and_city(api_client, consent):
    body = {**CONSENTED, "zip": ""}
    body.pop("state")
    response = api_client.post(LEADS, body, format="json")
    assert attrs(response) == {"zip", "state", "city"}
    response = api_client.post(LEADS, {**body, "state": "WA"}, format="json")
    assert attrs(response) == {"zip", "city"}
    response = api_client.post(LEADS, {**body, "state": "WA", "city": "Seattle"}, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("field", "value", "attr"),
    [
        ("firstName", "x" * 251, "first_name"),
        ("lastName", "x" * 251, "last_name"),
        ("phone", "1" * 101, "phone"),
    ],
)
def test_too_long_fields_are_named(api_client, consent, field, value, attr):
    response = api_client.post(LEADS, {**CONSENTED, field: value}, format="json")
    assert response.status_code == 400
    assert attr in attrs(response)


def test_bulk_rows_follow_the_consent_rules_row_by_row(api_client, consent):
    rows = [
        {**CONSENTED, "externalId": "ok"},
        {k: v for k, v in CONSENTED.items() if k != "timestamp"} | {"externalId": "bad"},
    ]
    data = api_client.post(BULK, rows, format="json").json()
    assert [r["status"] for r in data["results"]] == ["created", "failed"]
    assert {e["attr"] for e in data["results"][1]["errors"]} == {"acquired_at"}


def test_the_platform_bulk_follows_each_accounts_own_rules(platform_client, consent, other_account):
    row = {"firstName": "Ann", "email": "ann@x.example", "externalId": "A"}
    body = {"leadsByAccountId": {consent.slug: [row], other_account.slug: [row]}}
    data = platform_client.post(BULK, body, format="json").json()
    assert [(r["account"], r["status"]) for r in data["results"]] == [
        (consent.slug, "failed"),
        (other_account.slug, "created"),
    ]
    assert "phone" in {e["attr"] for e in data["results"][0]["errors"]}


def test_updates_are_exempt(api_client, consent):
    created = api_client.post(LEADS, CONSENTED, format="json")
    assert created.status_code == 201, created.json()
    response = api_client.patch(f"{LEADS}ext:2/", {"zip": "", "notes": "x"}, format="json")
    assert response.status_code == 200, response.json()


# --- Seed 002's timestamp --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("06-23-2021 22:55:23", "2021-06-23T22:55:23Z"),
        ("2021-06-23T22:55:23", "2021-06-23T22:55:23Z"),
        ("2021-06-23T22:55:23+02:00", "2021-06-23T20:55:23Z"),
        ("2021-06-23", "2021-06-23T00:00:00Z"),
    ],
)
def test_timestamp_formats(api_client, account, value, expected):
    body = {"firstName": "Ann", "email": "a@x.example", "timestamp": value}
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["acquired_at"] == expected


@pytest.mark.parametrize("value", ["23-06-2021 22:55:23", "13-23-2021 22:55:23", "yesterday", 12])
def test_a_bad_timestamp_is_a_400_on_acquired_at(api_client, account, value):
    body = {"firstName": "Ann", "email": "a@x.example", "timestamp": value}
    response = api_client.post(LEADS, body, format="json")
    assert response.status_code == 400
    assert attrs(response) == {"acquired_at"}


def test_acquired_at_wins_over_its_alias(api_client, account):
    body = {
        "firstName": "Ann",
        "email": "a@x.example",
        "timestamp": "06-23-2021 22:55:23",
        "acquiredAt": "2020-01-01T00:00:00Z",
    }
    response = api_client.post(LEADS, body, format="json")
    assert stored(account, response.json()["id"]).acquired_at.year == 2020
