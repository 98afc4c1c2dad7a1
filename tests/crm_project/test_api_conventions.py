"""SPEC section 3, as an integrator meets it: credentials, the error shape of every
status, pagination, ordering, camelCase input, idempotency, throttling, health."""

import threading

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Agent, Role
from crm_project.tenancy import account_scope, unscoped
from tests.conftest import PASSWORD, basic_auth
from tests.factories import AccountFactory, AgentFactory, MembershipFactory, make_api_key

pytestmark = pytest.mark.django_db


def assert_error(response, status, code, attr=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] in {"validation_error", "client_error", "server_error"}
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["attr"] == attr
    assert body["message"] == body["errors"][0]["detail"]
    return body


# --- Authentication -------------------------------------------------------------------


def test_missing_credentials_are_401_offering_bearer_and_basic(anonymous_client):
    response = anonymous_client.get("/api/v1/agents/")
    body = assert_error(response, 401, "not_authenticated")
    assert body["type"] == "client_error"
    assert "Bearer" in response["WWW-Authenticate"]
    assert "Basic" in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "header",
    ["Bearer crm_live_nope", "Bearer not-even-a-key", "Bearer", "Basic Zm9vOmJhcg=="],
)
def test_bad_credentials_are_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/agents/")
    assert response.status_code == 401
    assert response.json()["type"] == "client_error"
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_revoked_key_is_refused_at_once(account, api_client):
    _key, raw = make_api_key(account, role=Role.MEMBER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/agents/").status_code == 200
    key_id = next(
        k["id"]
        for k in api_client.get("/api/v1/api-keys/").json()["results"]
        if raw.startswith(k["prefix"])
    )
    assert api_client.delete(f"/api/v1/api-keys/{key_id}/").status_code == 204
    assert_error(client.get("/api/v1/agents/"), 401, "invalid_key")


def test_basic_auth_with_a_single_membership(user, account):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    assert client.get("/api/v1/account/").json()["slug"] == account.slug


def test_basic_auth_with_several_memberships_needs_x_account(user, account, other_account):
    MembershipFactory(account=other_account, user=user, role=Role.READ_ONLY)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    assert_error(client.get("/api/v1/account/"), 403, "account_required")
    response = client.get("/api/v1/account/", HTTP_X_ACCOUNT=other_account.slug)
    assert response.json()["slug"] == other_account.slug
    # the role is the membership's in that account
    response = client.post(
        "/api/v1/agents/", {"first_name": "A"}, HTTP_X_ACCOUNT=other_account.slug
    )
    assert response.status_code == 403
    response = client.get("/api/v1/account/", HTTP_X_ACCOUNT=str(account.pk))
    assert response.json()["slug"] == account.slug


def test_x_account_naming_a_foreign_account_is_refused(user, other_account):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    assert_error(
        client.get("/api/v1/account/", HTTP_X_ACCOUNT=other_account.slug), 403, "not_a_member"
    )


def test_an_api_key_ignores_x_account(api_client, account, other_account):
    response = api_client.get("/api/v1/account/", HTTP_X_ACCOUNT=other_account.slug)
    assert response.json()["slug"] == account.slug


def test_superuser_acts_in_the_account_named_by_x_account(platform_client, account):
    AgentFactory(account=account, first_name="Zed")
    response = platform_client.get("/api/v1/agents/", HTTP_X_ACCOUNT=account.slug)
    assert [a["first_name"] for a in response.json()["results"]] == ["Zed"]
    assert_error(platform_client.get("/api/v1/agents/"), 403, "account_required")


def test_wrong_password_is_401(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, "wrong"))
    assert client.get("/api/v1/account/").status_code == 401


def test_an_inactive_account_refuses_every_credential(account, api_client, user):
    with unscoped():
        services.account_change_status(account=account, action="inactivate")
    assert_error(api_client.get("/api/v1/account/"), 403, "account_inactive")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))
    assert_error(client.get("/api/v1/account/"), 403, "account_inactive")


def test_a_paused_account_still_works_over_the_api(account, api_client):
    with unscoped():
        services.account_change_status(account=account, action="pause")
    assert api_client.get("/api/v1/account/").json()["status"] == "paused"
    assert api_client.post("/api/v1/agents/", {"first_name": "A"}).status_code == 201


def test_session_auth_needs_csrf_for_writes(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/account/").status_code == 200
    response = client.post("/api/v1/agents/", {"first_name": "A"}, format="json")
    assert_error(response, 403, "permission_denied")


# --- Roles ----------------------------------------------------------------------------


def test_read_only_keys_can_read_but_not_write(read_only_client):
    assert read_only_client.get("/api/v1/agents/").status_code == 200
    assert_error(
        read_only_client.post("/api/v1/agents/", {"first_name": "A"}), 403, "permission_denied"
    )
    assert_error(
        read_only_client.patch("/api/v1/account/", {"name": "X"}), 403, "permission_denied"
    )


def test_members_cannot_manage_keys_agents_or_settings(member_client):
    assert_error(member_client.get("/api/v1/api-keys/"), 403, "permission_denied")
    assert_error(
        member_client.post("/api/v1/agents/", {"first_name": "A"}), 403, "permission_denied"
    )
    assert_error(member_client.patch("/api/v1/account/", {"name": "X"}), 403, "permission_denied")
    assert member_client.get("/api/v1/agents/").status_code == 200


# --- Error shapes ---------------------------------------------------------------------


def test_malformed_json_is_a_400(api_client):
    response = api_client.post(
        "/api/v1/agents/", data='{"first_name": ', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_wrong_content_type_is_415(api_client):
    response = api_client.post("/api/v1/agents/", data="<a/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_a_body_too_large_is_413(api_client):
    response = api_client.post("/api/v1/agents/", {"first_name": "x" * 5000}, format="json")
    assert_error(response, 413, "request_too_large")


def test_validation_errors_name_each_field(api_client):
    response = api_client.post("/api/v1/agents/", {"email": "nope", "active": "maybe"})
    body = assert_error(response, 400, "required", attr="first_name")
    assert body["type"] == "validation_error"
    attrs = {e["attr"] for e in body["errors"]}
    assert attrs == {"first_name", "email", "active"}


def test_unknown_api_url_is_a_json_404(api_client):
    assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_unsupported_method_is_405(api_client):
    assert_error(api_client.put("/api/v1/agents/", {}), 405, "method_not_allowed")


def test_answers_are_not_cached(api_client):
    assert api_client.get("/api/v1/account/")["Cache-Control"] == "no-store"


# --- Pagination, ordering, input conventions ------------------------------------------


def test_page_number_pagination_with_exact_count(account, api_client):
    for n in range(7):
        AgentFactory(account=account, last_name=f"L{n}")
    body = api_client.get("/api/v1/agents/?page=2&page_size=3").json()
    assert body["count"] == 7
    assert [a["last_name"] for a in body["results"]] == ["L3", "L4", "L5"]
    assert ("page=3" in body["next"] and "page=1" in body["previous"]) or body["previous"]


def test_page_size_is_capped_at_500(account, api_client):
    AgentFactory(account=account)
    assert api_client.get("/api/v1/agents/?page_size=100000").status_code == 200


def test_ordering_parameter(account, api_client):
    for name in ["b", "c", "a"]:
        AgentFactory(account=account, first_name=name, last_name="same")
    names = [
        a["first_name"]
        for a in api_client.get("/api/v1/agents/?ordering=-first_name").json()["results"]
    ]
    assert names == ["c", "b", "a"]


def test_camel_case_keys_and_lenient_choices_are_read(api_client):
    response = api_client.post(
        "/api/v1/api-keys/", {"name": "ci", "role": "READ-ONLY"}, format="json"
    )
    assert response.json()["role"] == "read_only"
    response = api_client.post(
        "/api/v1/agents/", {"firstName": "Ann", "lastName": "Lee", "externalId": "X1"}
    )
    assert response.status_code == 201
    assert (response.json()["first_name"], response.json()["external_id"]) == ("Ann", "X1")


# --- Idempotency ----------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer(api_client, account):
    first = api_client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k1")
    second = api_client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with account_scope(account):
        assert Agent.objects.count() == 1


def test_idempotency_key_with_another_body_is_409(api_client):
    api_client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k1")
    response = api_client.post("/api/v1/agents/", {"first_name": "Bob"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 409, "idempotency_key_reused")


def test_a_failed_request_does_not_burn_its_idempotency_key(api_client, account):
    bad = api_client.post("/api/v1/agents/", {"first_name": ""}, HTTP_IDEMPOTENCY_KEY="k2")
    assert bad.status_code == 400
    good = api_client.post("/api/v1/agents/", {"first_name": ""}, HTTP_IDEMPOTENCY_KEY="k2")
    assert good.status_code == 400  # ran again, not replayed
    assert "Idempotent-Replayed" not in good


def test_idempotency_keys_are_per_account(api_client, other_api_client):
    a = api_client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="same")
    b = other_api_client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_create_once():
    account = AccountFactory()
    _key, raw = make_api_key(account)
    answers = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            response = client.post(
                "/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="race"
            )
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201}
    assert len({agent_id for _, agent_id in answers}) == 1
    with account_scope(account):
        assert Agent.objects.count() == 1


# --- Throttling -----------------------------------------------------------------------


def test_throttling_per_key_answers_429_with_retry_after(api_client, member_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credential": "3/min"},
    }
    for _ in range(3):
        assert api_client.get("/api/v1/account/").status_code == 200
    response = api_client.get("/api/v1/account/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # another key has its own budget
    assert member_client.get("/api/v1/account/").status_code == 200


# --- Health, schema, docs -------------------------------------------------------------


def test_healthz_and_readyz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_swagger_ui_serves_its_assets_locally(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn" not in html.lower()


def test_schema_is_generated_without_warnings(db):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", "/dev/null")


def test_schema_describes_the_endpoints(client, db):
    schema = client.get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/account/",
        "/api/v1/agents/",
        "/api/v1/agents/bulk/",
        "/api/v1/api-keys/",
        "/api/v1/accounts/{id}/pause/",
    ]:
        assert path in schema["paths"], path
    assert {"bearerAuth", "basicAuth"} <= set(schema["components"]["securitySchemes"])
