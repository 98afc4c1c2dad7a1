"""Migration operations that put a tenant table under PostgreSQL's protection.

`EnforceTenancy("customer")` in an app's migration:
- enables and forces row-level security with the `tenant_isolation` policy, so even
  the table's owner sees only the rows of `app.account_id`, and every row only when the
  current role is the maintenance role (`settings.DB_MAINTENANCE_ROLE`, which
  `unscoped()` switches to): no setting the application role can change opens them;
- adds `UNIQUE (account_id, id)`, the target of composite foreign keys;
- for every foreign key of the model to another tenant model, adds
  `FOREIGN KEY (account_id, <fk>_id) REFERENCES <target> (account_id, id)`, so a row
  can never point into another account.
It is idempotent: run it again after adding a foreign key to an existing model.
`tests/crm_project/test_tenancy.py` checks that every tenant model is covered.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

POLICY = "tenant_isolation"


def policy_predicate() -> str:
    """The rows a role may see and write: the account in scope's, or all of them for
    the maintenance role (a plain identifier, checked by settings).

    Each side is a sub-select, so PostgreSQL computes it once per statement (an
    InitPlan) and compares a parameter on each row: written as plain expressions,
    `current_setting(...)::uuid` was evaluated for every row read, and a count of a
    million rows took 2.5 times as long."""
    return (
        f"((SELECT current_user) = '{settings.DB_MAINTENANCE_ROLE}' "
        "OR account_id = (SELECT NULLIF(current_setting('app.account_id', true), '')::uuid))"
    )


def create_tenant_policy(schema_editor: Any, table: str) -> None:
    qt = schema_editor.quote_name(table)
    predicate = policy_predicate()
    schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {qt}")
    schema_editor.execute(
        f"CREATE POLICY {POLICY} ON {qt} USING {predicate} WITH CHECK {predicate}"
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
        create_tenant_policy(schema_editor, table)
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


CREATE_ROLE_SQL = """
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
  RAISE WARNING 'cannot create or join role {role}: the application will refuse to '
    'start until an administrator creates it and grants it to %', current_user;
END
$$;
"""


def create_app_role(apps: Any, schema_editor: Any) -> None:
    """Create the application and maintenance roles (cluster-wide, kept if they exist)
    and let the migrating role switch to them."""
    for role in (settings.DB_APP_ROLE, settings.DB_MAINTENANCE_ROLE):
        if role:
            schema_editor.execute(CREATE_ROLE_SQL.format(role=role), params=None)


def recreate_tenant_policies(apps: Any, schema_editor: Any) -> None:
    """The current policy on every tenant table of the migration state."""
    for model in apps.get_models():
        if is_tenant_model(model) and not model._meta.abstract:
            create_tenant_policy(schema_editor, model._meta.db_table)


def grant_app_role(connection: Any) -> None:
    """Give the application and maintenance roles what they need on every table and
    sequence, and nothing more (no TRUNCATE: it ignores row-level security); called
    after each migrate so new tables are covered."""
    roles = [role for role in (settings.DB_APP_ROLE, settings.DB_MAINTENANCE_ROLE) if role]
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [roles])
        existing = ", ".join(f'"{name}"' for (name,) in cursor.fetchall())
        if not existing:
            return
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {existing}")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES "
            f"ON ALL TABLES IN SCHEMA public TO {existing}"
        )
        cursor.execute(f"REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM {existing}")
        cursor.execute(
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {existing}"
        )


# The counters are written at commit, not when the rows are: a statement's triggers
# note its delta in `crm_project_rowcount_pending`, and a deferred constraint trigger
# folds each pending delta into the account's counter row as the transaction commits.
# The counter row is then locked for the commit only, never across a transaction (a
# 1,000-row bulk call would otherwise hold back every create of the account until it
# ends). A reader adds the pending deltas it can see: its own (crm_project.api.
# pagination.row_count).
COUNT_FUNCTION_SQL = """
CREATE TABLE IF NOT EXISTS crm_project_rowcount_pending (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id uuid NOT NULL,
  name varchar(63) NOT NULL,
  delta bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS crm_project_rowcount_pending_name
  ON crm_project_rowcount_pending (account_id, name);

CREATE OR REPLACE FUNCTION crm_count_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO crm_project_rowcount_pending (account_id, name, delta)
  SELECT account_id, TG_ARGV[0],
         CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed GROUP BY account_id;
  RETURN NULL;
END
$$;

-- Run at commit, whatever account the transaction's scope names by then: the counter
-- is written in the pending delta's own account (row-level security), and the scope
-- put back. The delta of an account deleted in the same transaction (its rows went
-- with it) is dropped: there is nothing left to count.
CREATE OR REPLACE FUNCTION crm_count_rows_settle() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  scope text := current_setting('app.account_id', true);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM accounts_account WHERE id = NEW.account_id) THEN
    DELETE FROM crm_project_rowcount_pending WHERE id = NEW.id;
    RETURN NULL;
  END IF;
  PERFORM set_config('app.account_id', NEW.account_id::text, true);
  INSERT INTO crm_project_rowcount (id, account_id, name, count)
  VALUES (gen_random_uuid(), NEW.account_id, NEW.name, NEW.delta)
  ON CONFLICT (account_id, name) DO UPDATE
    SET count = crm_project_rowcount.count + EXCLUDED.count;
  PERFORM set_config('app.account_id', coalesce(scope, ''), true);
  DELETE FROM crm_project_rowcount_pending WHERE id = NEW.id;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS crm_project_rowcount_pending_settle ON crm_project_rowcount_pending;
CREATE CONSTRAINT TRIGGER crm_project_rowcount_pending_settle
  AFTER INSERT ON crm_project_rowcount_pending
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION crm_count_rows_settle();
"""


def install_row_counting(apps: Any, schema_editor: Any) -> None:
    """The counting functions as COUNT_FUNCTION_SQL has them now."""
    schema_editor.execute(COUNT_FUNCTION_SQL, params=None)


# Counts per value of one column (`<prefix><value>`), through the same pending deltas:
# inserts and deletes add their rows' values, an update the rows whose value changed
# (its old and new transition tables joined by id).
COUNT_BY_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION crm_count_rows_by() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format(
      'INSERT INTO crm_project_rowcount_pending (account_id, name, delta)
       SELECT account_id, %1$L || %2$I, count(*) FROM new_rows GROUP BY 1, 2',
      TG_ARGV[0], TG_ARGV[1]);
  ELSIF TG_OP = 'DELETE' THEN
    EXECUTE format(
      'INSERT INTO crm_project_rowcount_pending (account_id, name, delta)
       SELECT account_id, %1$L || %2$I, -count(*) FROM old_rows GROUP BY 1, 2',
      TG_ARGV[0], TG_ARGV[1]);
  ELSE
    EXECUTE format(
      'INSERT INTO crm_project_rowcount_pending (account_id, name, delta)
       SELECT account_id, name, sum(delta) FROM (
         SELECT o.account_id, %1$L || o.%2$I AS name, -1 AS delta
           FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE o.%2$I IS DISTINCT FROM n.%2$I
         UNION ALL
         SELECT n.account_id, %1$L || n.%2$I, 1
           FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE o.%2$I IS DISTINCT FROM n.%2$I
       ) changed GROUP BY 1, 2 HAVING sum(delta) <> 0',
      TG_ARGV[0], TG_ARGV[1]);
  END IF;
  RETURN NULL;
END
$$;
"""


class CountRowsBy(migrations.operations.base.Operation):
    """Keep `crm_project.RowCount(name=<prefix><value>)` equal to the number of the
    model's rows per account with each value of `column` (a pipeline's columns): three
    statement-level triggers with transition tables, counts settled at commit like
    CountRows', and the current counts written once now."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, prefix: str, column: str) -> None:
        self.model_name = model_name
        self.prefix = prefix
        self.column = column

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _trigger(self, table: str, event: str) -> str:
        return f"{table}_count_{self.column}_{event.lower()}"[:63]

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        qt = schema_editor.quote_name(table)
        column = schema_editor.quote_name(self.column)
        schema_editor.execute(COUNT_FUNCTION_SQL, params=None)
        schema_editor.execute(COUNT_BY_FUNCTION_SQL, params=None)
        transitions = {
            "INSERT": "NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }
        for event, transition in transitions.items():
            name = schema_editor.quote_name(self._trigger(table, event))
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {qt}")
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {qt} "
                f"REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION crm_count_rows_by('{self.prefix}', '{self.column}')"
            )
        schema_editor.execute(
            "DELETE FROM crm_project_rowcount WHERE name LIKE %s", params=[f"{self.prefix}%"]
        )
        schema_editor.execute(
            "INSERT INTO crm_project_rowcount (id, account_id, name, count) "
            f"SELECT gen_random_uuid(), account_id, %s || {column}, count(*) FROM {qt} "
            "GROUP BY 2, 3",
            params=[self.prefix],
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        qt = schema_editor.quote_name(table)
        for event in ("INSERT", "DELETE", "UPDATE"):
            name = schema_editor.quote_name(self._trigger(table, event))
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {qt}")
        schema_editor.execute(
            "DELETE FROM crm_project_rowcount WHERE name LIKE %s", params=[f"{self.prefix}%"]
        )

    def describe(self) -> str:
        return f"Count rows of {self.model_name} per account and {self.column}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "prefix": self.prefix, "column": self.column},
        )


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
            "INSERT INTO crm_project_rowcount (id, account_id, name, count) "
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


class RollupTriggers:
    """The statement-level triggers that keep a report rollup (crm_project.rollups) of
    `source`: each insert, delete (and, with `changed`, each update of those columns)
    appends its net change to `rollup`, grouped by the account and `group` (column:
    SQL expression over the source row `r`), summing `sums` (column: expression, its
    sign applied), for the rows of `joins` and `where`. `operations()` creates them and
    fills the rollup from the rows there are; `append()` is the SQL of one change, for a
    migration's own functions."""

    def __init__(
        self,
        *,
        name: str,
        source: str,
        rollup: str,
        group: dict[str, str],
        sums: dict[str, str],
        joins: str = "",
        where: str = "true",
        changed: tuple[str, ...] = (),
    ) -> None:
        self.name, self.source, self.rollup = name, source, rollup
        self.group, self.sums = group, sums
        self.joins, self.where, self.changed = joins, where, changed

    def _contributions(self, sign: int, rows: str, where: str = "") -> str:
        columns = [f"{expression} AS {column}" for column, expression in self.group.items()]
        columns += [
            f"{sign} * ({expression}) AS {column}" for column, expression in self.sums.items()
        ]
        return (
            f"SELECT r.account_id, {', '.join(columns)} FROM {rows} r {self.joins} "
            f"WHERE ({self.where}) {f'AND ({where})' if where else ''}"
        )

    def _append(self, contributions: str) -> str:
        group = ", ".join(self.group)
        return (
            f"INSERT INTO {self.rollup} (id, account_id, {group}, {', '.join(self.sums)}) "
            f"SELECT crm_uuid7(), account_id, {group}, "
            f"{', '.join(f'sum({column})' for column in self.sums)} "
            f"FROM ({contributions}) c GROUP BY account_id, {group} "
            f"HAVING {' OR '.join(f'sum({column}) <> 0' for column in self.sums)}"
        )

    def append(self, rows: str, *, where: str = "") -> str:
        return self._append(self._contributions(1, rows, where))

    def _changed(self, side: str) -> str:
        old = ", ".join(f"o.{column}" for column in ("account_id", *self.changed))
        new = ", ".join(f"n.{column}" for column in ("account_id", *self.changed))
        return (
            f"(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.id = o.id "
            f"WHERE ({old}) IS DISTINCT FROM ({new}))"
        )

    def operations(self) -> list[migrations.RunSQL]:
        function, source = self.name, self.source
        update = ""
        if self.changed:
            update = (
                "ELSE "
                + self._append(
                    self._contributions(1, self._changed("n"))
                    + " UNION ALL "
                    + self._contributions(-1, self._changed("o"))
                )
                + ";"
            )
        create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {self._append(self._contributions(1, "new_rows"))};
  ELSIF TG_OP = 'DELETE' THEN {self._append(self._contributions(-1, "old_rows"))};
  {update}
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER {function}_insert AFTER INSERT ON {source}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {function}_delete AFTER DELETE ON {source}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""
        if self.changed:
            create += f"""
CREATE TRIGGER {function}_update AFTER UPDATE ON {source}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""
        drop = f"""
DROP TRIGGER IF EXISTS {function}_insert ON {source};
DROP TRIGGER IF EXISTS {function}_delete ON {source};
DROP TRIGGER IF EXISTS {function}_update ON {source};
DROP FUNCTION IF EXISTS {function}();
"""
        # The fill checks its rows' foreign keys at once (and so does the rest of the
        # migration, its own transaction): a deferred check left pending would refuse
        # the ALTER TABLE that adds the rollup's own foreign keys at the migration's
        # end. The fill and the triggers must share a transaction, or a write between
        # them would count twice.
        fill = f"SET CONSTRAINTS ALL IMMEDIATE; {self.append(source)}"
        return [
            migrations.RunSQL(create, drop),
            migrations.RunSQL(fill, migrations.RunSQL.noop),
        ]


def rollup_cascade(
    rollup: str, *, column: str = "account_id", to: str = "accounts_account"
) -> migrations.RunSQL:
    """A rollup's rows go with their account (or with the row of `to` that `column`
    names) in the database (ON DELETE CASCADE): deleting an account deletes its source
    rows, whose trigger appends the rollup's last rows after Django deleted the others.
    In a migration after the one creating the rollup's table (Django adds its foreign
    key at that migration's end)."""
    constraint = f"{rollup}_{column.removesuffix('_id')}_cascade"
    return migrations.RunSQL(
        f"""
DO $$
DECLARE
  name text;
BEGIN
  SELECT conname INTO name FROM pg_constraint
   WHERE conrelid = '{rollup}'::regclass AND contype = 'f'
     AND confrelid = '{to}'::regclass;
  EXECUTE format('ALTER TABLE {rollup} DROP CONSTRAINT %I', name);
  ALTER TABLE {rollup} ADD CONSTRAINT {constraint}
    FOREIGN KEY ({column}) REFERENCES {to} (id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
END
$$;
""",
        migrations.RunSQL.noop,
    )


def on_timezone_change(name: str, body: str) -> migrations.RunSQL:
    """A trigger running `body` (plpgsql statements; NEW is the account) when an
    account's timezone changes, in that account's scope whatever the caller's (a
    platform admin's update has none), which is given back after."""
    return migrations.RunSQL(
        f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  scope text := current_setting('app.account_id', true);
BEGIN
  PERFORM set_config('app.account_id', NEW.id::text, true);
  {body}
  PERFORM set_config('app.account_id', coalesce(scope, ''), true);
  RETURN NULL;
END
$$;
CREATE TRIGGER {name} AFTER UPDATE OF timezone ON accounts_account
  FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
  EXECUTE FUNCTION {name}();
""",
        f"DROP TRIGGER IF EXISTS {name} ON accounts_account; DROP FUNCTION IF EXISTS {name}();",
    )
