"""The accounts endpoints: the caller's account, platform accounts, API keys, agents."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Agent, ApiKey
from crm_project.tenancy import account_scope, unscoped
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


# --- /account/ ------------------------------------------------------------------------


def test_account_shows_every_contract_field(api_client):
    body = api_client.get("/api/v1/account/").json()
    for field in [
        "id",
        "name",
        "slug",
        "email",
        "phone_number",
        "description",
        "country_iso3",
        "state",
        "timezone",
        "type",
        "website",
        "attributes",
        "ai_assistant_name",
        "status",
        "default_phone_region",
        "loyalty_earn_rate",
        "max_credit_refusals",
        "lead_consent_required",
        "created_at",
    ]:
        assert field in body
    assert body["loyalty_earn_rate"] == "0.50"
    assert body["max_credit_refusals"] == 3
    assert body["lead_consent_required"] is False


def test_admin_patches_account_settings(api_client, account):
    response = api_client.patch(
        "/api/v1/account/",
        {
            "timezone": "Europe/Paris",
            "type": "E-Commerce",
            "loyaltyEarnRate": "1.25",
            "attributes": {"CamelKey": 1},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert account.timezone == "Europe/Paris"
    assert account.type == "ecommerce"
    assert str(account.loyalty_earn_rate) == "1.25"
    assert account.attributes == {"CamelKey": 1}


def test_account_patch_cannot_change_status_or_slug(api_client, account):
    api_client.patch("/api/v1/account/", {"status": "inactive", "slug": "x"}, format="json")
    account.refresh_from_db()
    assert (account.status, account.slug) == ("active", "acme")


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"type": "spaceship"}, "type"),
        ({"default_phone_region": "ZZ"}, "default_phone_region"),
        ({"loyalty_earn_rate": "-1"}, "loyalty_earn_rate"),
        ({"attributes": [1]}, "attributes"),
    ],
)
def test_account_patch_rejects_bad_values_naming_the_field(api_client, payload, attr):
    response = api_client.patch("/api/v1/account/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


# --- Platform accounts ----------------------------------------------------------------


def test_platform_creates_an_account_with_an_admin_key(platform_client):
    response = platform_client.post(
        "/api/v1/accounts/", {"name": "Initech", "timezone": "America/Chicago"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "initech"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['api_key']}")
    assert client.get("/api/v1/account/").json()["timezone"] == "America/Chicago"


def test_platform_lists_and_updates_every_account(platform_client, account, other_account):
    slugs = {a["slug"] for a in platform_client.get("/api/v1/accounts/").json()["results"]}
    assert slugs == {"acme", "globex"}
    response = platform_client.put(
        f"/api/v1/accounts/{account.pk}/", {"name": "Acme Corp"}, format="json"
    )
    assert response.json()["name"] == "Acme Corp"


def test_platform_status_actions(platform_client, account, api_client):
    url = f"/api/v1/accounts/{account.pk}"
    assert platform_client.post(f"{url}/pause/").json()["status"] == "paused"
    assert platform_client.post(f"{url}/pause/").status_code == 409
    assert platform_client.post(f"{url}/unpause/").json()["status"] == "active"
    assert platform_client.post(f"{url}/inactivate/").json()["status"] == "inactive"
    assert api_client.get("/api/v1/account/").json()["errors"][0]["code"] == "account_inactive"
    assert platform_client.post(f"{url}/activate/").json()["status"] == "active"
    assert api_client.get("/api/v1/account/").status_code == 200


def test_platform_deletes_an_account_with_its_rows(platform_client, account):
    AgentFactory(account=account)
    assert platform_client.delete(f"/api/v1/accounts/{account.pk}/").status_code == 204
    with unscoped():
        assert not Account.objects.filter(pk=account.pk).exists()
        assert Agent.objects.count() == 0


def test_platform_slug_must_be_unique(platform_client, account):
    response = platform_client.post("/api/v1/accounts/", {"name": "A", "slug": "acme"})
    assert response.status_code == 409


@pytest.mark.parametrize("client_name", ["api_client", "member_client", "other_api_client"])
def test_platform_endpoints_refuse_account_credentials(request, client_name, account):
    client = request.getfixturevalue(client_name)
    assert client.get("/api/v1/accounts/").status_code == 403
    assert client.post(f"/api/v1/accounts/{account.pk}/pause/").status_code == 403


# --- API keys -------------------------------------------------------------------------


def test_create_key_shows_the_secret_once(api_client, account):
    response = api_client.post("/api/v1/api-keys/", {"name": "ci", "role": "member"})
    assert response.status_code == 201
    secret = response.json()["key"]
    assert secret.startswith("crm_live_")
    listed = api_client.get("/api/v1/api-keys/").json()["results"]
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    assert any(secret.startswith(k["prefix"]) for k in listed)
    with account_scope(account):
        stored = ApiKey.objects.get(pk=response.json()["id"])
    assert secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64


def test_another_accounts_key_is_404(api_client, other_api_client):
    key_id = api_client.post("/api/v1/api-keys/", {"name": "x"}).json()["id"]
    assert other_api_client.get(f"/api/v1/api-keys/{key_id}/").status_code == 404
    assert other_api_client.delete(f"/api/v1/api-keys/{key_id}/").status_code == 404
    assert api_client.get(f"/api/v1/api-keys/{key_id}/").status_code == 200


def test_last_used_at_is_recorded(api_client, django_capture_on_commit_callbacks):
    # Recorded by a task sent once the request's authentication has committed.
    with django_capture_on_commit_callbacks(execute=True):
        key_id = api_client.get("/api/v1/api-keys/").json()["results"][0]["id"]
    assert api_client.get(f"/api/v1/api-keys/{key_id}/").json()["last_used_at"] is not None


# --- Agents ---------------------------------------------------------------------------


def test_agent_crud(api_client, account):
    created = api_client.post(
        "/api/v1/agents/",
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": " ANN@x.io ",
            "phone": "+15551234",
            "external_id": "A-1",
        },
    )
    assert created.status_code == 201
    agent_id = created.json()["id"]
    assert created.json()["email"] == "ann@x.io"
    updated = api_client.put(f"/api/v1/agents/{agent_id}/", {"active": False})
    assert updated.json()["active"] is False
    assert updated.json()["first_name"] == "Ann"  # PUT is partial
    with account_scope(account):
        assert Agent.objects.get(pk=agent_id).active is False
    assert api_client.delete(f"/api/v1/agents/{agent_id}/").status_code == 204
    assert api_client.get(f"/api/v1/agents/{agent_id}/").status_code == 404


def test_agent_external_id_is_unique_per_account(api_client, other_api_client):
    assert (
        api_client.post("/api/v1/agents/", {"first_name": "A", "external_id": "X"}).status_code
        == 201
    )
    conflict = api_client.post("/api/v1/agents/", {"first_name": "B", "external_id": "X"})
    assert conflict.status_code == 409
    assert (
        other_api_client.post(
            "/api/v1/agents/", {"first_name": "C", "external_id": "X"}
        ).status_code
        == 201
    )


def test_agent_filters(api_client, account):
    # Fixed names and emails: Faker's may contain "bo" (a flaky match for `q`).
    AgentFactory(
        account=account, first_name="Ann", last_name="Lee", email="ann@x.example",
        active=True, external_id="e1",
    )  # fmt: skip
    AgentFactory(
        account=account, first_name="Bob", last_name="Ray", email="bob@x.example",
        active=False, external_id="e2",
    )  # fmt: skip

    def names(query):
        return [
            a["first_name"] for a in api_client.get(f"/api/v1/agents/{query}").json()["results"]
        ]

    assert names("?active=false") == ["Bob"]
    assert names("?external_id=e1") == ["Ann"]
    assert names("?q=bo") == ["Bob"]


def test_another_accounts_agent_is_404_everywhere(api_client, other_api_client, other_account):
    theirs = AgentFactory(account=other_account)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(api_client, method)(f"/api/v1/agents/{theirs.pk}/", {})
        assert response.status_code == 404, method
    assert theirs.pk not in [a["id"] for a in api_client.get("/api/v1/agents/").json()["results"]]


def test_agent_user_must_be_a_member_of_the_account(api_client, other_account):
    from tests.factories import MembershipFactory

    stranger = MembershipFactory(account=other_account).user
    response = api_client.post("/api/v1/agents/", {"first_name": "A", "user": stranger.pk})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "user"


def test_agent_bulk_upserts_by_external_id_reporting_every_row(api_client, account):
    AgentFactory(
        account=account,
        external_id="keep",
        first_name="Same",
        last_name="Row",
        email="same@x.io",
        phone="",
    )
    rows = [
        {"external_id": "n1", "first_name": "New"},
        {"external_id": "keep", "first_name": "Same", "last_name": "Row", "email": "same@x.io"},
        {"first_name": "No external id"},
        {"external_id": "n2", "email": "not-an-email", "first_name": "Bad"},
        "not an object",
        {"externalId": "n1", "firstName": "Renamed"},
    ]
    body = api_client.post("/api/v1/agents/bulk/", {"agents": rows}, format="json").json()
    assert [r["status"] for r in body["results"]] == [
        "created",
        "skipped",
        "failed",
        "failed",
        "failed",
        "updated",
    ]
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 1, 1, 3)
    assert body["results"][3]["errors"][0]["attr"] == "email"
    assert body["results"][2]["errors"][0]["attr"] == "external_id"
    with account_scope(account):
        assert Agent.objects.get(external_id="n1").first_name == "Renamed"


def test_agent_bulk_refuses_more_than_1000_rows(api_client):
    response = api_client.post(
        "/api/v1/agents/bulk/", {"agents": [{"first_name": "x"}] * 1001}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "agents"


def test_platform_status_actions_also_take_put(platform_client, account):
    """Seed 002 sends its actions with PUT."""
    url = f"/api/v1/accounts/{account.pk}"
    assert platform_client.put(f"{url}/pause/").json()["status"] == "paused"
    assert platform_client.put(f"{url}/unpause/").json()["status"] == "active"
    assert platform_client.put(f"{url}/inactivate/").json()["status"] == "inactive"
    assert platform_client.put(f"{url}/activate/").json()["status"] == "active"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("www.google.co", "https://www.google.co"),
        ("http://example.com/a", "http://example.com/a"),
        ("", ""),
    ],
)
def test_a_website_without_a_scheme_is_read_as_https(platform_client, given, stored):
    response = platform_client.post(
        "/api/v1/accounts/", {"name": f"Site {given!r}", "website": given}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["website"] == stored


def test_a_website_that_is_not_an_address_is_a_400(platform_client):
    response = platform_client.post(
        "/api/v1/accounts/", {"name": "Bad site", "website": "not a site"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "website"


@pytest.mark.django_db(transaction=True)
def test_platform_deletes_an_account_with_counted_rows(platform_client, account, other_account):
    """The row counters' deltas settle at commit: those of the deleted account are
    dropped (its counters went with it), another account's stay exact."""
    from crm_project.api.pagination import row_count
    from crm_project.tenancy import account_scope
    from tests.factories import CustomerFactory
    from tests.leads.conftest import LeadFactory

    CustomerFactory(account=account)
    LeadFactory(account=account, status="qualified")
    CustomerFactory(account=other_account)

    response = platform_client.delete(f"/api/v1/accounts/{account.pk}/")

    assert response.status_code == 204, response.content
    assert platform_client.get(f"/api/v1/accounts/{account.pk}/").status_code == 404
    with account_scope(other_account):
        assert row_count("customers") == 1
