# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""Appliers: what writes a chunk of staged rows to the kind's tables.

An applier plans once over the whole staged file (duplicates, groups: `plan()`, which
answers how many units, rows or orders, the file has), then applies units `lo..hi`
as one chunk (`apply()`) inside the chunk's transaction: typed and validated in SQL
(imports.staging), matched against stored records by the kind's keys, written with
`INSERT` and `UPDATE ... WHERE (old) IS DISTINCT FROM (new)`: a row that would change
nothing is `skipped`. The rules a kind's own app enforces come from that app, through
the kind's declaration (customers.import_sql, orders.import_sql).

The flat applier here serves kinds where one row is one record (customers, products);
orders have their own (imports.orders)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.contrib.postgres.fields import ArrayField
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField

from accounts.services import sequence_reserve
from imports import sql
from imports.kinds import Field, T
from imports.report import FailedRow, Outcome, split_reasons
from imports.sql import execute, fetchall, ident, literal
from imports.staging import ChunkTyping, Staged


class Applier(Protocol):
    def __init__(self, staged: Staged) -> None: ...

    def tables(self) -> list[str]:
        """The tables it writes (analyzed after a big import)."""
        ...

    def plan(self) -> int:
        """Plan over the staged file; the number of units (rows, or orders)."""
        ...

    def apply(self, lo: int, hi: int) -> Outcome:
        """Write units lo..hi, in the caller's transaction."""
        ...

    def unit_failed(self, unit: int, exc: Exception) -> Outcome:
        """The outcome of a unit that still fails on its own."""
        ...

    def settle(self) -> None:
        """What waits for the end of the job (or of its run), in the caller's
        transaction."""
        ...


@contextmanager
def joins_may_hash() -> Iterator[None]:
    """Chunks run with hash and merge joins off (their statements probe big tables by
    key, whatever the statistics say); a statement aggregating many rows runs inside
    this block with them back on."""
    execute("SET LOCAL enable_hashjoin = on")
    execute("SET LOCAL enable_mergejoin = on")
    try:
        yield
    finally:
        execute("SET LOCAL enable_hashjoin = off")
        execute("SET LOCAL enable_mergejoin = off")


def insert_new(insert: str, then: str, params: dict[str, Any]) -> None:
    """`WITH ins AS (<insert> RETURNING id) <then>` for rows the checks found new.
    A plain INSERT first: `ON CONFLICT DO NOTHING` would probe every unique index for
    every row before writing it. Only when a key was taken meanwhile (a concurrent
    writer, or an id of another account's record, which row-level security hid from
    the checks) does it fail; it then runs again skipping the rows whose keys are
    taken, and `then` sees only the rows written."""
    try:
        with transaction.atomic():
            execute(f"WITH ins AS ({insert} RETURNING id) {then}", params)
    except IntegrityError:
        execute(f"WITH ins AS ({insert} ON CONFLICT DO NOTHING RETURNING id) {then}", params)


def check_foreign_keys() -> float:
    """Deferred foreign keys checked now, inside the chunk's savepoint, rather than at
    commit: a violation fails this chunk's rows, not the job. The seconds it took."""
    started = time.monotonic()
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    return time.monotonic() - started


def conflict_failures(rows: list[tuple], message: str) -> list[FailedRow]:
    """Failed rows, from staged rows (`rn, line, err, c0, ...`), for one reason."""
    return [
        FailedRow(rn=row[0], line=row[1], reasons=[(None, message)], cells=list(row[3:]))
        for row in rows
    ]


def unit_failure_message(noun: str, exc: Exception) -> str:
    if isinstance(exc, IntegrityError):
        return (
            f"Conflict (409): this {noun} conflicts with a record written meanwhile; "
            "import it again."
        )
    return f"This {noun} could not be written: {str(exc).splitlines()[0]}"


CHUNK_FILLFACTOR = 30


class FlatApplier:
    """Customers, products (and leads): a row creates or updates one record, matched by
    the kind's keys in order (customers: id, external_id, email)."""

    def __init__(self, staged: Staged) -> None:
        self.staged = staged
        self.kind = staged.kind
        self.job = staged.job
        self.header = staged.header
        self.table = ident(self.kind.model._meta.db_table)
        self.params = staged.params

    def tables(self) -> list[str]:
        return [self.table]

    # -- Plan ----------------------------------------------------------------------------

    def plan(self) -> int:
        self.typing = ChunkTyping(
            self.staged, "FROM imp_stage s WHERE s.rn BETWEEN %(lo)s AND %(hi)s"
        )
        # Every row of a chunk is updated two or three times (matched, classified,
        # written): room on its page makes those updates HOT (no new index entries),
        # ~3x cheaper than with full pages.
        execute(
            f"CREATE TEMP TABLE imp_chunk (rn bigint PRIMARY KEY, line bigint, err text, "
            f"{self.typing.columns_sql()}, errs text[], dup_line bigint, dup_key text, "
            "target_id uuid, matched_by text, action text, new_id uuid, number bigint) "
            f"WITH (fillfactor = {CHUNK_FILLFACTOR})"
        )
        execute("CREATE INDEX ON imp_chunk (new_id)")
        execute("CREATE TEMP TABLE imp_match (rn bigint PRIMARY KEY, id uuid)")
        self._plan_duplicates()
        return int(fetchall("SELECT count(*) FROM imp_stage")[0][0])

    def _dedup_keys(self) -> list[tuple[str, str, str | None]]:
        """(label, SQL over `s`, SQL of its `distinct_by` field or None) of each key
        value a row carries."""
        header = self.header
        keys = []
        names = [(k.field, k.label, k.distinct_by) for k in self.kind.keys]
        if self.kind.create_id_field:
            names.append((self.kind.create_id_field, self.kind.create_id_field, None))
        for field_name, label, distinct_by in names:
            if not header.has(field_name):
                continue
            f = self.kind.field(field_name)
            x = sql.clean(f"s.c{header.fields[field_name].index}")
            if f.type in (T.EMAIL, T.UUID):
                x = f"lower({x})"
            d = None
            if distinct_by and header.has(distinct_by):
                d = sql.clean(f"s.c{header.fields[distinct_by].index}")
            keys.append((label, x, d))
        return keys

    def _plan_duplicates(self) -> None:
        """imp_dup: rows a later row of the file shares a key with. The later line wins;
        the earlier is reported. Found by hashing, then ordering only the repeats. For
        a key with `distinct_by`, two rows that both give that field are not one record:
        a row giving it is superseded only by a later row that does not."""
        keys = self._dedup_keys()
        execute("CREATE TEMP TABLE imp_dup (rn bigint PRIMARY KEY, later_line bigint, key text)")
        if not keys:
            return
        execute("SET LOCAL work_mem = '64MB'")
        parts = []
        for label, x, d in keys:
            window = "PARTITION BY k ORDER BY rn"
            later = f"lead(line) OVER ({window})"
            if d is not None:
                later = (
                    f"CASE WHEN d IS NULL THEN {later} ELSE min(CASE WHEN d IS NULL THEN line END) "
                    f"OVER ({window} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) END"
                )
            parts.append(
                f"SELECT rn, {literal(label)} AS key, {later} AS later_line FROM ("
                f"SELECT s.rn, s.line, {x} AS k, {d or 'NULL'} AS d "
                "FROM imp_stage s WHERE s.err IS NULL) q "
                f"WHERE k IN (SELECT {x} FROM imp_stage s WHERE s.err IS NULL "
                f"GROUP BY 1 HAVING count(*) > 1)"
            )
        execute(
            "INSERT INTO imp_dup (rn, later_line, key) "
            "SELECT rn, min(later_line), (array_agg(key ORDER BY later_line))[1] FROM ("
            + " UNION ALL ".join(parts)
            + ") d WHERE later_line IS NOT NULL GROUP BY rn",
            self.params,
        )
        execute("ANALYZE imp_dup")

    # -- Apply ---------------------------------------------------------------------------

    def apply(self, lo: int, hi: int) -> Outcome:
        params = {**self.params, "lo": lo, "hi": hi}
        typing = self.typing
        execute("TRUNCATE imp_chunk")
        typing.run_python_checks(params)
        execute(
            f"INSERT INTO imp_chunk (rn, line, err, {typing.value_names()}, errs, dup_line, "
            "dup_key, new_id) "
            + typing.select(
                f"d.later_line, d.key, {self._new_id()}", "LEFT JOIN imp_dup d ON d.rn = c.rn"
            ),
            params,
        )
        for statement in self.kind.derive:
            execute(statement, params)
        self._match(params)
        self._classify(params)
        outcome = Outcome(rows=hi - lo + 1)
        planned = dict(fetchall("SELECT action, count(*) FROM imp_chunk GROUP BY action"))
        if not self.job.dry_run:
            if planned.get("create"):
                self._insert(params, planned["create"])
            if planned.get("update"):
                self._update(params)
        elif planned.get("update"):
            self._would_write(params)
        counts = dict(fetchall("SELECT action, count(*) FROM imp_chunk GROUP BY action"))
        outcome.created = counts.get("created", 0) + counts.get("create", 0)
        outcome.updated = counts.get("updated", 0)
        outcome.skipped = counts.get("update", 0) + counts.get("skip", 0)
        outcome.failures = self._failures()
        outcome.failed = len(outcome.failures)
        return outcome

    def settle(self) -> None:
        """Nothing waits for the end of a job: a row writes one record."""

    def unit_failed(self, unit: int, exc: Exception) -> Outcome:
        """A row that still fails on its own (a concurrent writer holds its key)."""
        rows = fetchall("SELECT * FROM imp_stage WHERE rn = %(rn)s", {"rn": unit})
        failures = conflict_failures(rows, unit_failure_message("row", exc))
        return Outcome(rows=1, failed=len(failures), failures=failures)

    VALID = "ch.err IS NULL AND ch.dup_line IS NULL AND ch.errs = '{}'"

    def _new_id(self) -> str:
        """SQL: the id a row would create its record with (its create-id field's value,
        seed 001's IdClient, else a new UUID)."""
        create_id = self.kind.create_id_field
        if create_id and self.header.has(create_id):
            f = self.kind.field(create_id)
            typed = sql.typed(f, f"c.x_{create_id}")
            return f"coalesce({typed.value}, crm_uuid7())"
        return "crm_uuid7()"

    def _match(self, params: dict[str, Any]) -> None:
        kind, header = self.kind, self.header
        valid = self.VALID
        match_keys = [k for k in kind.keys if k.match and header.has(k.field)]
        for key in match_keys:
            value = key.value_expr
            # A scalar subquery per row probes the key's index; only the rows it finds
            # are written (into imp_match, then imp_chunk by its primary key).
            order = f"ORDER BY {key.order} " if key.order else ""
            execute("TRUNCATE imp_match")
            execute(
                f"INSERT INTO imp_match (rn, id) SELECT m.rn, m.id FROM (SELECT ch.rn, "
                f"(SELECT t.id FROM {self.table} t WHERE t.account_id = %(account)s "
                f"AND {key.table_expr} = {value} AND {key.guard} {order}LIMIT 1) AS id "
                f"FROM imp_chunk ch WHERE ch.target_id IS NULL AND {valid} AND {value} IS NOT NULL "
                "OFFSET 0) m "
                "WHERE m.id IS NOT NULL",
                params,
            )
            if not key.unique:
                # A record several rows found (or one an earlier key matched already)
                # goes to the first row only: the others match nothing by this key.
                with joins_may_hash():
                    execute(
                        "DELETE FROM imp_match m USING (SELECT q.rn FROM (SELECT mm.rn, mm.id, "
                        "row_number() OVER (PARTITION BY mm.id ORDER BY mm.rn) AS k "
                        "FROM imp_match mm) q WHERE q.k > 1 OR q.id IN (SELECT ch.target_id "
                        "FROM imp_chunk ch WHERE ch.target_id IS NOT NULL)) d WHERE d.rn = m.rn"
                    )
            execute(
                f"UPDATE imp_chunk ch SET target_id = m.id, matched_by = {literal(key.label)} "
                "FROM imp_match m WHERE ch.rn = m.rn"
            )
        noun = kind.noun
        # A key the row gives that another record holds: 409. A row matched by a match
        # key was probed (and not found) on every earlier one, and an unmatched row on
        # all of them: only later keys (and keys that are not match keys) need a probe.
        labels = [k.label for k in match_keys]
        for key in kind.keys:
            if not header.has(key.field) or key.field == "id" or not key.unique:
                continue
            if key.label in labels:
                earlier = labels[: labels.index(key.label)]
                if not earlier:
                    continue
                scope = f"ch.matched_by IN ({', '.join(literal(label) for label in earlier)})"
            else:
                scope = "TRUE"
            message = literal(f"Conflict (409): another {noun} has this {key.label}.")
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || "
                f"({literal(key.field)} || E'\\t' || {message}) "
                f"WHERE {valid} AND {scope} AND {key.value_expr} IS NOT NULL "
                f"AND (SELECT TRUE FROM {self.table} t "
                f"WHERE t.account_id = %(account)s AND {key.table_expr} = {key.value_expr} "
                f"AND {key.guard} AND t.id IS DISTINCT FROM ch.target_id LIMIT 1)",
                params,
            )
        # A record found by a later key must not lose the value of an earlier one
        # (the bulk API's rule: an email whose customer has another external_id).
        for position, key in enumerate(match_keys):
            if not key.keep_on_later_match:
                continue
            later = [k.label for k in match_keys[position + 1 :]]
            if not later:
                continue
            column = key.table_expr
            message = literal(
                f"Conflict (409): the {noun} this row matches has another {key.label}: "
            )
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || ({literal(key.field)} || E'\\t' || "
                f"{message} || {column}) FROM {self.table} t "
                f"WHERE {valid} AND t.account_id = %(account)s AND t.id = ch.target_id "
                f"AND ch.matched_by IN ({', '.join(literal(label) for label in later)}) "
                f"AND {column} IS NOT NULL AND {key.value_expr} IS NOT NULL "
                f"AND {column} <> {key.value_expr}",
                params,
            )
        create_id = kind.create_id_field
        if create_id and header.has(create_id):
            message = literal(f"Conflict (409): another {noun} has this id.")
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || "
                f"({literal(create_id)} || E'\\t' || {message}) "
                f"WHERE {valid} AND ch.v_{create_id} IS NOT NULL "
                f"AND ch.v_{create_id} IS DISTINCT FROM ch.target_id AND (ch.target_id IS NOT NULL "
                f"OR (SELECT TRUE FROM {self.table} t WHERE t.account_id = %(account)s "
                f"AND t.id = ch.v_{create_id}) IS NOT NULL)",
                params,
            )

    def _classify(self, params: dict[str, Any]) -> None:
        on_conflict = self.job.on_conflict
        noun = self.kind.noun
        checks = self.kind.checks
        if checks:
            # One pass: a row reports the first check it fails (it is then no longer
            # valid: the later checks are not asked).
            first_failed = " ".join(
                f"WHEN NOT ({condition}) THEN "
                f"({literal(field_name)} || E'\\t' || {literal(message)})"
                for condition, message, field_name in checks
            )
            every = " AND ".join(f"({condition})" for condition, _m, _f in checks)
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || (CASE {first_failed} END) "
                f"WHERE {self.VALID} AND NOT ({every})",
                params,
            )
        exists = literal(f"Conflict (409): a {noun} with this key exists (on_conflict=error): ")
        execute(
            "UPDATE imp_chunk ch SET action = CASE "
            f"WHEN NOT ({self.VALID}) THEN 'fail' "
            "WHEN ch.target_id IS NULL THEN 'create' "
            f"WHEN %(on_conflict)s = 'skip' THEN 'skip' "
            f"WHEN %(on_conflict)s = 'error' THEN 'fail' ELSE 'update' END, "
            # A superseded row is reported as such unless it has errors of its own.
            "errs = CASE WHEN ch.dup_line IS NOT NULL AND ch.err IS NULL AND ch.errs = '{}' "
            "THEN ch.errs || ('' || E'\\t' || 'Line ' "
            "|| ch.dup_line || ' has the same ' || ch.dup_key || ': the later line wins.') "
            f"WHEN {self.VALID} AND ch.target_id IS NOT NULL AND %(on_conflict)s = 'error' "
            f"THEN ch.errs || ('' || E'\\t' || {exists} || ch.matched_by) ELSE ch.errs END",
            {**params, "on_conflict": on_conflict},
        )
        # Every check a row fails is reported, in order (a row to create has no errors
        # before), in one pass.
        create_checks = self.kind.create_checks
        if create_checks:
            failed = ", ".join(
                f"CASE WHEN NOT ({condition}) THEN "
                f"({literal(named[0] if named else '')} || E'\\t' || {literal(message)}) END"
                for condition, message, *named in create_checks
            )
            every = " AND ".join(f"({condition})" for condition, *_rest in create_checks)
            execute(
                f"UPDATE imp_chunk ch SET action = 'fail', "
                f"errs = ch.errs || array_remove(ARRAY[{failed}]::text[], NULL) "
                f"WHERE ch.action = 'create' AND NOT ({every})",
                params,
            )

    # -- Writing -------------------------------------------------------------------------

    def _written_fields(self) -> list[Field]:
        header = self.header
        derived = self.kind.derived_from
        written = []
        for f in self.kind.fields:
            if f.ignored or f.column is None:
                continue
            source = derived.get(f.name)
            if header.has(f.name) or (source and header.has(source)):
                written.append(f)
        return written

    def _new_value(self, f: Field, *, update: bool) -> str:
        v = f"ch.v_{f.name}"
        current = f"t.{f.column}"
        if f.type is T.TAGS:
            v = f"{v}::varchar({f.max_length or 100})[]"
        if f.column == self.kind.metadata_column:
            base = f"coalesce({v}, {current})" if update else f"coalesce({v}, '{{}}'::jsonb)"
            return f"({base} || coalesce(ch.v__extra, '{{}}'::jsonb))"
        if update:
            return f"coalesce({v}, {current})"
        return v

    def _insert(self, params: dict[str, Any], count: int) -> None:
        kind = self.kind
        first = 0
        if kind.sequence:
            first = sequence_reserve(
                account_id=self.params["account"], name=kind.sequence, count=count
            )
        columns, values, defaults = self._insert_columns()
        insert_new(
            f"INSERT INTO {self.table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM imp_chunk ch WHERE ch.action = 'create' "
            "ORDER BY ch.rn",
            "UPDATE imp_chunk ch SET action = 'created' FROM ins WHERE ch.new_id = ins.id",
            {**params, **defaults, "first": first},
        )
        taken = (
            f"Conflict (409): another {kind.noun} has one of its keys "
            "(written meanwhile, or an id taken)."
        )
        # Not inserted: a key taken meanwhile by a concurrent writer, or an id another
        # account's record has (row-level security hides it from the checks above).
        execute(
            "UPDATE imp_chunk ch SET action = 'fail', errs = ch.errs || ('' || E'\\t' || "
            f"{literal(taken)}) "
            "WHERE ch.action = 'create'"
        )

    def _insert_columns(self) -> tuple[list[str], list[str], dict[str, Any]]:
        written = {f.column: f for f in self._written_fields()}
        columns: list[str] = []
        values: list[str] = []
        extra: dict[str, Any] = {}
        for model_field in self.kind.model._meta.concrete_fields:
            column = str(model_field.column)
            columns.append(column)
            if column == "id":
                values.append("ch.new_id")
            elif column == "account_id":
                values.append("%(account)s::uuid")
            elif column == "number" and self.kind.sequence:
                values.append("%(first)s + row_number() OVER (ORDER BY ch.rn) - 1")
            elif getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            ):
                values.append("now()")
            else:
                default = model_field.get_default()
                db_type = model_field.db_type(connection)
                name = f"d_{column}"
                if isinstance(model_field, JSONField):
                    extra[name] = json.dumps(default if default is not None else {})
                elif isinstance(model_field, ArrayField):
                    extra[name] = list(default or [])
                else:
                    extra[name] = default
                default_sql = f"%({name})s::{db_type}"
                f = written.get(column)
                if f is None and column == self.kind.metadata_column:
                    values.append(f"({default_sql} || coalesce(ch.v__extra, '{{}}'::jsonb))")
                elif f is None:
                    values.append(default_sql)
                else:
                    values.append(f"coalesce({self._new_value(f, update=False)}, {default_sql})")
        return columns, values, extra

    def _change(self) -> tuple[str, str, str] | None:
        """(SET list, old row, new row) of an update; None when the file gives no
        column to update."""
        written = self._written_fields()
        metadata = self.kind.metadata_column
        if metadata and self.header.unknown and metadata not in {f.column for f in written}:
            sets = [(metadata, f"(t.{metadata} || coalesce(ch.v__extra, '{{}}'::jsonb))")]
        else:
            sets = []
        sets += [(str(f.column), self._new_value(f, update=True)) for f in written]
        if not sets:
            return None
        set_sql = ", ".join(f"{column} = {value}" for column, value in sets)
        old = ", ".join(f"t.{column}" for column, _ in sets)
        new = ", ".join(value for _, value in sets)
        touch = [
            f.column for f in self.kind.model._meta.concrete_fields if getattr(f, "auto_now", False)
        ]
        if touch:
            set_sql += ", " + ", ".join(f"{column} = now()" for column in touch)
        return set_sql, f"ROW({old})", f"ROW({new})"

    def _update(self, params: dict[str, Any]) -> None:
        change = self._change()
        if change is None:
            return
        set_sql, old, new = change
        # Lock the records that will change, in id order as every writer does (so no
        # deadlock); a record that would not change is neither locked nor written, and
        # the UPDATE re-checks each locked row against its latest version.
        locked = execute(
            f"SELECT 1 FROM {self.table} WHERE account_id = %(account)s AND id = ANY(ARRAY("
            f"SELECT t.id FROM imp_chunk ch JOIN {self.table} t ON t.account_id = %(account)s "
            f"AND t.id = ch.target_id WHERE ch.action = 'update' AND {old} IS DISTINCT FROM {new}"
            ")) ORDER BY id FOR UPDATE",
            params,
        )
        if not locked:  # nothing would change (a file imported again)
            return
        execute(
            f"WITH upd AS (UPDATE {self.table} t SET {set_sql} FROM imp_chunk ch "
            f"WHERE ch.action = 'update' AND t.account_id = %(account)s AND t.id = ch.target_id "
            f"AND {old} IS DISTINCT FROM {new} RETURNING ch.rn) "
            "UPDATE imp_chunk ch SET action = 'updated' FROM upd WHERE ch.rn = upd.rn",
            params,
        )

    def _would_write(self, params: dict[str, Any]) -> None:
        change = self._change()
        if change is None:
            return
        _set_sql, old, new = change
        execute(
            f"UPDATE imp_chunk ch SET action = 'updated' FROM {self.table} t "
            f"WHERE ch.action = 'update' AND t.account_id = %(account)s AND t.id = ch.target_id "
            f"AND {old} IS DISTINCT FROM {new}",
            params,
        )

    def _failures(self) -> list[FailedRow]:
        cells = self.staged.cells_sql()
        rows = fetchall(
            f"SELECT ch.rn, ch.line, ch.err, ch.errs, {cells} FROM imp_chunk ch "
            "JOIN imp_stage s ON s.rn = ch.rn WHERE ch.action = 'fail' ORDER BY ch.rn"
        )
        return [
            FailedRow(
                rn=row[0], line=row[1], reasons=split_reasons(row[3], row[2]), cells=list(row[4:])
            )
            for row in rows
        ]
