"""Migration operations that put a tenant table under PostgreSQL's protection.

`EnforceTenancy("customer")` in an app's migration:
- enables and forces row-level security with the `tenant_isolation` policy, so even
  the table's owner sees only the rows of `app.account_id` (or all rows inside an
  explicit `unscoped()` block, `app.unscoped = 'on'`);
- adds `UNIQUE (account_id, id)`, the target of composite foreign keys;
- for every foreign key of the model to another tenant model, adds
  `FOREIGN KEY (account_id, <fk>_id) REFERENCES <target> (account_id, id)`, so a row
  can never point into another account.
It is idempotent: run it again after adding a foreign key to an existing model.
`tests/test_tenancy.py` checks that every tenant model is covered.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

POLICY = "tenant_isolation"
POLICY_PREDICATE = (
    "(current_setting('app.unscoped', true) = 'on' "
    "OR account_id = NULLIF(current_setting('app.account_id', true), '')::uuid)"
)


def is_tenant_model(model: Any) -> bool:
    field_names = {f.name for f in model._meta.concrete_fields}
    return "account" in field_names and model._meta.label_lower != "accounts.account"


def unique_constraint_name(table: str) -> str:
    return f"{table}_account_id_id_uniq"[:63]


def composite_fk_name(table: str, column: str) -> str:
    return f"{table}_{column}_same_account"[:63]


def _constraint_exists(schema_editor: Any, name: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
        return cursor.fetchone() is not None


def ensure_account_id_unique(schema_editor: Any, table: str) -> None:
    name = unique_constraint_name(table)
    if not _constraint_exists(schema_editor, name):
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} "
            f"ADD CONSTRAINT {schema_editor.quote_name(name)} UNIQUE (account_id, id)"
        )


def tenant_foreign_keys(model: Any) -> list[tuple[str, Any]]:
    """(column, target model) of each foreign key to another tenant model."""
    keys = []
    for field in model._meta.concrete_fields:
        if not field.is_relation or field.name == "account":
            continue
        target = field.related_model
        if is_tenant_model(target):
            keys.append((field.column, target))
    return keys


class EnforceTenancy(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        qt = schema_editor.quote_name(table)
        schema_editor.execute(f"ALTER TABLE {qt} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {qt} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {qt}")
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON {qt} USING {POLICY_PREDICATE} WITH CHECK {POLICY_PREDICATE}"
        )
        ensure_account_id_unique(schema_editor, table)
        for column, target in tenant_foreign_keys(model):
            target_table = target._meta.db_table
            ensure_account_id_unique(schema_editor, target_table)
            name = composite_fk_name(table, column)
            if _constraint_exists(schema_editor, name):
                continue
            schema_editor.execute(
                f"ALTER TABLE {qt} ADD CONSTRAINT {schema_editor.quote_name(name)} "
                f"FOREIGN KEY (account_id, {schema_editor.quote_name(column)}) "
                f"REFERENCES {schema_editor.quote_name(target_table)} (account_id, id) "
                "DEFERRABLE INITIALLY DEFERRED"
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        qt = schema_editor.quote_name(table)
        for column, _target in tenant_foreign_keys(model):
            name = schema_editor.quote_name(composite_fk_name(table, column))
            schema_editor.execute(f"ALTER TABLE {qt} DROP CONSTRAINT IF EXISTS {name}")
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {qt}")
        schema_editor.execute(f"ALTER TABLE {qt} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {qt} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enforce tenancy (RLS, composite foreign keys) on {self.model_name}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"model_name": self.model_name})


CREATE_APP_ROLE_SQL = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    BEGIN
      CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object THEN NULL;
    END;
  END IF;
  IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', '{role}', current_user);
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'cannot create or join role {role}: the app will run as %', current_user;
END
$$;
"""


def create_app_role(apps: Any, schema_editor: Any) -> None:
    from django.conf import settings

    if settings.DB_APP_ROLE:
        schema_editor.execute(CREATE_APP_ROLE_SQL.format(role=settings.DB_APP_ROLE), params=None)


def grant_app_role(connection: Any) -> None:
    """Give the application role what it needs on every table and sequence; called
    after each migrate so new tables are covered."""
    from django.conf import settings

    role = settings.DB_APP_ROLE
    if not role:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        cursor.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES "
            f'ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
        cursor.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


COUNT_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION crm_count_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO crm_project_rowcount (id, account_id, name, count)
  SELECT gen_random_uuid(), account_id, TG_ARGV[0],
         CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed GROUP BY account_id
  ON CONFLICT (account_id, name) DO UPDATE
    SET count = crm_project_rowcount.count + EXCLUDED.count;
  RETURN NULL;
END
$$;
"""


class CountRows(migrations.operations.base.Operation):
    """Keep `crm_project.RowCount(name=counter)` equal to the number of the model's rows
    per account: statement-level AFTER INSERT / AFTER DELETE triggers with transition
    tables (one counter update per statement, whatever its size), and the current
    counts written once now."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, counter: str) -> None:
        self.model_name = model_name
        self.counter = counter

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        qt = schema_editor.quote_name(model._meta.db_table)
        schema_editor.execute(COUNT_FUNCTION_SQL, params=None)
        for event, transition in (("INSERT", "NEW"), ("DELETE", "OLD")):
            name = schema_editor.quote_name(f"{model._meta.db_table}_count_{event.lower()}"[:63])
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {qt}")
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {qt} "
                f"REFERENCING {transition} TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION crm_count_rows('{self.counter}')"
            )
        schema_editor.execute(
            "DELETE FROM crm_project_rowcount WHERE name = %s", params=[self.counter]
        )
        schema_editor.execute(
            "INSERT INTO crm_project_rowcount (id, account_id, name, count) "  # noqa: S608
            f"SELECT gen_random_uuid(), account_id, %s, count(*) FROM {qt} GROUP BY account_id",
            params=[self.counter],
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        qt = schema_editor.quote_name(model._meta.db_table)
        for event in ("insert", "delete"):
            name = schema_editor.quote_name(f"{model._meta.db_table}_count_{event}"[:63])
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {qt}")
        schema_editor.execute(
            "DELETE FROM crm_project_rowcount WHERE name = %s", params=[self.counter]
        )

    def describe(self) -> str:
        return f"Count rows of {self.model_name} per account as {self.counter!r}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "counter": self.counter},
        )


class MarkLeakproof(migrations.operations.base.Operation):
    """Mark built-in functions LEAKPROOF so that conditions using them can use indexes
    on tables under row-level security (PostgreSQL evaluates a non-leakproof condition
    only after the policy, hence never through an index). Only for functions whose
    errors cannot depend on the values they compare. Needs a superuser: without one it
    warns and queries stay correct, only slower. Database-wide, and not restored by
    pg_dump; reversing it leaves the flags in place."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, functions: list[str], purpose: str) -> None:
        self.functions = functions
        self.purpose = purpose

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        statements = "\n  ".join(f"ALTER FUNCTION {name} LEAKPROOF;" for name in self.functions)
        purpose = self.purpose.replace("'", "''")
        schema_editor.execute(
            f"""
DO $$
BEGIN
  {statements}
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'cannot mark functions LEAKPROOF (needs a superuser): % will not use '
    'indexes under row-level security', '{purpose}';
END
$$;
""",
            params=None,
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass

    def describe(self) -> str:
        return f"Mark {len(self.functions)} functions LEAKPROOF ({self.purpose})"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"functions": self.functions, "purpose": self.purpose},
        )
