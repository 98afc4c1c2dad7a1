"""Seed 002's platform bulk: superuser credentials send `{"leadsByAccountId": {"<account
id or slug>": [...]}}` to `/leads/bulk/`; each account's rows are written in its own
scope, rows carry `account` and their index, an unknown account's rows fail, the
1,000-row cap counts every row; nobody else may send rows of several accounts. Also
the bulk's cap and mixed rows for an ordinary key."""

import pytest

from crm_project.tenancy import account_scope
from leads.models import Lead
from tests.factories import AccountFactory
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db

BULK = "/api/v1/leads/bulk/"


def row(n, **fields):
    return {"firstName": f"L{n}", "email": f"l{n}@x.example", "externalId": f"E{n}", **fields}


def leads_of(account):
    with account_scope(account):
        return {lead.external_id: lead for lead in Lead.objects.all()}


def test_rows_of_several_accounts_are_written_each_in_its_account(
    platform_client, account, other_account
):
    body = {
        "leadsByAccountId": {
            str(account.pk): [row(1), row(2, phone="12")],
            other_account.slug: [
                row(3, attributes={"ABANDONED_CART_URL": "www.shop.com/123"}, state="WA")
            ],
        }
    }
    response = platform_client.post(BULK, body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["created"], data["updated"], data["skipped"], data["failed"]) == (2, 0, 0, 1)
    assert [(r["account"], r["index"], r["status"]) for r in data["results"]] == [
        (str(account.pk), 0, "created"),
        (str(account.pk), 1, "failed"),
        (other_account.slug, 0, "created"),
    ]
    assert data["results"][1]["errors"][0]["attr"] == "phone"
    assert set(leads_of(account)) == {"E1"}
    theirs = leads_of(other_account)["E3"]
    assert theirs.attributes == {"ABANDONED_CART_URL": "www.shop.com/123"}
    assert str(data["results"][2]["id"]) == str(theirs.pk)


def test_an_unknown_or_inactive_accounts_rows_fail_and_the_others_go_on(platform_client, account):
    closed = AccountFactory(slug="closed", status="inactive")
    body = {"leads_by_account": {"nope": [row(1), row(2)], "closed": [row(3)], "acme": [row(4)]}}
    response = platform_client.post(BULK, body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["created"], data["failed"]) == (1, 3)
    failed = [r for r in data["results"] if r["status"] == "failed"]
    assert [(r["account"], r["index"]) for r in failed] == [("nope", 0), ("nope", 1), ("closed", 0)]
    assert all(r["id"] is None and r["errors"][0]["code"] == "not_found" for r in failed)
    assert set(leads_of(account)) == {"E4"}
    assert leads_of(closed) == {}


def test_put_updates_only_in_each_account(platform_client, account, other_account):
    LeadFactory(account=account, external_id="EXT-32342-TR", first_name="John")
    body = {
        "leadsByAccountId": {
            "acme": [{"externalId": "EXT-32342-TR", "firstName": "Janet", "state": "TX"}],
            "globex": [{"externalId": "EXT-32342-TR", "firstName": "Janet"}],
        }
    }
    response = platform_client.put(BULK, body, format="json")
    assert response.status_code == 200, response.json()
    assert [r["status"] for r in response.json()["results"]] == ["updated", "failed"]
    lead = leads_of(account)["EXT-32342-TR"]
    assert (lead.first_name, lead.state) == ("Janet", "TX")
    assert leads_of(other_account) == {}


def test_1001_rows_across_accounts_are_a_400_and_nothing_is_written(
    platform_client, account, other_account
):
    body = {
        "leadsByAccountId": {
            "acme": [row(n) for n in range(500)],
            "globex": [row(n) for n in range(501)],
        }
    }
    response = platform_client.post(BULK, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "leads_by_account_id"
    assert leads_of(account) == {}
    assert leads_of(other_account) == {}


@pytest.mark.parametrize(
    "body",
    [{"leadsByAccountId": [row(1)]}, {"leadsByAccountId": {"acme": row(1)}}],
)
def test_a_malformed_platform_body_is_a_400(platform_client, account, body):
    response = platform_client.post(BULK, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"].startswith("leads_by_account_id")


@pytest.mark.parametrize("client", ["api_client", "other_api_client", "member_client"])
def test_rows_of_several_accounts_need_a_superuser(request, client, account, other_account):
    body = {"leadsByAccountId": {"acme": [row(1)], "globex": [row(2)]}}
    response = request.getfixturevalue(client).post(BULK, body, format="json")
    assert response.status_code == 403
    assert leads_of(account) == {}
    assert leads_of(other_account) == {}


def test_a_staff_users_basic_credentials_are_refused_too(user, account):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD, basic_auth

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    body = {"leadsByAccountId": {"acme": [row(1)]}}
    assert client.post(BULK, body, format="json").status_code == 403
    assert leads_of(account) == {}


# --- An ordinary key's bulk -----------------------------------------------------------------


def test_1001_rows_are_a_400(api_client, account):
    response = api_client.post(BULK, {"leads": [row(n) for n in range(1001)]}, format="json")
    assert response.status_code == 400
    assert leads_of(account) == {}


def test_1000_rows_are_written(api_client, account):
    response = api_client.post(BULK, [row(n) for n in range(1000)], format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1000


def test_every_row_is_reported_and_good_rows_are_written(api_client, account):
    rows = [
        row(1),
        row(2, phone="not a phone", email=""),
        row(3, status="converted"),
        row(4, score=101),
        row(5, agentExternalId="nobody"),
        "not an object",
        row(6),
    ]
    data = api_client.post(BULK, rows, format="json").json()
    assert [r["index"] for r in data["results"]] == list(range(7))
    assert [r["status"] for r in data["results"]] == [
        "created",
        "failed",
        "failed",
        "failed",
        "failed",
        "failed",
        "created",
    ]
    attrs = [r["errors"][0]["attr"] for r in data["results"][1:5]]
    assert attrs == ["phone", "status", "score", "agent_external_id"]
    assert set(leads_of(account)) == {"E1", "E6"}
    assert stored(account, data["results"][6]["id"]).first_name == "L6"
