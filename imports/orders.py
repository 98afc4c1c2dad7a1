# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""The grouped applier: orders, one file line per item, lines grouped by the order's
external_id (or, for an export of orders without one, the order's id). The orders
app's rules, and the SQL that writes orders, are in orders.import_sql (the kind's
`writes`); this module runs them chunk by chunk.

An order is all its lines: if one line is bad, none of the order is written and every
line of it is reported. Order-level columns may be repeated on each line or given once:
the last non-blank value wins. The aggregates of a customer the file adds orders to are
recomputed (orders.services.customer_aggregates_refresh) in the transaction of the chunk
holding the last of its orders, so once per import however its orders are spread; a
customer an updated order leaves, in that order's chunk. A job that stops before the
end of its file refreshes those still waiting: aggregates are exact whenever a job ends.

The counts (created, updated, skipped, failed) are orders; total_rows and
processed_rows are lines."""

from __future__ import annotations

from typing import Any

from accounts.services import sequence_reserve
from imports import sql
from imports.applier import conflict_failures, insert_new, joins_may_hash, unit_failure_message
from imports.report import FailedRow, Outcome, split_reasons
from imports.sql import execute, fetchall
from imports.staging import ChunkTyping, Staged
from orders.services import customer_aggregates_refresh, orders_loyalty_follow


class OrdersApplier:
    def __init__(self, staged: Staged) -> None:
        self.staged = staged
        self.kind = staged.kind
        self.job = staged.job
        self.header = staged.header
        # The orders app's rules and writes (orders.import_sql), from the kind.
        self.writes: Any = staged.kind.writes
        self.params = {**staged.params, **self.writes.params()}
        self.given = set(self.header.fields)

    def tables(self) -> list[str]:
        return [self.writes.ORDERS, self.writes.ITEMS, self.writes.CUSTOMERS]

    # -- Plan ----------------------------------------------------------------------------

    def plan(self) -> int:
        header = self.header
        parts = []
        if header.has("external_id"):
            parts.append(sql.clean(f"s.c{header.fields['external_id'].index}"))
        if header.has("id"):
            parts.append(f"'id:' || lower({sql.clean(f's.c{header.fields["id"].index}')})")
        parts.append("'line:' || s.rn")
        key = f"coalesce({', '.join(parts)})"
        execute("SET LOCAL work_mem = '64MB'")
        execute(
            "CREATE TEMP TABLE imp_group AS SELECT k, row_number() OVER (ORDER BY min(rn)) AS g "
            f"FROM (SELECT s.rn, {key} AS k FROM imp_stage s) q GROUP BY k"
        )
        execute("CREATE UNIQUE INDEX ON imp_group (k)")
        execute(
            "CREATE TEMP TABLE imp_line AS SELECT s.rn, g.g FROM imp_stage s "
            f"JOIN imp_group g ON g.k = {key}"
        )
        execute("CREATE INDEX ON imp_line (g)")
        execute("ANALYZE imp_group")
        execute("ANALYZE imp_line")
        self.typing = ChunkTyping(
            self.staged,
            "FROM imp_line l JOIN imp_stage s ON s.rn = l.rn WHERE l.g BETWEEN %(lo)s AND %(hi)s",
            extra_columns="l.g",
        )
        execute(
            f"CREATE TEMP TABLE imp_oline (rn bigint PRIMARY KEY, line bigint, err text, "
            f"{self.typing.columns_sql()}, errs text[], g bigint, is_item boolean, "
            "product_id uuid, sku_final text, name_final text, brand_final text, "
            "unit_price_final numeric, quantity_final integer, discount_final numeric, "
            "line_total numeric, position integer)"
        )
        execute("CREATE INDEX ON imp_oline (g)")
        execute(
            self.writes.order_table_sql(
                ", ".join(
                    f"v_{name} {sql.SQL_TYPES[self.kind.field(name).type]}"
                    for name in self.writes.ORDER_FIELDS
                )
            )
        )
        execute("CREATE INDEX ON imp_order (new_id)")
        self._plan_settling()
        return int(fetchall("SELECT count(*) FROM imp_group")[0][0])

    def _plan_settling(self) -> None:
        """When each customer's aggregates are refreshed. A customer whose orders are
        spread over the file is refreshed once, in the chunk holding the last order
        that names it, rather than in every chunk that writes one of its orders:
        imp_settle maps each customer the file names (resolved here from the raw
        cells, as the chunks will) to its last order. Customers a chunk wrote orders
        for wait in imp_deferred until then; a customer the plan did not resolve is
        refreshed in the chunk that writes its order; a job that stops early refreshes
        whoever still waits (`settle()`)."""
        execute("CREATE TEMP TABLE imp_settle (customer_id uuid PRIMARY KEY, last_g bigint)")
        execute("CREATE INDEX ON imp_settle (last_g)")
        execute("CREATE TEMP TABLE imp_deferred (customer_id uuid PRIMARY KEY, due_g bigint)")
        execute("CREATE INDEX ON imp_deferred (due_g)")
        header = self.header
        refs = [name for name in self.writes.CUSTOMER_REFS if header.has(name)]
        if self.job.dry_run or not refs:
            return
        # Each order's last non-blank value of each reference column, as the chunks
        # group them.
        lasts = ", ".join(
            f"(array_agg({cell} ORDER BY s.rn DESC) FILTER (WHERE {cell} IS NOT NULL))[1] "
            f"AS r_{name}"
            for name in refs
            for cell in [sql.clean(f"s.c{header.fields[name].index}")]
        )
        customer = " ".join(
            f"WHEN r.r_{name} IS NOT NULL THEN {self.writes.customer_by(name, f'r.r_{name}')}"
            for name in refs
        )
        columns = ", ".join(f"r_{name}" for name in refs)
        # Each distinct reference is looked up once, however many orders name it.
        execute(
            "INSERT INTO imp_settle (customer_id, last_g) SELECT customer_id, max(last_g) "
            f"FROM (SELECT CASE {customer} END AS customer_id, r.last_g FROM ("
            f"SELECT {columns}, max(g) AS last_g FROM (SELECT l.g, {lasts} "
            "FROM imp_line l JOIN imp_stage s ON s.rn = l.rn GROUP BY l.g) o "
            f"GROUP BY {columns}) r) q "
            "WHERE customer_id IS NOT NULL GROUP BY customer_id",
            self.params,
        )
        execute("ANALYZE imp_settle")

    def settle(self) -> None:
        """Refresh the customers still waiting for their last order (a job that
        stops before the end of its file), in the caller's transaction."""
        customers = [row[0] for row in fetchall("DELETE FROM imp_deferred RETURNING customer_id")]
        self._refresh(customers)

    def _refresh(self, customers: list[Any]) -> None:
        if customers:
            # The refresh aggregates the customers' orders: let it hash.
            with joins_may_hash():
                customer_aggregates_refresh(
                    account_id=self.params["account"], customer_ids=customers
                )

    # -- Apply ---------------------------------------------------------------------------

    def apply(self, lo: int, hi: int) -> Outcome:
        params = {**self.params, "lo": lo, "hi": hi, "on_conflict": self.job.on_conflict}
        typing = self.typing
        execute("TRUNCATE imp_oline, imp_order")
        typing.run_python_checks(params)
        present = [
            f"c.x_{name} IS NOT NULL" for name in self.writes.ITEM_FIELDS if self.header.has(name)
        ]
        is_item = f"({' OR '.join(present)})" if present else "FALSE"
        execute(
            f"INSERT INTO imp_oline (rn, line, err, {typing.value_names()}, errs, g, is_item) "
            + typing.select(f"c.g, {is_item}"),
            params,
        )
        execute("ANALYZE imp_oline")
        self._run(self.writes.price_lines(), params)
        execute(self.writes.group_orders(), params)
        execute("ANALYZE imp_order")
        self._run(self.writes.resolve(), params)
        self._run(self.writes.match(), params)
        creates = fetchall(self.writes.CREATES)[0][0]
        first_number = 0
        if creates and not self.job.dry_run:
            # Lock order: the sequence, then the order rows, then the customers.
            first_number = sequence_reserve(
                account_id=self.params["account"], name="order", count=creates
            )
        self._run(self.writes.check_matched(), params)
        self._run(self.writes.classify(), params)
        if self.job.dry_run:
            execute(self.writes.would_update(self.given), params)
        else:
            self._write({**params, "first": first_number})
        counts = dict(fetchall("SELECT action, count(*) FROM imp_order GROUP BY action"))
        rows = int(fetchall("SELECT count(*) FROM imp_oline")[0][0])
        return Outcome(
            created=counts.get("created", 0) + counts.get("create", 0),
            updated=counts.get("updated", 0),
            skipped=counts.get("update", 0) + counts.get("skip", 0),
            failed=counts.get("fail", 0),
            rows=rows,
            failures=self._failures(),
        )

    @staticmethod
    def _run(statements: list[str], params: dict[str, Any]) -> None:
        for statement in statements:
            execute(statement, params)

    def unit_failed(self, unit: int, exc: Exception) -> Outcome:
        rows = fetchall(
            "SELECT s.* FROM imp_line l JOIN imp_stage s ON s.rn = l.rn WHERE l.g = %(g)s "
            "ORDER BY s.rn",
            {"g": unit},
        )
        failures = conflict_failures(rows, unit_failure_message("order", exc))
        return Outcome(rows=len(rows), failed=1, failures=failures)

    # -- Writing -------------------------------------------------------------------------

    def _write(self, params: dict[str, Any]) -> None:
        planned = dict(fetchall("SELECT action, count(*) FROM imp_order GROUP BY action"))
        if planned.get("create"):
            execute(self.writes.NUMBER_NEW, params)
            insert, then, defaults = self.writes.insert_orders()
            insert_new(insert, then, {**params, **defaults})
            execute(self.writes.NOT_INSERTED)
            execute(self.writes.INSERT_CREATED_ITEMS, params)
        if planned.get("update"):
            lock, *writes = self.writes.update(self.given)
            if execute(lock, params):  # else nothing would change (a file imported again)
                self._run(writes, params)
        # Loyalty follows the chunk's orders, set-based (earn once, reverse).
        written = fetchall(
            "SELECT coalesce(new_id, target_id) FROM imp_order "
            "WHERE action IN ('created', 'updated')"
        )
        orders_loyalty_follow(account=self.job.account, order_ids=[row[0] for row in written])
        # Customers this chunk wrote orders for wait until the chunk holding the last
        # order naming them (see _plan_settling); one an order left, now.
        execute(
            "INSERT INTO imp_deferred (customer_id, due_g) SELECT DISTINCT o.customer_id, "
            "coalesce(s.last_g, 0) FROM imp_order o "
            "LEFT JOIN imp_settle s ON s.customer_id = o.customer_id "
            "WHERE o.action IN ('created', 'updated') AND o.customer_id IS NOT NULL "
            "ON CONFLICT DO NOTHING"
        )
        customers = [
            row[0]
            for row in fetchall(
                "WITH due AS (DELETE FROM imp_deferred WHERE due_g <= %(hi)s "
                "RETURNING customer_id) SELECT customer_id FROM due "
                # After a resume, customers whose earlier orders an earlier run wrote.
                "UNION SELECT customer_id FROM imp_settle WHERE last_g BETWEEN %(lo)s AND %(hi)s "
                "UNION SELECT old_customer_id FROM imp_order WHERE action = 'updated'",
                params,
            )
            if row[0] is not None
        ]
        self._refresh(customers)

    def _failures(self) -> list[FailedRow]:
        cells = self.staged.cells_sql()
        rows = fetchall(
            f"SELECT l.rn, l.line, l.err, l.errs, o.errs, o.bad_lines, o.v_external_id, {cells} "
            "FROM imp_order o JOIN imp_oline l ON l.g = o.g JOIN imp_stage s ON s.rn = l.rn "
            "WHERE o.action = 'fail' ORDER BY l.rn"
        )
        failures = []
        for row in rows:
            rn, line, err, line_errs, order_errs, bad_lines, external_id = row[:7]
            reasons = split_reasons(line_errs, err) + split_reasons(order_errs, None)
            if not reasons:
                others = ", ".join(str(n) for n in (bad_lines or []))
                order = f"Order {external_id}" if external_id else "The order"
                reasons = [(None, f"{order} is not imported: its line(s) {others} have errors.")]
            failures.append(FailedRow(rn=rn, line=line, reasons=reasons, cells=list(row[7:])))
        return failures
