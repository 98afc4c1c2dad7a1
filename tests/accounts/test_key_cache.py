"""The API-key cache and the one Redis round trip of a key's request: a warm key is
not read from PostgreSQL, and whatever changes what authentication decides (a revoke,
an account's status or settings, its deletion) takes effect from the very next request,
in every process (the cache's generation lives in Redis)."""

import threading
import time

import pytest
import redis.connection
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services, tasks
from accounts.models import ApiKey, Role
from accounts.services import STORED_PREFIX_LENGTH
from crm_project.api import budgets
from crm_project.api.signins import FailedSignIns
from crm_project.tenancy import account_scope
from tests.factories import AccountFactory, make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Every command (or pipeline, or script call) sent to Redis."""
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, *args, **kwargs):
        sent.append(command)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


def client_for(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def assert_invalid_key(response):
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "invalid_key"


def test_a_warm_key_is_not_read_from_postgresql(api_client, key_lookups):
    assert api_client.get("/api/v1/account/").status_code == 200
    assert len(key_lookups) == 1
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get("/api/v1/account/").status_code == 200
        assert not [q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]
    assert len(key_lookups) == 1


def test_a_warm_key_request_makes_one_redis_round_trip(api_client, redis_round_trips):
    api_client.get("/api/v1/account/")
    redis_round_trips.clear()
    assert api_client.get("/api/v1/account/").status_code == 200
    # The sign-in budget, the cache generation, the request budget and the use note.
    assert len(redis_round_trips) == 1


def test_a_key_revoked_over_the_api_is_refused_on_the_next_request(account, api_client):
    revoker = client_for(make_api_key(account, role=Role.ADMIN)[1])
    for _ in range(2):  # the second from the cache
        assert api_client.get("/api/v1/account/").status_code == 200
    with account_scope(account):
        key = ApiKey.objects.get(prefix=api_client.raw_key[:STORED_PREFIX_LENGTH])

    assert revoker.delete(f"/api/v1/api-keys/{key.pk}/").status_code == 204

    assert_invalid_key(api_client.get("/api/v1/account/"))
    assert revoker.get("/api/v1/account/").status_code == 200


def test_a_key_revoked_by_the_service_is_refused_at_once(account, key_lookups):
    api_key, raw = make_api_key(account, role=Role.MEMBER)
    client = client_for(raw)
    for _ in range(2):
        assert client.get("/api/v1/account/").status_code == 200
    assert len(key_lookups) == 1  # warm

    with account_scope(account):
        services.api_key_revoke(api_key=api_key)

    assert_invalid_key(client.get("/api/v1/account/"))
    assert_invalid_key(client.get("/api/v1/account/"))


def test_revoking_one_key_leaves_the_others_working(account, api_client):
    api_key, raw = make_api_key(account, role=Role.MEMBER)
    client = client_for(raw)
    client.get("/api/v1/account/")
    api_client.get("/api/v1/account/")
    with account_scope(account):
        services.api_key_revoke(api_key=api_key)
    assert_invalid_key(client.get("/api/v1/account/"))
    assert api_client.get("/api/v1/account/").status_code == 200


def test_a_wrong_secret_with_a_cached_prefix_is_refused(account, api_client):
    assert api_client.get("/api/v1/account/").status_code == 200
    raw = api_client.raw_key
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert_invalid_key(client_for(forged).get("/api/v1/account/"))


def test_an_inactivated_account_is_refused_with_the_cache_warm(
    account, api_client, platform_client
):
    assert api_client.get("/api/v1/account/").status_code == 200
    assert api_client.get("/api/v1/account/").status_code == 200
    url = f"/api/v1/accounts/{account.pk}/inactivate/"
    assert platform_client.post(url).json()["status"] == "inactive"
    response = api_client.get("/api/v1/account/")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "account_inactive"

    platform_client.post(f"/api/v1/accounts/{account.pk}/activate/")
    assert api_client.get("/api/v1/account/").status_code == 200


def test_a_paused_account_answers_as_paused_with_the_cache_warm(account, api_client):
    assert api_client.get("/api/v1/account/").json()["status"] == "active"
    with account_scope(account):
        services.account_change_status(account=account, action="pause")
    assert api_client.get("/api/v1/account/").json()["status"] == "paused"


def test_an_account_change_is_seen_by_the_next_key_request(api_client):
    assert api_client.get("/api/v1/account/").json()["name"] == "Acme"
    assert api_client.patch("/api/v1/account/", {"name": "Acme Corp"}).status_code == 200
    assert api_client.get("/api/v1/account/").json()["name"] == "Acme Corp"


def test_a_deleted_accounts_keys_are_refused(account, api_client, platform_client):
    assert api_client.get("/api/v1/account/").status_code == 200
    assert platform_client.delete(f"/api/v1/accounts/{account.pk}/").status_code == 204
    assert_invalid_key(api_client.get("/api/v1/account/"))


def test_a_request_does_not_change_the_cached_account(api_client):
    """Each request has its own copy: an object a view changed is not the next one's."""
    api_client.get("/api/v1/account/")
    key = services.api_key_authenticate(raw_key=api_client.raw_key, generation=None)
    generation = next(iter(services._key_cache.values())).generation
    first = services.api_key_authenticate(raw_key=api_client.raw_key, generation=generation)
    first.account.name = "changed in one request"
    second = services.api_key_authenticate(raw_key=api_client.raw_key, generation=generation)
    assert second.account.name == key.account.name == "Acme"


def test_the_key_use_is_noted_once_a_period_on_the_cached_path(api_client, monkeypatch):
    noted = []
    monkeypatch.setattr(
        tasks.api_key_mark_used, "delay_on_commit_for", lambda *args: noted.append(args)
    )
    for _ in range(4):
        assert api_client.get("/api/v1/account/").status_code == 200
    assert len(noted) == 1


def test_the_request_budget_is_one_across_the_cold_and_warm_paths(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credential": "3/min"},
    }
    # The first request (cold) takes the budget in the throttle, the others (warm) in
    # the authentication's round trip: one budget all the same.
    for _ in range(3):
        assert api_client.get("/api/v1/account/").status_code == 200
    response = api_client.get("/api/v1/account/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


@pytest.mark.django_db(transaction=True)
def test_a_revoke_committed_by_another_connection_refuses_the_next_request():
    """The revoke runs in another thread, on its own connection and transaction, as in
    another worker process: only the generation in Redis tells this one."""
    account = AccountFactory(slug="acme-tx")
    api_key, raw = make_api_key(account, role=Role.MEMBER)
    client = client_for(raw)
    assert client.get("/api/v1/account/").status_code == 200
    assert client.get("/api/v1/account/").status_code == 200  # warm

    def revoke():
        try:
            with account_scope(account):
                services.api_key_revoke(api_key=api_key)
        finally:
            connection.close()

    thread = threading.Thread(target=revoke)
    thread.start()
    thread.join()

    assert_invalid_key(client.get("/api/v1/account/"))


@pytest.mark.django_db(transaction=True)
def test_an_entry_filled_before_a_revoke_commits_never_answers_after_it():
    """A concurrent request that reads the generation after the revoke's UPDATE but
    before its commit sees the live key (PostgreSQL shows it the committed row) and
    caches it at that generation; the commit moves the generation on again."""
    account = AccountFactory(slug="acme-race")
    api_key, raw = make_api_key(account, role=Role.MEMBER)
    live = _key(account, api_key.pk)
    anyone = FailedSignIns(RequestFactory().get("/", REMOTE_ADDR="10.9.9.9"))
    with transaction.atomic(), account_scope(account):
        services.api_key_revoke(api_key=api_key)
        # The concurrent request, between the UPDATE and the COMMIT.
        generation = budgets.spend(
            failures=anyone, budget_ident=None, marker=None, marker_seconds=0
        ).generation
        services._key_cache[api_key.prefix] = services._CachedKey(
            generation=generation,
            filled_at=time.monotonic(),
            api_key=live,
            secret_hash=live.secret_hash,
        )

    assert_invalid_key(client_for(raw).get("/api/v1/account/"))


def _key(account, key_id):
    with account_scope(account):
        return ApiKey.objects.select_related("account").get(pk=key_id)
