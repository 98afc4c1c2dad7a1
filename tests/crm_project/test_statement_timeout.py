"""Every request and task runs its statements under a timeout (settings
DB_*STATEMENT_TIMEOUT), so no caller can tie the database up; a request that runs past
it answers 503 `statement_timeout` with Retry-After, never an unhandled 500."""

import pytest
from django.db import connection

from accounts import views as account_views
from accounts.api.views import AgentViewSet
from accounts.models import Agent
from crm_project.tenancy import account_scope, statement_timeout
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def show_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.fixture
def answering_client(api_client):
    """The admin key's client, answering 5xx like a server does (the error is reported
    to Django's `got_request_exception`, which the test client would re-raise)."""
    api_client.raise_request_exception = False
    return api_client


@pytest.fixture
def slow_agents_list(monkeypatch):
    """The agents list runs a one-second statement first."""
    original = AgentViewSet.get_scoped_queryset

    def slow(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")
        return original(self)

    monkeypatch.setattr(AgentViewSet, "get_scoped_queryset", slow)


def test_a_request_running_past_the_statement_timeout_answers_503(
    answering_client, account, settings, slow_agents_list
):
    settings.DB_STATEMENT_TIMEOUT = 0.05

    response = answering_client.get("/api/v1/agents/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["errors"] == [
        {
            "code": "statement_timeout",
            "detail": "The database took too long to answer; try again later or narrow "
            "the request.",
            "attr": None,
        }
    ]


def test_the_connection_serves_the_next_request_after_a_timeout(
    answering_client, account, settings, monkeypatch, slow_agents_list
):
    settings.DB_STATEMENT_TIMEOUT = 0.05
    agent = AgentFactory(account=account)
    assert answering_client.get("/api/v1/agents/").status_code == 503
    monkeypatch.undo()

    response = answering_client.get("/api/v1/agents/")

    assert [row["id"] for row in response.json()["results"]] == [str(agent.pk)]


def test_a_write_that_times_out_is_rolled_back(answering_client, account, settings, monkeypatch):
    settings.DB_STATEMENT_TIMEOUT = 0.05
    original = AgentViewSet.perform_create

    def create_then_stall(self, serializer):
        original(self, serializer)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")

    monkeypatch.setattr(AgentViewSet, "perform_create", create_then_stall)

    response = answering_client.post("/api/v1/agents/", {"first_name": "Slow"}, format="json")

    assert response.status_code == 503
    with account_scope(account):
        assert not Agent.objects.exists()


def test_a_request_scope_has_the_request_timeout(api_client, account, settings, monkeypatch):
    settings.DB_STATEMENT_TIMEOUT = 12
    seen = []
    original = AgentViewSet.get_scoped_queryset

    def spy(self):
        seen.append(show_statement_timeout())
        return original(self)

    monkeypatch.setattr(AgentViewSet, "get_scoped_queryset", spy)

    api_client.get("/api/v1/agents/")

    assert seen == ["12s"]


def test_a_scope_outside_requests_and_tasks_has_no_timeout_of_its_own(account):
    with account_scope(account):
        assert show_statement_timeout() == "0"


def test_a_nested_scope_with_a_timeout_leaves_the_outer_transaction_as_it_was(account):
    with account_scope(account):
        with statement_timeout(5), account_scope(account):
            assert show_statement_timeout() == "5s"
        assert show_statement_timeout() == "0"


def test_a_page_running_past_the_statement_timeout_answers_503(client, user, settings, monkeypatch):
    settings.DB_STATEMENT_TIMEOUT = 0.05

    def slow_list(account):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")

    monkeypatch.setattr(account_views.selectors, "api_key_list", slow_list)
    client.force_login(user)

    response = client.get("/settings/api-keys/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
