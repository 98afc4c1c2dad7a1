# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""The grouped applier: orders, one file line per item, lines grouped by the order's
external_id (or, for an export of orders without one, the order's id).

An order is all its lines: if one line is bad, none of the order is written and every
line of it is reported. Order-level columns may be repeated on each line or given once:
the last non-blank value wins. With items, the amount is the sum of the line totals
(unit_price x quantity x (1 - discount/100), rounded half-up to cents; a given amount
must agree); without, the amount is required. Items given replace the stored ones when
they differ. The aggregates of a customer the file adds orders to are recomputed
(orders.services.customer_aggregates_refresh) in the transaction of the chunk holding
the last of its orders, so once per import however its orders are spread; a customer an
updated order leaves, in that order's chunk. A job that stops before the end of its file
refreshes those still waiting: aggregates are exact whenever a job ends.

The counts (created, updated, skipped, failed) are orders; total_rows and
processed_rows are lines."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection

from imports import sql
from imports.engine import (
    ChunkTyping,
    Engine,
    FailedRow,
    Outcome,
    _split_reasons,
    check_foreign_keys,
    ensure_phone_rules,
    execute,
    fetchall,
    insert_new,
    joins_may_hash,
)
from imports.kinds import T

MAX_MONEY = "999999999999.99"
ORDER_FIELDS = (
    "id",
    "external_id",
    "customer",
    "customer_external_id",
    "customer_email",
    "status",
    "channel",
    "pos",
    "payment_method",
    "currency",
    "ordered_at",
    "amount",
    "loyalty_card",
    "shipping_address",
    "billing_address",
    "notes",
)
# The columns naming an order's customer, the first given winning.
CUSTOMER_REFS = ("customer", "customer_external_id", "customer_email")
ITEM_FIELDS = ("product", "sku", "name", "brand", "quantity", "unit_price", "discount_percent")
# Order columns written from the file (blank: the stored value stays; on create, the
# model's default).
WRITTEN = (
    "status",
    "channel",
    "payment_method",
    "currency",
    "loyalty_card",
    "shipping_address",
    "billing_address",
    "notes",
)


class OrdersApplier:
    def __init__(self, engine: Engine) -> None:
        from customers.models import Customer
        from orders.models import Order, OrderItem, PointOfSale, Product

        self.engine = engine
        self.kind = engine.kind
        self.job = engine.job
        self.params = engine.params
        self.orders = Order._meta.db_table
        self.items = OrderItem._meta.db_table
        self.products = Product._meta.db_table
        self.pos = PointOfSale._meta.db_table
        self.customers = Customer._meta.db_table
        self.order_model = Order

    def tables(self) -> list[str]:
        return [self.orders, self.items, self.customers]

    # -- Plan ----------------------------------------------------------------------------

    def plan(self) -> int:
        engine, header = self.engine, self.engine.header
        if any(f.type is T.PHONE for f in self.kind.fields if header.has(f.name)):
            ensure_phone_rules()
        engine.infer_date_orders(
            [f for f in self.kind.fields if header.has(f.name) and f.type in (T.DATE, T.DATETIME)]
        )
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
            engine,
            "FROM imp_line l JOIN imp_stage s ON s.rn = l.rn WHERE l.g BETWEEN %(lo)s AND %(hi)s",
            extra_columns="l.g",
        )
        execute("CREATE TEMP TABLE imp_py (field text, raw text, value text, error text)")
        execute("CREATE INDEX ON imp_py (field, raw)")
        execute(
            f"CREATE TEMP TABLE imp_oline (rn bigint PRIMARY KEY, line bigint, err text, "
            f"{self.typing.columns_sql()}, errs text[], g bigint, is_item boolean, "
            "product_id uuid, sku_final text, name_final text, brand_final text, "
            "unit_price_final numeric, quantity_final integer, discount_final numeric, "
            "line_total numeric, position integer)"
        )
        execute("CREATE INDEX ON imp_oline (g)")
        order_columns = ", ".join(
            f"v_{name} {sql.SQL_TYPES[self.kind.field(name).type]}" for name in ORDER_FIELDS
        )
        execute(
            "CREATE TEMP TABLE imp_order (g bigint PRIMARY KEY, line bigint, n_lines integer, "
            f"bad_lines bigint[], {order_columns}, n_items integer, computed numeric, "
            "errs text[], customer_id uuid, pos_id uuid, currency text, amount_final numeric, "
            "target_id uuid, matched_by text, old_customer_id uuid, old_amount numeric, "
            "has_stored_items boolean, action text, items_changed boolean, new_id uuid, "
            "number bigint)"
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
        header = self.engine.header
        refs = [name for name in CUSTOMER_REFS if header.has(name)]
        if self.job.dry_run or not refs:
            return
        # Each order's last non-blank value of each reference column, as in _orders.
        lasts = ", ".join(
            f"(array_agg({cell} ORDER BY s.rn DESC) FILTER (WHERE {cell} IS NOT NULL))[1] "
            f"AS r_{name}"
            for name in refs
            for cell in [sql.clean(f"s.c{header.fields[name].index}")]
        )
        customer = " ".join(
            f"WHEN r.r_{name} IS NOT NULL THEN {self._customer_by(name, f'r.r_{name}')}"
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

    def _customer_by(self, name: str, value: str) -> str:
        """SQL: the id of the customer that reference column `name` holding `value`
        names (NULL when none does)."""
        c = self.customers
        if name == "customer":  # its id, or its per-account number
            return (
                f"CASE WHEN {value} ~ '{sql.UUID_RE}' THEN (SELECT t.id FROM {c} t "
                f"WHERE t.account_id = %(account)s AND t.id = {value}::uuid) "
                f"WHEN {value} ~ '^[0-9]{{1,18}}$' THEN (SELECT t.id FROM {c} t "
                f"WHERE t.account_id = %(account)s AND t.number = {value}::bigint) END"
            )
        if name == "customer_external_id":
            return (
                f"(SELECT t.id FROM {c} t "
                f"WHERE t.account_id = %(account)s AND t.external_id = {value})"
            )
        return (
            f"(SELECT t.id FROM {c} t WHERE t.account_id = %(account)s "
            f"AND lower(t.email::text) = lower({value}) AND t.email::text <> '' LIMIT 1)"
        )

    def settle(self) -> None:
        """Refresh the customers still waiting for their last order (a job that
        stops before the end of its file), in the caller's transaction."""
        from orders.services import customer_aggregates_refresh

        customers = [row[0] for row in fetchall("DELETE FROM imp_deferred RETURNING customer_id")]
        if customers:
            with joins_may_hash():
                customer_aggregates_refresh(
                    account_id=self.engine.account.pk, customer_ids=customers
                )

    # -- Apply ---------------------------------------------------------------------------

    def apply(self, lo: int, hi: int) -> Outcome:
        outcome = self._apply(lo, hi)
        check_foreign_keys(self.engine)
        return outcome

    def _apply(self, lo: int, hi: int) -> Outcome:
        params = {**self.params, "lo": lo, "hi": hi, "max": MAX_MONEY}
        typing = self.typing
        execute("TRUNCATE imp_oline, imp_order")
        typing.run_python_checks(params)
        header = self.engine.header
        present = [f"c.x_{name} IS NOT NULL" for name in ITEM_FIELDS if header.has(name)]
        is_item = f"({' OR '.join(present)})" if present else "FALSE"
        execute(
            f"INSERT INTO imp_oline (rn, line, err, {typing.value_names()}, errs, g, is_item) "
            + typing.select(f"c.g, {is_item}"),
            params,
        )
        execute("ANALYZE imp_oline")
        self._lines(params)
        self._orders(params)
        execute("ANALYZE imp_order")
        self._resolve(params)
        self._match(params)
        self._classify(params)
        if not self.job.dry_run:
            self._write(params)
        else:
            self._would_write(params)
        counts = dict(fetchall("SELECT action, count(*) FROM imp_order GROUP BY action"))
        rows = int(fetchall("SELECT count(*) FROM imp_oline")[0][0])
        failures = self._failures()
        return Outcome(
            created=counts.get("created", 0) + counts.get("create", 0),
            updated=counts.get("updated", 0),
            skipped=counts.get("update", 0) + counts.get("skip", 0),
            failed=counts.get("fail", 0),
            rows=rows,
            failures=failures,
        )

    def unit_failed(self, unit: int, exc: Exception) -> Outcome:
        message = (
            "Conflict (409): this order conflicts with a record written meanwhile; import it again."
        )
        if not isinstance(exc, IntegrityError):
            message = f"This order could not be written: {str(exc).splitlines()[0]}"
        rows = fetchall(
            "SELECT s.* FROM imp_line l JOIN imp_stage s ON s.rn = l.rn WHERE l.g = %(g)s "
            "ORDER BY s.rn",
            {"g": unit},
        )
        failures = [
            FailedRow(rn=row[0], line=row[1], reasons=[(None, message)], cells=list(row[3:]))
            for row in rows
        ]
        return Outcome(rows=len(rows), failed=1, failures=failures)

    def _lines(self, params: dict[str, Any]) -> None:
        """Each item line's product (by id, else by sku), final values, line total and
        position, in one statement; then the errors of the few lines that have some."""
        product = (
            "SELECT p.id, p.sku, p.name, p.brand, p.price FROM {table} p "
            "WHERE {guard} AND p.account_id = %(account)s AND {match}"
        )
        by_id = product.format(
            table=self.products, guard="l.v_product IS NOT NULL", match="p.id = l.v_product"
        )
        by_sku = product.format(
            table=self.products,
            guard="l.v_product IS NULL AND l.v_sku IS NOT NULL",
            match="p.sku = l.v_sku",
        )
        unit = "coalesce(o.v_unit_price, x.price)"
        quantity = "coalesce(o.v_quantity, 1)"
        discount = "coalesce(o.v_discount_percent, 0)"
        execute(
            "UPDATE imp_oline o SET product_id = x.id, "
            "sku_final = coalesce(x.sku, o.v_sku, ''), name_final = coalesce(o.v_name, x.name), "
            "brand_final = coalesce(o.v_brand, x.brand, ''), "
            f"unit_price_final = {unit}, quantity_final = {quantity}, "
            f"discount_final = {discount}, "
            f"line_total = round({unit} * {quantity} * (100 - {discount}) / 100, 2), "
            "position = x.k - 1 "
            "FROM (SELECT l.rn, p.id, p.sku, p.name, p.brand, p.price, "
            "row_number() OVER (PARTITION BY l.g ORDER BY l.rn) AS k FROM imp_oline l "
            f"LEFT JOIN LATERAL ({by_id} UNION ALL {by_sku} LIMIT 1) p ON TRUE "
            "WHERE l.is_item) x WHERE o.rn = x.rn",
            params,
        )
        tab = "E'\\t'"
        missing = "(o.v_product IS NOT NULL AND o.product_id IS NULL)"
        mismatch = "(o.product_id IS NOT NULL AND o.v_sku IS NOT NULL AND o.v_sku <> o.sku_final)"
        execute(
            "UPDATE imp_oline o SET errs = o.errs "
            f"|| CASE WHEN {missing} "
            f"THEN ARRAY['product' || {tab} || 'Product not found.'] ELSE '{{}}' END "
            f"|| CASE WHEN {mismatch} "
            f"THEN ARRAY['sku' || {tab} || 'Does not match the product''s sku.'] ELSE '{{}}' END "
            f"|| CASE WHEN o.unit_price_final IS NULL AND NOT {missing} "
            f"THEN ARRAY['unit_price' || {tab} || 'A line without a known product needs a "
            "unit_price.'] ELSE '{}' END "
            f"|| CASE WHEN o.name_final IS NULL AND NOT {missing} "
            f"THEN ARRAY['name' || {tab} || 'A line without a known product needs a name.'] "
            "ELSE '{}' END "
            f"|| CASE WHEN o.line_total > %(max)s::numeric THEN ARRAY['quantity' || {tab} || "
            "'The line total would exceed ' || %(max)s || '.'] ELSE '{}' END "
            f"WHERE o.is_item AND ({missing} OR {mismatch} OR o.unit_price_final IS NULL "
            "OR o.name_final IS NULL OR o.line_total > %(max)s::numeric)",
            params,
        )

    def _orders(self, params: dict[str, Any]) -> None:
        columns = ", ".join(f"v_{name}" for name in ORDER_FIELDS)
        last = ", ".join(
            f"(array_agg(v_{name} ORDER BY rn DESC) FILTER (WHERE v_{name} IS NOT NULL))[1]"
            for name in ORDER_FIELDS
        )
        execute(
            f"INSERT INTO imp_order (g, line, n_lines, bad_lines, {columns}, n_items, computed, "
            "errs) "
            f"SELECT g, min(line), count(*), array_agg(line ORDER BY rn) FILTER (WHERE "
            f"err IS NOT NULL OR errs <> '{{}}'), {last}, count(*) FILTER (WHERE is_item), "
            "sum(line_total) FILTER (WHERE is_item), '{}'::text[] FROM imp_oline GROUP BY g",
            params,
        )

    def _add_error(self, condition: str, field_name: str, message_sql: str, params: dict) -> None:
        execute(
            f"UPDATE imp_order o SET errs = o.errs || ({sql.quote(field_name)} || E'\\t' || "
            f"{message_sql}) WHERE {condition}",
            params,
        )

    def _resolve(self, params: dict[str, Any]) -> None:
        # The first reference column given names the customer.
        given: list[str] = []
        for name in CUSTOMER_REFS:
            blank = "".join(f"o.v_{earlier} IS NULL AND " for earlier in given)
            execute(
                f"UPDATE imp_order o SET customer_id = {self._customer_by(name, f'o.v_{name}')} "
                f"WHERE {blank}o.v_{name} IS NOT NULL",
                params,
            )
            given.append(name)
        not_found = sql.quote("Customer not found.")
        for name, condition in (
            ("customer", "o.v_customer IS NOT NULL"),
            (
                "customer_external_id",
                "o.v_customer IS NULL AND o.v_customer_external_id IS NOT NULL",
            ),
            (
                "customer_email",
                "o.v_customer IS NULL AND o.v_customer_external_id IS NULL "
                "AND o.v_customer_email IS NOT NULL",
            ),
        ):
            self._add_error(f"o.customer_id IS NULL AND {condition}", name, not_found, params)
        self._add_error(
            "o.customer_id IS NULL AND o.v_customer IS NULL AND o.v_customer_external_id IS NULL "
            "AND o.v_customer_email IS NULL",
            "customer",
            sql.quote("Name the customer: customer, customer_external_id or customer_email."),
            params,
        )
        execute(
            "UPDATE imp_order o SET pos_id = coalesce("
            f"(SELECT p.id FROM {self.pos} p WHERE p.account_id = %(account)s "
            f"AND p.id = CASE WHEN o.v_pos ~ '{sql.UUID_RE}' THEN o.v_pos::uuid END), "
            f"(SELECT p.id FROM {self.pos} p WHERE p.account_id = %(account)s "
            "AND p.code = o.v_pos)) "
            "WHERE o.v_pos IS NOT NULL",
            params,
        )
        self._add_error(
            "o.v_pos IS NOT NULL AND o.pos_id IS NULL",
            "pos",
            sql.quote("Point of sale not found."),
            params,
        )
        execute("UPDATE imp_order SET currency = upper(v_currency) WHERE v_currency IS NOT NULL")
        self._add_error(
            "o.currency IS NOT NULL AND o.currency !~ '^[A-Z]{3}$'",
            "currency",
            sql.quote("Use a three-letter ISO 4217 code."),
            params,
        )
        self._add_error(
            "o.v_external_id IS NULL AND o.v_id IS NULL",
            "external_id",
            sql.quote("Each line needs the order's external_id (lines sharing it are one order)."),
            params,
        )
        self._add_error(
            "o.n_items > 0 AND o.computed > %(max)s::numeric",
            "amount",
            "'The amount would exceed ' || %(max)s || '.'",
            params,
        )
        self._add_error(
            "o.n_items > 0 AND o.v_amount IS NOT NULL AND o.computed IS NOT NULL "
            "AND o.v_amount <> o.computed",
            "amount",
            "'The amount must be the sum of the line totals, ' || o.computed || '.'",
            params,
        )

    def _match(self, params: dict[str, Any]) -> None:
        valid = "o.bad_lines IS NULL AND o.errs = '{}'"
        execute(
            f"UPDATE imp_order o SET target_id = (SELECT t.id FROM {self.orders} t "
            "WHERE t.account_id = %(account)s AND t.id = o.v_id), matched_by = 'id' "
            f"WHERE {valid} AND o.v_id IS NOT NULL",
            params,
        )
        execute(
            f"UPDATE imp_order o SET target_id = (SELECT t.id FROM {self.orders} t "
            "WHERE t.account_id = %(account)s AND t.external_id = o.v_external_id), "
            "matched_by = 'external_id' "
            f"WHERE {valid} AND o.target_id IS NULL AND o.v_external_id IS NOT NULL",
            params,
        )
        execute("UPDATE imp_order SET matched_by = NULL WHERE target_id IS NULL")
        creates = fetchall(
            f"SELECT count(*) FROM imp_order o WHERE {valid} AND o.target_id IS NULL"
        )[0][0]
        self.first_number = 0
        if creates and not self.job.dry_run:
            from accounts.services import sequence_reserve

            # Lock order: the sequence, then the order rows, then the customers.
            self.first_number = sequence_reserve(
                account_id=self.engine.account.pk, name="order", count=creates
            )
        execute(
            "UPDATE imp_order o SET old_customer_id = t.customer_id, old_amount = t.amount, "
            f"has_stored_items = (SELECT TRUE FROM {self.items} i "
            "WHERE i.account_id = %(account)s AND i.order_id = t.id LIMIT 1) IS NOT NULL "
            f"FROM {self.orders} t WHERE t.account_id = %(account)s AND t.id = o.target_id",
            params,
        )
        self._add_error(
            f"{valid} AND o.v_external_id IS NOT NULL AND (SELECT TRUE FROM {self.orders} t "
            "WHERE t.account_id = %(account)s AND t.external_id = o.v_external_id "
            "AND t.id IS DISTINCT FROM o.target_id LIMIT 1)",
            "external_id",
            sql.quote("Conflict (409): another order has this external_id."),
            params,
        )
        # Without item lines, the amount is required on create, and must keep an order
        # that has items consistent.
        self._add_error(
            f"{valid} AND o.n_items = 0 AND o.v_amount IS NULL AND o.target_id IS NULL",
            "amount",
            sql.quote("An order without items needs an amount."),
            params,
        )
        self._add_error(
            f"{valid} AND o.n_items = 0 AND o.v_amount IS NOT NULL AND o.has_stored_items "
            "AND o.v_amount <> o.old_amount",
            "amount",
            "'The amount must be the sum of the line totals, ' || o.old_amount || '.'",
            params,
        )
        execute(
            "UPDATE imp_order SET amount_final = CASE WHEN n_items > 0 THEN computed "
            "ELSE v_amount END"
        )

    def _classify(self, params: dict[str, Any]) -> None:
        execute(
            "UPDATE imp_order o SET action = CASE "
            "WHEN o.bad_lines IS NOT NULL OR o.errs <> '{}' THEN 'fail' "
            "WHEN o.target_id IS NULL THEN 'create' "
            "WHEN %(on_conflict)s = 'skip' THEN 'skip' "
            "WHEN %(on_conflict)s = 'error' THEN 'fail' ELSE 'update' END, "
            "errs = CASE WHEN o.bad_lines IS NULL AND o.errs = '{}' AND o.target_id IS NOT NULL "
            "AND %(on_conflict)s = 'error' THEN o.errs || ('' || E'\\t' || "
            "'Conflict (409): an order with this ' || o.matched_by || "
            "' exists (on_conflict=error).') ELSE o.errs END",
            {**params, "on_conflict": self.job.on_conflict},
        )
        # Whether a matched order's items would change (an order without item lines
        # keeps its items).
        execute(
            "UPDATE imp_order o SET items_changed = o.n_items > 0 AND "
            "(SELECT array_agg(ROW(i.product_id, i.sku::text, i.name::text, i.brand::text, "
            "i.quantity, i.unit_price, i.discount_percent, i.line_total) ORDER BY i.position) "
            f"FROM {self.items} i WHERE i.account_id = %(account)s AND i.order_id = o.target_id) "
            "IS DISTINCT FROM (SELECT array_agg(ROW(l.product_id, l.sku_final, l.name_final, "
            "l.brand_final, l.quantity_final, l.unit_price_final, l.discount_final, l.line_total) "
            "ORDER BY l.position) FROM imp_oline l WHERE l.g = o.g AND l.is_item) "
            "WHERE o.action = 'update'",
            params,
        )

    # -- Writing -------------------------------------------------------------------------

    def _change(self) -> tuple[str, str, str]:
        header = self.engine.header
        sets: list[tuple[str, str]] = []
        for name in WRITTEN:
            if header.has(name):
                column = self.kind.field(name).column
                value = "o.currency" if name == "currency" else f"o.v_{name}"
                sets.append((column, f"coalesce({value}, t.{column})"))  # type: ignore[arg-type]
        if header.has("external_id"):
            sets.append(("external_id", "coalesce(o.v_external_id, t.external_id)"))
        sets.append(("customer_id", "o.customer_id"))
        if header.has("pos"):
            sets.append(("pos_id", "coalesce(o.pos_id, t.pos_id)"))
        if header.has("ordered_at"):
            sets.append(("ordered_at", "coalesce(o.v_ordered_at, t.ordered_at)"))
        sets.append(("amount", "coalesce(o.amount_final, t.amount)"))
        set_sql = ", ".join(f"{column} = {value}" for column, value in sets)
        old = "ROW(" + ", ".join(f"t.{column}" for column, _ in sets) + ")"
        new = "ROW(" + ", ".join(value for _, value in sets) + ")"
        return set_sql, old, new

    def _write(self, params: dict[str, Any]) -> None:
        planned = dict(fetchall("SELECT action, count(*) FROM imp_order GROUP BY action"))
        if planned.get("create"):
            self._insert(params)
        if planned.get("update"):
            self._update(params)
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
        if customers:
            from orders.services import customer_aggregates_refresh

            # The refresh aggregates a chunk's customers' orders: let it hash.
            with joins_may_hash():
                customer_aggregates_refresh(
                    account_id=self.engine.account.pk, customer_ids=customers
                )

    def _update(self, params: dict[str, Any]) -> None:
        set_sql, old, new = self._change()
        # Lock the orders that will change, in id order (after the sequence, before the
        # customers: the orders app's lock order); unchanged orders stay unlocked.
        locked = execute(
            f"SELECT 1 FROM {self.orders} WHERE account_id = %(account)s AND id = ANY(ARRAY("
            f"SELECT t.id FROM imp_order o JOIN {self.orders} t ON t.account_id = %(account)s "
            f"AND t.id = o.target_id WHERE o.action = 'update' "
            f"AND ({old} IS DISTINCT FROM {new} OR o.items_changed))) ORDER BY id FOR UPDATE",
            params,
        )
        if not locked:  # nothing would change (a file imported again)
            return
        # The customer each order leaves, read again now that it is locked: its
        # aggregates are refreshed too.
        execute(
            f"UPDATE imp_order o SET old_customer_id = t.customer_id FROM {self.orders} t "
            "WHERE o.action = 'update' AND t.account_id = %(account)s AND t.id = o.target_id",
            params,
        )
        execute(
            f"WITH upd AS (UPDATE {self.orders} t SET {set_sql}, updated_at = now() "
            "FROM imp_order o WHERE o.action = 'update' AND t.account_id = %(account)s "
            f"AND t.id = o.target_id AND ({old} IS DISTINCT FROM {new} OR o.items_changed) "
            "RETURNING o.g) UPDATE imp_order o SET action = 'updated' FROM upd WHERE o.g = upd.g",
            params,
        )
        execute(
            f"DELETE FROM {self.items} i USING imp_order o WHERE o.action = 'updated' "
            "AND o.items_changed AND i.account_id = %(account)s AND i.order_id = o.target_id",
            params,
        )
        self._insert_items("o.action = 'updated' AND o.items_changed", "o.target_id", params)

    def _insert(self, params: dict[str, Any]) -> None:
        execute(
            "UPDATE imp_order o SET new_id = crm_uuid7(), number = %(first)s + r.k - 1 "
            "FROM (SELECT g, row_number() OVER (ORDER BY g) AS k FROM imp_order "
            "WHERE action = 'create') r WHERE o.g = r.g",
            {**params, "first": self.first_number},
        )
        order = self.order_model
        columns: list[str] = []
        values: list[str] = []
        extra: dict[str, Any] = {}
        given = {
            "id": "o.new_id",
            "account_id": "%(account)s::uuid",
            "number": "o.number",
            "external_id": "o.v_external_id",
            "customer_id": "o.customer_id",
            "pos_id": "o.pos_id",
            "ordered_at": "coalesce(o.v_ordered_at, now())",
            "amount": "o.amount_final",
            "currency": "o.currency",
        }
        for name in WRITTEN:
            if name != "currency":
                given[self.kind.field(name).column] = f"o.v_{name}"  # type: ignore[index]
        for model_field in order._meta.concrete_fields:
            column = str(model_field.column)
            columns.append(column)
            if getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            ):
                values.append("now()")
                continue
            default = f"%(d_{column})s::{model_field.db_type(connection)}"
            extra[f"d_{column}"] = model_field.get_default()
            if column in given:
                values.append(
                    given[column]
                    if column in ("id", "account_id", "number")
                    else f"coalesce({given[column]}, {default})"
                )
            else:
                values.append(default)
        insert_new(
            f"INSERT INTO {self.orders} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM imp_order o WHERE o.action = 'create' ORDER BY o.g",
            "UPDATE imp_order o SET action = 'created' FROM ins WHERE o.new_id = ins.id",
            {**params, **extra},
        )
        execute(
            "UPDATE imp_order o SET action = 'fail', errs = o.errs || ('' || E'\\t' || "
            "'Conflict (409): another order has this external_id (written meanwhile).') "
            "WHERE o.action = 'create'"
        )
        self._insert_items("o.action = 'created'", "o.new_id", params)

    def _insert_items(self, condition: str, order_id: str, params: dict[str, Any]) -> None:
        execute(
            f"INSERT INTO {self.items} (id, account_id, order_id, product_id, sku, name, brand, "
            "quantity, unit_price, discount_percent, line_total, position) "
            f"SELECT crm_uuid7(), %(account)s::uuid, {order_id}, l.product_id, l.sku_final, "
            "l.name_final, l.brand_final, l.quantity_final, l.unit_price_final, l.discount_final, "
            "l.line_total, l.position FROM imp_order o JOIN imp_oline l ON l.g = o.g "
            f"WHERE {condition} AND l.is_item ORDER BY l.g, l.position",
            params,
        )

    def _would_write(self, params: dict[str, Any]) -> None:
        _set_sql, old, new = self._change()
        execute(
            f"UPDATE imp_order o SET action = 'updated' FROM {self.orders} t "
            "WHERE o.action = 'update' AND t.account_id = %(account)s AND t.id = o.target_id "
            f"AND ({old} IS DISTINCT FROM {new} OR o.items_changed)",
            params,
        )

    def _failures(self) -> list[FailedRow]:
        width = len(self.engine.fmt.header)
        cells = ", ".join(f"s.c{i}" for i in range(width))
        rows = fetchall(
            f"SELECT l.rn, l.line, l.err, l.errs, o.errs, o.bad_lines, o.v_external_id, {cells} "
            "FROM imp_order o JOIN imp_oline l ON l.g = o.g JOIN imp_stage s ON s.rn = l.rn "
            "WHERE o.action = 'fail' ORDER BY l.rn"
        )
        failures = []
        for row in rows:
            rn, line, err, line_errs, order_errs, bad_lines, external_id = row[:7]
            reasons = _split_reasons(line_errs, err)
            reasons += _split_reasons(order_errs, None)
            if not reasons:
                others = ", ".join(str(n) for n in (bad_lines or []))
                reasons = [
                    (
                        None,
                        f"Order {external_id or ''} is not imported: its line(s) {others} "
                        "have errors.".replace("Order  ", "The order "),
                    )
                ]
            failures.append(FailedRow(rn=rn, line=line, reasons=reasons, cells=list(row[7:])))
        return failures
