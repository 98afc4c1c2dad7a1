# ruff: noqa: S608  (SQL over this app's tables and the engine's chunk tables; values
# are passed as parameters)
"""The set-based SQL the import engine (imports/, the `orders` kind) writes orders with:
thousands of orders per statement, by the rules orders/services.py applies to one
order at a time. A change to a rule there is made here too.

- Items are priced as `_price_items` prices them: a product named by id, else by
  sku, fills what the line leaves blank (sku, name, brand, unit price); a line
  without a known product needs a unit_price and a name; `line_total` is unit price x
  quantity x (1 - discount/100), rounded half-up to cents (`line_total`); no line
  total or amount above MAX_MONEY.
- An order's amount is the sum of its line totals, and a given amount must agree
  (`_check_amount`); without items an amount is required to create, and must keep an
  order that has items consistent.
- An order is found as `order_upsert` finds it: by id, else by external_id; another
  order's external_id is a 409.
- Writes are `order_create` / `order_update`'s: new orders numbered from the account's
  sequence; given fields change, blank ones keep the stored value; items given replace
  the stored ones only when they differ (`_item_key`); the lock order (the sequence,
  then orders in id order, then customers); and every customer an order was written
  for, or left, has its aggregates refreshed (`customer_aggregates_refresh`, called by
  the engine).
- A product is created only with a name (`product_create`).

The statements work over the engine's chunk tables, whose columns are the contract:
`imp_oline`, one row per file line (`rn`, `line`, `err`, typed values `v_<field>`,
`errs` as `field<TAB>message` entries, `g` its order's group, `is_item`), and
`imp_order`, one row per order (created by `order_table_sql`). They take named
parameters: `account`, `lo` / `hi` (the chunk's groups), `max`, `on_conflict`."""

from typing import Any

from django.db import connection

from customers.models import Customer
from orders.models import Order, OrderItem, PointOfSale, Product
from orders.services import MAX_MONEY, ORDER_INPUT_FIELDS

# The typed columns of an order's lines: the fields a write takes, and the other ways
# an import row names the order and its customer.
ORDER_FIELDS = ("id", "customer_external_id", "customer_email", *ORDER_INPUT_FIELDS)
# The columns naming an order's customer, the first given winning.
CUSTOMER_REFS = ("customer", "customer_external_id", "customer_email")
ITEM_FIELDS = ("product", "sku", "name", "brand", "quantity", "unit_price", "discount_percent")
# Order columns written as the file gives them (blank: the stored value stays; on
# create, the model's default).
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
UUID_RE = (
    "^\\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\\}?$"
)

ORDERS = Order._meta.db_table
ITEMS = OrderItem._meta.db_table
PRODUCTS = Product._meta.db_table
POS = PointOfSale._meta.db_table
CUSTOMERS = Customer._meta.db_table
TAB = "E'\\t'"
VALID = "o.bad_lines IS NULL AND o.errs = '{}'"


def params() -> dict[str, Any]:
    return {"max": str(MAX_MONEY)}


def order_table_sql(order_columns: str) -> str:
    """imp_order: one row per order of a chunk, with the order-level values
    (`order_columns`: `v_<field> <type>` of ORDER_FIELDS) and what the checks find."""
    return (
        "CREATE TEMP TABLE imp_order (g bigint PRIMARY KEY, line bigint, n_lines integer, "
        f"bad_lines bigint[], {order_columns}, n_items integer, computed numeric, "
        "errs text[], customer_id uuid, pos_id uuid, currency text, amount_final numeric, "
        "target_id uuid, matched_by text, old_customer_id uuid, old_amount numeric, "
        "has_stored_items boolean, action text, items_changed boolean, new_id uuid, "
        "number bigint)"
    )


def add_error(condition: str, field_name: str, message_sql: str) -> str:
    """The statement adding `field_name`'s error to the orders matching `condition`."""
    return (
        f"UPDATE imp_order o SET errs = o.errs || ('{field_name}' || {TAB} || "
        f"{message_sql}) WHERE {condition}"
    )


def customer_by(name: str, value: str) -> str:
    """SQL: the id of the customer that reference column `name` holding `value` names
    (NULL when none does): `customer` by id or number, `customer_external_id`,
    `customer_email` case-insensitively."""
    if name == "customer":
        return (
            f"CASE WHEN {value} ~ '{UUID_RE}' THEN (SELECT t.id FROM {CUSTOMERS} t "
            f"WHERE t.account_id = %(account)s AND t.id = {value}::uuid) "
            f"WHEN {value} ~ '^[0-9]{{1,18}}$' THEN (SELECT t.id FROM {CUSTOMERS} t "
            f"WHERE t.account_id = %(account)s AND t.number = {value}::bigint) END"
        )
    if name == "customer_external_id":
        return (
            f"(SELECT t.id FROM {CUSTOMERS} t "
            f"WHERE t.account_id = %(account)s AND t.external_id = {value})"
        )
    return (
        f"(SELECT t.id FROM {CUSTOMERS} t WHERE t.account_id = %(account)s "
        f"AND lower(t.email::text) = lower({value}) AND t.email::text <> '' LIMIT 1)"
    )


# --- Items ------------------------------------------------------------------------------


def price_lines() -> list[str]:
    """Each item line's product (by id, else by sku), final values, line total and
    position, in one statement; then the errors of the few lines that have some."""
    product = (
        "SELECT p.id, p.sku, p.name, p.brand, p.price FROM {table} p "
        "WHERE {guard} AND p.account_id = %(account)s AND {match}"
    )
    by_id = product.format(
        table=PRODUCTS, guard="l.v_product IS NOT NULL", match="p.id = l.v_product"
    )
    by_sku = product.format(
        table=PRODUCTS, guard="l.v_product IS NULL AND l.v_sku IS NOT NULL", match="p.sku = l.v_sku"
    )
    unit = "coalesce(o.v_unit_price, x.price)"
    quantity = "coalesce(o.v_quantity, 1)"
    discount = "coalesce(o.v_discount_percent, 0)"
    missing = "(o.v_product IS NOT NULL AND o.product_id IS NULL)"
    mismatch = "(o.product_id IS NOT NULL AND o.v_sku IS NOT NULL AND o.v_sku <> o.sku_final)"
    return [
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
        "UPDATE imp_oline o SET errs = o.errs "
        f"|| CASE WHEN {missing} "
        f"THEN ARRAY['product' || {TAB} || 'Product not found.'] ELSE '{{}}' END "
        f"|| CASE WHEN {mismatch} "
        f"THEN ARRAY['sku' || {TAB} || 'Does not match the product''s sku.'] ELSE '{{}}' END "
        f"|| CASE WHEN o.unit_price_final IS NULL AND NOT {missing} "
        f"THEN ARRAY['unit_price' || {TAB} || 'A line without a known product needs a "
        "unit_price.'] ELSE '{}' END "
        f"|| CASE WHEN o.name_final IS NULL AND NOT {missing} "
        f"THEN ARRAY['name' || {TAB} || 'A line without a known product needs a name.'] "
        "ELSE '{}' END "
        f"|| CASE WHEN o.line_total > %(max)s::numeric THEN ARRAY['quantity' || {TAB} || "
        "'The line total would exceed ' || %(max)s || '.'] ELSE '{}' END "
        f"WHERE o.is_item AND ({missing} OR {mismatch} OR o.unit_price_final IS NULL "
        "OR o.name_final IS NULL OR o.line_total > %(max)s::numeric)",
    ]


# --- Orders -----------------------------------------------------------------------------


def group_orders() -> str:
    """An order per group of lines: the last non-blank value of each order column
    wins; `computed` is the sum of the line totals."""
    columns = ", ".join(f"v_{name}" for name in ORDER_FIELDS)
    last = ", ".join(
        f"(array_agg(v_{name} ORDER BY rn DESC) FILTER (WHERE v_{name} IS NOT NULL))[1]"
        for name in ORDER_FIELDS
    )
    return (
        f"INSERT INTO imp_order (g, line, n_lines, bad_lines, {columns}, n_items, computed, "
        "errs) "
        f"SELECT g, min(line), count(*), array_agg(line ORDER BY rn) FILTER (WHERE "
        f"err IS NOT NULL OR errs <> '{{}}'), {last}, count(*) FILTER (WHERE is_item), "
        "sum(line_total) FILTER (WHERE is_item), '{}'::text[] FROM imp_oline GROUP BY g"
    )


def resolve() -> list[str]:
    """The customer (the first reference column given names it), the point of sale,
    the currency; and the order-level checks."""
    statements = []
    given: list[str] = []
    for name in CUSTOMER_REFS:
        blank = "".join(f"o.v_{earlier} IS NULL AND " for earlier in given)
        statements.append(
            f"UPDATE imp_order o SET customer_id = {customer_by(name, f'o.v_{name}')} "
            f"WHERE {blank}o.v_{name} IS NOT NULL"
        )
        statements.append(
            add_error(
                f"o.customer_id IS NULL AND {blank}o.v_{name} IS NOT NULL",
                name,
                "'Customer not found.'",
            )
        )
        given.append(name)
    none_given = " AND ".join(f"o.v_{name} IS NULL" for name in CUSTOMER_REFS)
    statements += [
        add_error(
            f"o.customer_id IS NULL AND {none_given}",
            "customer",
            "'Name the customer: customer, customer_external_id or customer_email.'",
        ),
        "UPDATE imp_order o SET pos_id = coalesce("
        f"(SELECT p.id FROM {POS} p WHERE p.account_id = %(account)s "
        f"AND p.id = CASE WHEN o.v_pos ~ '{UUID_RE}' THEN o.v_pos::uuid END), "
        f"(SELECT p.id FROM {POS} p WHERE p.account_id = %(account)s "
        "AND p.code = o.v_pos)) "
        "WHERE o.v_pos IS NOT NULL",
        add_error("o.v_pos IS NOT NULL AND o.pos_id IS NULL", "pos", "'Point of sale not found.'"),
        "UPDATE imp_order SET currency = upper(v_currency) WHERE v_currency IS NOT NULL",
        add_error(
            "o.currency IS NOT NULL AND o.currency !~ '^[A-Z]{3}$'",
            "currency",
            "'Use a three-letter ISO 4217 code.'",
        ),
        add_error(
            "o.v_external_id IS NULL AND o.v_id IS NULL",
            "external_id",
            "'Each line needs the order''s external_id (lines sharing it are one order).'",
        ),
        add_error(
            "o.n_items > 0 AND o.computed > %(max)s::numeric",
            "amount",
            "'The amount would exceed ' || %(max)s || '.'",
        ),
        add_error(
            "o.n_items > 0 AND o.v_amount IS NOT NULL AND o.computed IS NOT NULL "
            "AND o.v_amount <> o.computed",
            "amount",
            "'The amount must be the sum of the line totals, ' || o.computed || '.'",
        ),
    ]
    return statements


def match() -> list[str]:
    """Each valid order's stored order, by id, else by external_id."""
    return [
        f"UPDATE imp_order o SET target_id = (SELECT t.id FROM {ORDERS} t "
        "WHERE t.account_id = %(account)s AND t.id = o.v_id), matched_by = 'id' "
        f"WHERE {VALID} AND o.v_id IS NOT NULL",
        f"UPDATE imp_order o SET target_id = (SELECT t.id FROM {ORDERS} t "
        "WHERE t.account_id = %(account)s AND t.external_id = o.v_external_id), "
        "matched_by = 'external_id' "
        f"WHERE {VALID} AND o.target_id IS NULL AND o.v_external_id IS NOT NULL",
        "UPDATE imp_order SET matched_by = NULL WHERE target_id IS NULL",
    ]


CREATES = f"SELECT count(*) FROM imp_order o WHERE {VALID} AND o.target_id IS NULL"


def check_matched() -> list[str]:
    """What the stored orders allow: another order's external_id is a 409; without
    item lines the amount is required to create, and must keep stored items
    consistent."""
    return [
        "UPDATE imp_order o SET old_customer_id = t.customer_id, old_amount = t.amount, "
        f"has_stored_items = (SELECT TRUE FROM {ITEMS} i "
        "WHERE i.account_id = %(account)s AND i.order_id = t.id LIMIT 1) IS NOT NULL "
        f"FROM {ORDERS} t WHERE t.account_id = %(account)s AND t.id = o.target_id",
        add_error(
            f"{VALID} AND o.v_external_id IS NOT NULL AND (SELECT TRUE FROM {ORDERS} t "
            "WHERE t.account_id = %(account)s AND t.external_id = o.v_external_id "
            "AND t.id IS DISTINCT FROM o.target_id LIMIT 1)",
            "external_id",
            "'Conflict (409): another order has this external_id.'",
        ),
        add_error(
            f"{VALID} AND o.n_items = 0 AND o.v_amount IS NULL AND o.target_id IS NULL",
            "amount",
            "'An order without items needs an amount.'",
        ),
        add_error(
            f"{VALID} AND o.n_items = 0 AND o.v_amount IS NOT NULL AND o.has_stored_items "
            "AND o.v_amount <> o.old_amount",
            "amount",
            "'The amount must be the sum of the line totals, ' || o.old_amount || '.'",
        ),
        "UPDATE imp_order SET amount_final = CASE WHEN n_items > 0 THEN computed ELSE v_amount END",
    ]


def classify() -> list[str]:
    """Each order's action (fail, create, skip, update) by `on_conflict`; whether a
    matched order's items would change (an order without item lines keeps its
    items)."""
    return [
        "UPDATE imp_order o SET action = CASE "
        "WHEN o.bad_lines IS NOT NULL OR o.errs <> '{}' THEN 'fail' "
        "WHEN o.target_id IS NULL THEN 'create' "
        "WHEN %(on_conflict)s = 'skip' THEN 'skip' "
        "WHEN %(on_conflict)s = 'error' THEN 'fail' ELSE 'update' END, "
        "errs = CASE WHEN o.bad_lines IS NULL AND o.errs = '{}' AND o.target_id IS NOT NULL "
        f"AND %(on_conflict)s = 'error' THEN o.errs || ('' || {TAB} || "
        "'Conflict (409): an order with this ' || o.matched_by || "
        "' exists (on_conflict=error).') ELSE o.errs END",
        "UPDATE imp_order o SET items_changed = o.n_items > 0 AND "
        "(SELECT array_agg(ROW(i.product_id, i.sku::text, i.name::text, i.brand::text, "
        "i.quantity, i.unit_price, i.discount_percent, i.line_total) ORDER BY i.position) "
        f"FROM {ITEMS} i WHERE i.account_id = %(account)s AND i.order_id = o.target_id) "
        "IS DISTINCT FROM (SELECT array_agg(ROW(l.product_id, l.sku_final, l.name_final, "
        "l.brand_final, l.quantity_final, l.unit_price_final, l.discount_final, l.line_total) "
        "ORDER BY l.position) FROM imp_oline l WHERE l.g = o.g AND l.is_item) "
        "WHERE o.action = 'update'",
    ]


# --- Writes -----------------------------------------------------------------------------


def _change(given: set[str]) -> tuple[str, str]:
    """(SET list, whether the order would change) of an update; `given`: the fields
    the file has."""
    sets: list[tuple[str, str]] = []
    for name in WRITTEN:
        if name in given:
            column = Order._meta.get_field(name).column
            value = "o.currency" if name == "currency" else f"o.v_{name}"
            sets.append((column, f"coalesce({value}, t.{column})"))
    if "external_id" in given:
        sets.append(("external_id", "coalesce(o.v_external_id, t.external_id)"))
    sets.append(("customer_id", "o.customer_id"))
    if "pos" in given:
        sets.append(("pos_id", "coalesce(o.pos_id, t.pos_id)"))
    if "ordered_at" in given:
        sets.append(("ordered_at", "coalesce(o.v_ordered_at, t.ordered_at)"))
    sets.append(("amount", "coalesce(o.amount_final, t.amount)"))
    set_sql = ", ".join(f"{column} = {value}" for column, value in sets)
    old = "ROW(" + ", ".join(f"t.{column}" for column, _ in sets) + ")"
    new = "ROW(" + ", ".join(value for _, value in sets) + ")"
    return set_sql, f"({old} IS DISTINCT FROM {new} OR o.items_changed)"


def update(given: set[str]) -> list[str]:
    """The updates of matched orders that would change, and their items: the orders
    locked in id order first (after the sequence, before the customers: the orders
    app's lock order), the customer each leaves read again once locked. The first
    statement answers the rows it locked (none: nothing to write)."""
    set_sql, changes = _change(given)
    return [
        f"SELECT 1 FROM {ORDERS} WHERE account_id = %(account)s AND id = ANY(ARRAY("
        f"SELECT t.id FROM imp_order o JOIN {ORDERS} t ON t.account_id = %(account)s "
        f"AND t.id = o.target_id WHERE o.action = 'update' AND {changes})) "
        "ORDER BY id FOR UPDATE",
        f"UPDATE imp_order o SET old_customer_id = t.customer_id FROM {ORDERS} t "
        "WHERE o.action = 'update' AND t.account_id = %(account)s AND t.id = o.target_id",
        f"WITH upd AS (UPDATE {ORDERS} t SET {set_sql}, updated_at = now() "
        "FROM imp_order o WHERE o.action = 'update' AND t.account_id = %(account)s "
        f"AND t.id = o.target_id AND {changes} "
        "RETURNING o.g) UPDATE imp_order o SET action = 'updated' FROM upd WHERE o.g = upd.g",
        f"DELETE FROM {ITEMS} i USING imp_order o WHERE o.action = 'updated' "
        "AND o.items_changed AND i.account_id = %(account)s AND i.order_id = o.target_id",
        insert_items("o.action = 'updated' AND o.items_changed", "o.target_id"),
    ]


def would_update(given: set[str]) -> str:
    """A dry run: the matched orders an update would change, marked updated."""
    _set_sql, changes = _change(given)
    return (
        f"UPDATE imp_order o SET action = 'updated' FROM {ORDERS} t "
        "WHERE o.action = 'update' AND t.account_id = %(account)s AND t.id = o.target_id "
        f"AND {changes}"
    )


NUMBER_NEW = (
    "UPDATE imp_order o SET new_id = crm_uuid7(), number = %(first)s + r.k - 1 "
    "FROM (SELECT g, row_number() OVER (ORDER BY g) AS k FROM imp_order "
    "WHERE action = 'create') r WHERE o.g = r.g"
)


def insert_orders() -> tuple[str, str, dict[str, Any]]:
    """(INSERT of the new orders, the statement marking them created over the inserted
    ids `ins`, the model defaults it takes as parameters)."""
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
            given[Order._meta.get_field(name).column] = f"o.v_{name}"
    columns: list[str] = []
    values: list[str] = []
    defaults: dict[str, Any] = {}
    for model_field in Order._meta.concrete_fields:
        column = str(model_field.column)
        columns.append(column)
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            values.append("now()")
            continue
        default = f"%(d_{column})s::{model_field.db_type(connection)}"
        defaults[f"d_{column}"] = model_field.get_default()
        if column in ("id", "account_id", "number"):
            values.append(given[column])
        elif column in given:
            values.append(f"coalesce({given[column]}, {default})")
        else:
            values.append(default)
    return (
        f"INSERT INTO {ORDERS} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM imp_order o WHERE o.action = 'create' ORDER BY o.g",
        "UPDATE imp_order o SET action = 'created' FROM ins WHERE o.new_id = ins.id",
        defaults,
    )


# Orders still `create` after the insert: their external_id was taken meanwhile.
NOT_INSERTED = (
    f"UPDATE imp_order o SET action = 'fail', errs = o.errs || ('' || {TAB} || "
    "'Conflict (409): another order has this external_id (written meanwhile).') "
    "WHERE o.action = 'create'"
)


def insert_items(condition: str, order_id: str) -> str:
    return (
        f"INSERT INTO {ITEMS} (id, account_id, order_id, product_id, sku, name, brand, "
        "quantity, unit_price, discount_percent, line_total, position) "
        f"SELECT crm_uuid7(), %(account)s::uuid, {order_id}, l.product_id, l.sku_final, "
        "l.name_final, l.brand_final, l.quantity_final, l.unit_price_final, l.discount_final, "
        "l.line_total, l.position FROM imp_order o JOIN imp_oline l ON l.g = o.g "
        f"WHERE {condition} AND l.is_item ORDER BY l.g, l.position"
    )


INSERT_CREATED_ITEMS = insert_items("o.action = 'created'", "o.new_id")


# --- Products -----------------------------------------------------------------------------

# (SQL over the chunk alias `ch`, message): checked on the rows that would create a
# product (`product_create`: a product needs a name).
PRODUCT_CREATE_CHECKS = (("ch.v_name IS NOT NULL", "A new product needs a name."),)
