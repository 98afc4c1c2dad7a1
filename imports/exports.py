# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""Streamed CSV exports: the filtered list, with the API's field names as headers, in
constant memory.

PostgreSQL writes the CSV itself (`COPY (SELECT ...) TO STDOUT`): the list's queryset
(the same filters and ordering as the API list) becomes a subquery, each column is
formatted as the API shows it (money with two places, datetimes in UTC ISO 8601, JSON
objects, booleans) and escaped against formula injection, and the rows are read a
block at a time and yielded in 64 KiB pieces. Python never holds more than one piece.

Formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or CR (after any `'`)
gets a leading `'` (imports.csvio.escape_cell, the same rule in Python); the importer
removes it, so an export imports back unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from crm_project.tenancy import account_scope

PIECE = 64 * 1024
TRIGGER_RE = "^''*[-=+@\\t\\r]"


def escaped(expression: str) -> str:
    """SQL: `expression` (text) escaped as imports.csvio.escape_cell does."""
    return (
        f"CASE WHEN {expression} ~ '{TRIGGER_RE}' THEN '''' || {expression} ELSE {expression} END"
    )


def iso(expression: str) -> str:
    """SQL: a timestamptz as the API writes it (UTC, `Z`, microseconds when any)."""
    return (
        f"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN mod(extract(microseconds FROM {expression})::bigint, 1000000) <> 0 "
        f"THEN to_char({expression} AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z'"
    )


def _format(kind: str, column: str) -> str:
    if kind == "text":
        return column
    if kind == "str":
        return f"{column}::text"
    if kind == "money":
        return f"round({column}, 2)::text"
    if kind == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    if kind == "datetime":
        return iso(column)
    if kind == "bool":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    if kind == "tags":
        # Comma-separated, unless a tag holds a comma: then a JSON list (both import back).
        return (
            f"CASE WHEN (SELECT bool_or(strpos(tag, ',') > 0) FROM unnest({column}) AS tag) "
            f"THEN to_json({column})::text ELSE array_to_string({column}, ', ') END"
        )
    raise ValueError(kind)


# (header = API field name, format, SQL over the subquery alias `t`)
CUSTOMER_COLUMNS = [
    ("id", "str", "t.id"),
    ("number", "str", "t.number"),
    ("external_id", "text", "t.external_id"),
    ("first_name", "text", "t.first_name"),
    ("last_name", "text", "t.last_name"),
    ("name", "text", "btrim(t.first_name || ' ' || t.last_name)"),
    ("email", "text", "t.email"),
    ("phone", "text", "t.phone"),
    ("company", "text", "t.company"),
    ("type", "text", "t.type"),
    ("status", "text", "t.status"),
    ("gender", "text", "t.gender"),
    ("date_of_birth", "date", "t.date_of_birth"),
    ("street", "text", "t.street"),
    ("city", "text", "t.city"),
    ("state", "text", "t.state"),
    ("zip", "text", "t.zip"),
    ("country", "text", "t.country"),
    ("billing_address", "text", "t.billing_address"),
    ("shipping_address", "text", "t.shipping_address"),
    ("payment_terms", "text", "t.payment_terms"),
    ("credit_limit", "money", "t.credit_limit"),
    ("tax_id", "text", "t.tax_id"),
    ("metadata", "str", "t.metadata"),
    ("tags", "tags", "t.tags"),
    ("email_opt_in", "bool", "t.email_opt_in"),
    ("sms_opt_in", "bool", "t.sms_opt_in"),
    ("unsubscribed_at", "datetime", "t.unsubscribed_at"),
    ("assigned_to", "str", "t.assigned_to_id"),
    ("source_lead", "str", "t.source_lead"),
    ("notes", "text", "t.notes"),
    ("created_at", "datetime", "t.created_at"),
    ("updated_at", "datetime", "t.updated_at"),
    ("lifetime_spend", "money", "t.lifetime_spend"),
    ("total_orders", "str", "t.total_orders"),
    ("average_order_value", "money", "t.average_order_value"),
    ("first_order_date", "datetime", "t.first_order_date"),
    ("last_order_date", "datetime", "t.last_order_date"),
    ("refusals_count", "str", "t.refusals_count"),
    (
        "loyalty_points",
        "money",
        "coalesce((SELECT sum(k.points_balance) FROM loyalty_loyaltycard k "
        "WHERE k.customer_id = t.id), 0)",
    ),
]

# Leads: the API's fields (assigned_to by id; `name` is read back as first/last).
LEAD_COLUMNS = [
    ("id", "str", "t.id"),
    ("external_id", "text", "t.external_id"),
    ("source_id", "text", "t.source_id"),
    ("first_name", "text", "t.first_name"),
    ("last_name", "text", "t.last_name"),
    ("name", "text", "btrim(t.first_name || ' ' || t.last_name)"),
    ("email", "text", "t.email"),
    ("phone", "text", "t.phone"),
    ("company", "text", "t.company"),
    ("source", "text", "t.source"),
    ("status", "text", "t.status"),
    ("score", "str", "t.score"),
    ("notes", "text", "t.notes"),
    ("campaign", "str", "t.campaign_id"),
    ("assigned_to", "str", "t.assigned_to_id"),
    ("street", "text", "t.street"),
    ("city", "text", "t.city"),
    ("state", "text", "t.state"),
    ("zip", "text", "t.zip"),
    ("ip_address", "str", "host(t.ip_address)"),
    ("acquired_at", "datetime", "t.acquired_at"),
    ("jornaya_lead_id", "text", "t.jornaya_lead_id"),
    ("trusted_form_id", "text", "t.trusted_form_id"),
    ("attributes", "str", "t.attributes"),
    ("last_contact", "datetime", "t.last_contact"),
    ("unsubscribed_at", "datetime", "t.unsubscribed_at"),
    ("nurture_state", "text", "t.nurture_state"),
    (
        "nurture_step",
        "str",
        "coalesce((SELECT n.step FROM leads_leadnurture n WHERE n.lead_id = t.id), 0)",
    ),
    ("converted_customer", "str", "t.converted_customer_id"),
    ("converted_at", "datetime", "t.converted_at"),
    ("created_at", "datetime", "t.created_at"),
    ("updated_at", "datetime", "t.updated_at"),
]

# Orders: one line per item (an order without items is one line with blank item cells),
# which is what the orders import reads back.
ORDER_COLUMNS = [
    ("id", "str", "t.id"),
    ("number", "str", "t.number"),
    ("external_id", "text", "t.external_id"),
    ("customer", "str", "t.customer_id"),
    ("status", "text", "t.status"),
    ("channel", "text", "t.channel"),
    ("pos", "str", "t.pos_id"),
    ("payment_method", "text", "t.payment_method"),
    ("currency", "text", "t.currency"),
    ("ordered_at", "datetime", "t.ordered_at"),
    ("amount", "money", "t.amount"),
    ("loyalty_card", "text", "t.loyalty_card"),
    ("shipping_address", "text", "t.shipping_address"),
    ("billing_address", "text", "t.billing_address"),
    ("notes", "text", "t.notes"),
    ("created_at", "datetime", "t.created_at"),
    ("updated_at", "datetime", "t.updated_at"),
    ("product", "str", "i.product_id"),
    ("sku", "text", "i.sku"),
    ("name", "text", "i.name"),
    ("brand", "text", "i.brand"),
    ("quantity", "str", "i.quantity"),
    ("unit_price", "money", "i.unit_price"),
    ("discount_percent", "money", "i.discount_percent"),
    ("line_total", "money", "i.line_total"),
]


def _select(columns: list[tuple[str, str, str]]) -> str:
    return ", ".join(
        f'{escaped(_format(kind, expression))} AS "{header}"'
        for header, kind, expression in columns
    )


def _source(queryset: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """The list's query with every column of its model, for `t` to select from."""
    columns = [f.attname for f in queryset.model._meta.concrete_fields]
    return queryset.values(*columns).query.sql_with_params()


def customers_copy_sql(queryset: QuerySet) -> tuple[str, list[Any]]:
    inner, params = _source(queryset)
    query = f"SELECT {_select(CUSTOMER_COLUMNS)} FROM ({inner}) AS t"
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", list(params)


def leads_copy_sql(queryset: QuerySet) -> tuple[str, list[Any]]:
    inner, params = _source(queryset)
    query = f"SELECT {_select(LEAD_COLUMNS)} FROM ({inner}) AS t"
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", list(params)


def orders_copy_sql(queryset: QuerySet, items_table: str) -> tuple[str, list[Any]]:
    inner, params = _source(queryset)
    query = (
        f"SELECT {_select(ORDER_COLUMNS)} FROM ({inner}) AS t LEFT JOIN LATERAL "
        f"(SELECT * FROM {items_table} i WHERE i.account_id = t.account_id "
        "AND i.order_id = t.id ORDER BY i.position) AS i ON TRUE"
    )
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", list(params)


def stream(account_id: Any, statement: str, params: list[Any]) -> Iterator[bytes]:
    """The COPY's output in PIECE-sized blocks, read inside the account's scope (the
    generator opens it when iterated, after the view that built it has returned)."""
    with account_scope(account_id), connection.cursor() as cursor:
        buffer = bytearray()
        with cursor.cursor.copy(statement, params) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= PIECE:
                    yield bytes(buffer)
                    buffer.clear()
        if buffer:
            yield bytes(buffer)
