"""Each tenancy layer proven on its own: the ORM guard, PostgreSQL's row-level security
(raw SQL, as the application's role) and the composite foreign keys."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, ProgrammingError, connection, connections, transaction

from accounts.models import Agent
from crm_project.api.views import TenantModelViewSet
from crm_project.migration_operations import (
    composite_fk_name,
    is_tenant_model,
    tenant_foreign_keys,
)
from crm_project.tenancy import ScopeError, account_scope, unscoped
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agents(account, other_account):
    return AgentFactory(account=account), AgentFactory(account=other_account)


def raw_count(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


# --- Layer 2: the ORM refuses to run without a scope ----------------------------------


def test_querying_a_tenant_model_without_scope_raises(agents):
    with pytest.raises(ScopeError):
        list(Agent.objects.all())
    with pytest.raises(ScopeError):
        Agent.objects.count()
    with pytest.raises(ScopeError):
        Agent.objects.filter(first_name="x").update(last_name="y")


def test_a_queryset_built_without_scope_is_filtered_by_the_scope_it_runs_in(agents, account):
    queryset = Agent.objects.all()  # built at "import time", no scope
    with account_scope(account):
        assert list(queryset) == [agents[0]]


def test_account_scope_filters_the_orm(agents, account, other_account):
    with account_scope(account):
        assert list(Agent.objects.all()) == [agents[0]]
    with account_scope(other_account):
        assert list(Agent.objects.all()) == [agents[1]]


def test_unscoped_block_sees_every_account(agents):
    with unscoped():
        assert Agent.objects.count() == 2


def test_nested_scope_restores_the_outer_one(agents, account, other_account):
    with account_scope(account):
        with account_scope(other_account):
            assert raw_count("accounts_agent") == 1
            assert Agent.objects.get() == agents[1]
        assert Agent.objects.get() == agents[0]
        with connection.cursor() as cursor:
            cursor.execute("SELECT account_id FROM accounts_agent")
            assert [row[0] for row in cursor.fetchall()] == [account.pk]


# --- Layer 3: PostgreSQL row-level security -------------------------------------------


def test_application_role_is_neither_superuser_nor_bypassrls(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, is_superuser, bypasses_rls = cursor.fetchone()
    assert user == "crm_app"
    assert not is_superuser
    assert not bypasses_rls


def current_user():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def test_setting_app_unscoped_as_the_application_role_shows_no_other_accounts_rows(agents, account):
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.unscoped', 'on', true)")
        cursor.execute("SELECT account_id FROM accounts_agent")
        assert [row[0] for row in cursor.fetchall()] == [account.pk]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.unscoped = 'on'")
        assert raw_count("accounts_agent") == 0


def test_the_application_role_cannot_truncate_a_tenant_table(agents, account):
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE accounts_agent, customers_customer CASCADE")
    with unscoped():
        assert Agent.objects.count() == 2


@pytest.mark.parametrize("role", ["crm_app", "crm_maintenance"])
def test_no_role_of_the_application_may_truncate_a_tenant_table(db, role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity "
            "AND has_table_privilege(%s, c.oid, 'TRUNCATE')",
            [role],
        )
        assert cursor.fetchall() == []


def test_unscoped_runs_as_the_maintenance_role_and_a_scope_as_the_application_role(account):
    assert current_user() == "crm_app"
    with unscoped():
        assert current_user() == "crm_maintenance"
        with account_scope(account):
            assert current_user() == "crm_app"
        assert current_user() == "crm_maintenance"
    assert current_user() == "crm_app"


def test_the_application_role_cannot_become_the_maintenance_role(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_has_role('crm_app', 'crm_maintenance', 'MEMBER')")
        assert cursor.fetchone() == (False,)


@pytest.mark.parametrize(
    ("setting", "role", "reason"),
    [
        ("DB_APP_ROLE", "crm_no_such_role", "does not exist"),
        ("DB_APP_ROLE", "postgres", "superuser"),
        ("DB_MAINTENANCE_ROLE", "crm_no_such_role", "does not exist"),
    ],
)
def test_a_connection_that_cannot_switch_to_the_application_role_refuses_to_run(
    db, settings, setting, role, reason
):
    setattr(settings, setting, role)
    fresh = connections.create_connection("default")

    with pytest.raises(ImproperlyConfigured, match=f"{setting}: role '{role}' .*{reason}"):
        fresh.ensure_connection()

    assert fresh.connection is None  # nothing can run on it afterwards


def test_raw_sql_with_no_account_set_returns_nothing(agents):
    assert raw_count("accounts_agent") == 0


def test_raw_sql_sees_only_the_scoped_account(agents, account):
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_agent")
        assert [row[0] for row in cursor.fetchall()] == [agents[0].pk]


def test_raw_sql_cannot_write_into_another_account(agents, account, other_account):
    with (
        account_scope(account),
        pytest.raises(Exception, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO accounts_agent (id, account_id, first_name, last_name, phone,"
            " email, active, created_at, updated_at) VALUES (gen_random_uuid(), %s,"
            " 'x', '', '', '', true, now(), now())",
            [other_account.pk],
        )


def test_raw_sql_cannot_update_another_accounts_rows(agents, account):
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_agent SET first_name = 'hijacked'")
        assert cursor.rowcount == 1
    with unscoped():
        assert Agent.objects.get(pk=agents[1].pk).first_name != "hijacked"


def tenant_models():
    return [m for m in apps.get_models() if is_tenant_model(m)]


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_every_tenant_table_forces_row_level_security(db, model):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
            [model._meta.db_table],
        )
        assert cursor.fetchone() == (True, True)
        cursor.execute(
            "SELECT count(*) FROM pg_policies WHERE tablename = %s AND policyname = %s",
            [model._meta.db_table, "tenant_isolation"],
        )
        assert cursor.fetchone()[0] == 1


# --- Composite foreign keys -----------------------------------------------------------


def test_every_foreign_key_between_tenant_tables_includes_the_account(db):
    expected = [
        (m._meta.db_table, column) for m in tenant_models() for column, _ in tenant_foreign_keys(m)
    ]
    with connection.cursor() as cursor:
        for table, column in expected:
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                [composite_fk_name(table, column)],
            )
            row = cursor.fetchone()
            assert row is not None, f"{table}.{column} lacks its composite foreign key"
            assert row[0].startswith(f"FOREIGN KEY (account_id, {column})")


def test_the_account_id_id_pair_is_unique_on_every_tenant_table(db):
    with connection.cursor() as cursor:
        for model in tenant_models():
            cursor.execute(
                "SELECT 1 FROM pg_constraint WHERE conname = %s",
                [f"{model._meta.db_table}_account_id_id_uniq"[:63]],
            )
            assert cursor.fetchone(), model._meta.label


# --- Layer 1: the scoped viewset ------------------------------------------------------


def test_a_viewset_cannot_replace_the_account_filter():
    with pytest.raises(TypeError, match="get_scoped_queryset"):

        class LeakyViewSet(TenantModelViewSet):
            model = Agent

            def get_queryset(self):
                return Agent.objects.all()


def test_the_api_lists_only_the_callers_account(agents, api_client, account):
    response = api_client.get("/api/v1/agents/")
    assert [row["id"] for row in response.json()["results"]] == [str(agents[0].pk)]


def test_integrity_error_in_a_scope_rolls_back_only_its_savepoint(agents, account):
    with account_scope(account):
        with pytest.raises(IntegrityError), transaction.atomic():
            Agent.objects.create(
                account=account, first_name="dup", external_id=agents[0].external_id
            )
        assert Agent.objects.count() == 1
