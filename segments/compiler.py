"""A normalized rule (segments.rules) compiled into one SQL query over the account's
customers: Django expressions and subqueries, every value a query parameter, nothing
evaluated in Python row by row.

Semantics (SPEC section 5) and how they are written in SQL:
- "Empty" is NULL, a missing metadata key, or a string blank after trimming
  (`btrim(x, ' \\t\\n\\r\\f\\v') = ''`). An empty value matches only `is_empty`, `!=`,
  `not_in` and `not_contains`. Text comparisons ignore case through `lower()` on both
  sides (no LIKE patterns: `strpos`, `starts_with`, `right`, so `%` and `_` in a value
  are plain characters).
- Dates of datetime columns (`created_at`, `first_order_date`, `last_order_date`, order
  dates) are their dates in the account's timezone. A date condition becomes a range of
  days [from, to), and a datetime column is compared with the instants those days start
  in the account's timezone (computed here, DST included): `created_at >= '2024-03-31
  00:00+02:00'` rather than a per-row conversion, so the comparison stays index-friendly
  (and leakproof, which row-level security requires for an index to be used).
- Averages are exact: `average_order_value >= X` is `total_orders > 0 AND lifetime_spend
  >= X * total_orders` (no division, no rounding).
- Criteria on orders count only orders not cancelled or refunded. Count, sum, average,
  last purchase and the first/last dates of a period come from the customer's spend
  aggregates (`lifetime_spend`, `total_orders`, `first_order_date`, `last_order_date`),
  which orders.services keeps exact in the same transaction as every order write; the
  others are EXISTS subqueries over orders and items (semi-joins PostgreSQL plans with
  the orders' (account, customer, ordered_at) and items' (account, sku) indexes).
- Points of sale named by code (rules validated without an account) are resolved in
  the query (`pos_id = ANY(ARRAY(SELECT id ...))`); validate_rule(account=...) stores ids.
- "Today" is today in the account's timezone, or the `today` argument (tests, previews
  of another day).

Performance under row-level security: PostgreSQL uses an index for a user's condition
only when it is leakproof. `lower(text) = ...`, `starts_with`, text, uuid, date,
timestamptz and integer comparisons are, and numeric (money) comparisons since
customers/migrations/0005 marked them; so are the functions and operators of
segments/migrations/0003, with their indexes: birthdays (`segments_month_day`) and tags
(`segments_lower_tags(tags) @>>> / &&&`). jsonb operators, `strpos`, `date_part` and
subqueries are not, so those are evaluated after the policy, row by row: the children
of a group are written cheapest first (`_weight`). bench/segments.py measures each
criterion against hand-written SQL.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    Expression,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)

from accounts.models import Account
from crm_project.datetimes import account_today, account_zone
from crm_project.tenancy import account_scope
from customers.models import Customer
from loyalty import selectors as loyalty_selectors
from orders.models import UNCOUNTED_STATUSES, Order, OrderItem, PointOfSale
from segments.rules import vocabulary as lang
from segments.rules.values import as_uuid, is_number

__all__ = ["count", "count_sql", "counted", "matching_customers"]


# --- SQL building blocks -----------------------------------------------------------------


# One instance for every boolean fragment: a field is costly to build, and a rule is
# compiled for each count (the compilation is part of what bench/segments.py times).
_BOOLEAN = BooleanField()


class Sql(Expression):
    """A SQL fragment: `{0}`, `{1}`... stand for the compiled expressions given (columns
    as F(), values wrapped in Value(), hence parameters). Boolean unless told."""

    def __init__(self, template: str, *expressions: Any, output_field: Any = None) -> None:
        super().__init__(output_field=output_field or _BOOLEAN)
        self.template = template
        self.source = [e if hasattr(e, "resolve_expression") else Value(e) for e in expressions]

    def get_source_expressions(self) -> list[Any]:
        return self.source

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.source = list(exprs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sql: list[str] = []
        params: list[Any] = []
        for position, piece in enumerate(re.split(r"\{(\d+)\}", self.template)):
            if position % 2 == 0:
                sql.append(piece)
            else:
                piece_sql, piece_params = compiler.compile(self.source[int(piece)])
                sql.append(piece_sql)
                params.extend(piece_params)
        return "".join(sql), tuple(params)


TRUE = Q(Sql("TRUE"))


def _decimal(value: Any) -> Value:
    """A number of the normalized rule (a decimal string, or a metadata JSON number) as
    a numeric parameter."""
    return Value(Decimal(str(value)), output_field=DecimalField())


def _lower_list(first: int, count: int) -> str:
    return ", ".join(f"lower({{{first + i}}}::text)" for i in range(count))


def _text_predicate(column: Any, operator: str, value: Any) -> Q:
    """A text column or expression (NULL possible), case ignored."""
    ws = Value(lang.WHITESPACE)
    if operator == "is_empty":
        return Q(Sql("({0} IS NULL OR btrim({0}, {1}) = '')", column, ws))
    if operator == "is_not_empty":
        return Q(Sql("({0} IS NOT NULL AND btrim({0}, {1}) <> '')", column, ws))
    empty = "{0} IS NULL OR btrim({0}, {1}) = ''"
    if operator in ("in", "not_in"):
        values = [Value(str(v)) for v in value]
        listed = f"lower({{0}}) IN ({_lower_list(2, len(values))})"
        if operator == "in":
            return Q(Sql(listed, column, ws, *values))
        return Q(Sql(f"({empty} OR NOT {listed})", column, ws, *values))
    v = Value(str(value))
    templates = {
        "=": "lower({0}) = lower({2}::text)",
        "!=": f"({empty} OR lower({{0}}) <> lower({{2}}::text))",
        "contains": "strpos(lower({0}), lower({2}::text)) > 0",
        "not_contains": f"({empty} OR strpos(lower({{0}}), lower({{2}}::text)) = 0)",
        "starts_with": "starts_with(lower({0}), lower({2}::text))",
        "ends_with": "right(lower({0}), char_length(lower({2}::text))) = lower({2}::text)",
    }
    return Q(Sql(templates[operator], column, ws, v))


_COMPARISONS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _number_predicate(column: Any, operator: str, value: Any) -> Q:
    """A numeric column or expression: NULL is empty."""
    if operator == "is_empty":
        return Q(Sql("({0} IS NULL)", column))
    if operator == "is_not_empty":
        return Q(Sql("({0} IS NOT NULL)", column))
    if operator == "between":
        low, high = (_decimal(v) for v in value)
        return Q(Sql("({0} >= {1} AND {0} <= {2})", column, low, high))
    number = _decimal(value)
    if operator == "!=":
        return Q(Sql("({0} IS NULL OR {0} <> {1})", column, number))
    return Q(Sql(f"{{0}} {_COMPARISONS[operator]} {{1}}", column, number))


def _average_predicate(operator: str, value: Any) -> Q:
    """The exact average lifetime_spend / total_orders, without dividing."""
    spend, orders = F("lifetime_spend"), F("total_orders")
    if operator == "is_empty":
        return Q(Sql("({0} IS NULL OR {0} <= 0)", orders))
    if operator == "is_not_empty":
        return Q(Sql("{0} > 0", orders))
    if operator == "between":
        low, high = (_decimal(v) for v in value)
        return Q(
            Sql("({0} > 0 AND {1} >= {2} * {0} AND {1} <= {3} * {0})", orders, spend, low, high)
        )
    number = _decimal(value)
    if operator == "!=":
        return Q(Sql("({0} IS NULL OR {0} <= 0 OR {1} <> {2} * {0})", orders, spend, number))
    op = _COMPARISONS[operator]
    return Q(Sql(f"({{0}} > 0 AND {{1}} {op} {{2}} * {{0}})", orders, spend, number))


# --- Dates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    account_id: Any
    tz: ZoneInfo
    today: date

    def day_start(self, day: date) -> datetime:
        """The first instant of `day` in the account's timezone (a day starting in a DST
        gap starts when the gap ends)."""
        return datetime.combine(day, time.min, tzinfo=self.tz)


def _next_day(day: date) -> date | None:
    return None if day == date.max else day + timedelta(days=1)


def _day_range(operator: str, value: Any, today: date) -> tuple[date | None, date | None]:
    """[first, end) of the days a date operator selects; None is unbounded."""
    if operator == "within_last_days":
        return today - timedelta(days=int(value)), None
    if operator == "more_than_days_ago":
        return None, today - timedelta(days=int(value))
    if operator == "between":
        low, high = (date.fromisoformat(str(v)) for v in value)
        return low, _next_day(high)
    day = date.fromisoformat(str(value))
    if operator == ">":
        after = _next_day(day)
        return (after, None) if after is not None else (day, day)  # nothing is later
    return {
        "=": (day, _next_day(day)),
        ">=": (day, None),
        "<": (None, day),
        "<=": (None, _next_day(day)),
    }[operator]


def _date_predicate(name: str, has_time: bool, operator: str, value: Any, ctx: _Context) -> Q:
    if operator == "is_empty":
        return Q(**{f"{name}__isnull": True})
    if operator == "is_not_empty":
        return Q(**{f"{name}__isnull": False})
    first, end = _day_range(operator, value, ctx.today)
    return _in_days(name, has_time, first, end, ctx)


def _in_days(name: str, has_time: bool, first: date | None, end: date | None, ctx: _Context) -> Q:
    """`name` (a date, or a datetime taken in the account's timezone) within [first, end)."""
    bound = ctx.day_start if has_time else (lambda day: day)
    condition = Q(**{f"{name}__isnull": False})
    if first is not None:
        condition &= Q(**{f"{name}__gte": bound(first)})
    if end is not None:
        condition &= Q(**{f"{name}__lt": bound(end)})
    return condition


# --- Conditions ----------------------------------------------------------------------------


_NUMERIC_TEXT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"


def _metadata_text(key: str) -> Sql:
    return Sql("({0} ->> {1}::text)", F("metadata"), Value(key), output_field=TextField())


def _metadata_number(key: str) -> Sql:
    """The value as a number when it is one: a JSON number, or a string that is a plain
    decimal (no exponent, NaN or infinity); NULL otherwise. The CASE guards the cast."""
    return Sql(
        "(CASE jsonb_typeof({0} -> {1}::text)"
        " WHEN 'number' THEN ({0} ->> {1}::text)::numeric"
        " WHEN 'string' THEN CASE WHEN ({0} ->> {1}::text) ~ {2}::text"
        " THEN ({0} ->> {1}::text)::numeric END END)",
        F("metadata"),
        Value(key),
        Value(_NUMERIC_TEXT),
        output_field=DecimalField(),
    )


def _metadata_predicate(key: str, operator: str, value: Any) -> Q:
    text = _metadata_text(key)
    number_family = operator in lang.NUMBER_ONLY_OPERATORS or (
        operator in ("=", "!=") and is_number(value)
    )
    if not number_family:
        return _text_predicate(text, operator, value)
    number = _metadata_number(key)
    if operator == "!=":
        # Empty values match; other non-numeric values do not.
        return _text_predicate(text, "is_empty", None) | Q(
            Sql("{0} <> {1}", number, _decimal(value))
        )
    return _number_predicate(number, operator, value)


def tags_predicate(operator: str, value: Any) -> Q:
    tags = F("tags")
    # `segments_lower_tags(tags) @>>> / &&& ARRAY[...]`: the built-in contains and
    # overlaps on the lowered tags, leakproof and GIN-indexed (segments/migrations/0003),
    # so a tag condition reads the index under row-level security. A customer without
    # tags (an empty array, or NULL) has none of them.
    if operator == "in":
        values = [Value(str(v)) for v in value]
        # Placeholders only: the values are parameters.
        template = "segments_lower_tags({0}) &&& ARRAY[%s]"
        return Q(Sql(template % _lower_list(1, len(values)), tags, *values))
    if operator == "contains":
        return Q(Sql("segments_lower_tags({0}) @>>> ARRAY[lower({1}::text)]", tags, str(value)))
    has = "EXISTS (SELECT 1 FROM unnest({0}) AS tag WHERE lower(tag) = lower({1}::text))"
    return Q(Sql(f"NOT {has}", tags, Value(str(value))))


def _agent_predicate(operator: str, value: Any) -> Q:
    column = F("assigned_to_id")
    if operator == "is_empty":
        return Q(assigned_to__isnull=True)
    if operator == "is_not_empty":
        return Q(assigned_to__isnull=False)
    if operator == "=":
        return Q(assigned_to_id=value)
    if operator == "in":
        return Q(assigned_to_id__in=list(value))
    if operator == "!=":
        return Q(Sql("({0} IS NULL OR {0} <> {1}::uuid)", column, Value(str(value))))
    return Q(
        Sql("({0} IS NULL OR {0} <> ALL({1}::uuid[]))", column, Value([str(v) for v in value]))
    )


def _condition(node: dict, ctx: _Context) -> Q:
    name, operator, value = node["field"], node["operator"], node.get("value")
    if name.startswith(lang.METADATA_PREFIX):
        return _metadata_predicate(name[len(lang.METADATA_PREFIX) :], operator, value)
    spec = lang.FIELDS[name]
    if spec.type == lang.TEXT:
        return _text_predicate(F(name), operator, value)
    if spec.type == lang.NUMBER:
        if name == "average_order_value":
            return _average_predicate(operator, value)
        if name == "loyalty_points":
            return _number_predicate(
                loyalty_selectors.customer_points_expression(), operator, value
            )
        return _number_predicate(F(name), operator, value)
    if spec.type == lang.DATE:
        return _date_predicate(name, spec.has_time, operator, value, ctx)
    if spec.type == lang.BOOLEAN:
        return Q(**{name: bool(value)})
    if spec.type == lang.TAGS:
        return tags_predicate(operator, value)
    if spec.type == lang.AGENT:
        return _agent_predicate(operator, value)
    raise ValueError(f"Unknown field type {spec.type!r}")  # pragma: no cover


# --- Criteria ------------------------------------------------------------------------------


_OUTER = "outer"  # the customer of the outer query's row


def _counted_orders(ctx: _Context, customer: Any = _OUTER) -> QuerySet[Order]:
    """The customer's (the outer row's; every customer's if None) orders that count:
    not cancelled or refunded."""
    orders = Order.objects.filter(account_id=ctx.account_id)
    if customer is not None:
        orders = orders.filter(customer_id=OuterRef("pk") if customer == _OUTER else customer)
    return orders.exclude(status__in=UNCOUNTED_STATUSES)


def _pos_condition(refs: list[str], ctx: _Context, column: str = "pos_id") -> Q:
    """Points of sale named by id (a UUID) or by code. Codes are resolved inside the
    query as `= ANY(ARRAY(SELECT id ...))`: an InitPlan evaluated once, so the orders'
    (account, pos) index still applies."""
    ids = [ref for ref in refs if as_uuid(ref) is not None]
    codes = [ref for ref in refs if as_uuid(ref) is None]
    if not codes:
        return Q(**{f"{column}__in": ids})
    named = Q(code__in=codes) | Q(pk__in=ids) if ids else Q(code__in=codes)
    by_code = PointOfSale.objects.filter(Q(account_id=ctx.account_id) & named).order_by()
    by_code = by_code.values("pk")
    return Q(Sql("{0} = ANY(ARRAY({1}))", F(column), Subquery(by_code)))


def _counted_items(ctx: _Context, customer: Any = _OUTER) -> QuerySet[OrderItem]:
    """Items of the customer's (the outer row's; every customer's if None) counted
    orders: one join, one EXISTS (PostgreSQL plans it as a semi-join driven by the
    items' index)."""
    items = OrderItem.objects.filter(account_id=ctx.account_id, order__account_id=ctx.account_id)
    if customer is not None:
        items = items.filter(order__customer_id=OuterRef("pk") if customer == _OUTER else customer)
    return items.exclude(order__status__in=UNCOUNTED_STATUSES)


# Criteria that a customer meets by having one counted order or item of a kind.
_PURCHASES = frozenset({"bought_in_pos", "bought_skus", "bought_makers"})


def _purchases(node: dict, ctx: _Context, customer: Any) -> tuple[QuerySet[Any], str]:
    """The counted orders or items that meet a _PURCHASES criterion, of `customer` (the
    outer row by default; everyone's if None), and the column naming their customer."""
    kind = node["type"]
    if kind == "bought_in_pos":
        orders = _counted_orders(ctx, customer).filter(_pos_condition(node["pos_ids"], ctx))
        return orders, "customer_id"
    if kind == "bought_skus":
        items = _counted_items(ctx, customer).filter(sku__in=list(node["skus"]))
        return items, "order__customer_id"
    makers = [Value(str(m)) for m in node["makers"]]
    # An item's brand is its own; a blank one is its product's.
    listed = _lower_list(3, len(makers))
    brand = Sql(
        f"lower(COALESCE(NULLIF(btrim({{0}}, {{1}}), ''), {{2}})) IN ({listed})",
        F("brand"),
        Value(lang.WHITESPACE),
        F("product__brand"),
        *makers,
    )
    return _counted_items(ctx, customer).filter(brand), "order__customer_id"


def _range(column: str, low: Any, high: Any) -> Q:
    bounds = {}
    if low is not None:
        bounds[f"{column}__gte"] = low
    if high is not None:
        bounds[f"{column}__lte"] = high
    return Q(**bounds) if bounds else TRUE


def _within(predicate: Callable[[str, Any], Q], low: Any, high: Any) -> Q:
    """`predicate` over [low, high], one bound possibly absent (validation requires one)."""
    if low is not None and high is not None:
        return predicate("between", [low, high])
    return predicate(">=", low) if low is not None else predicate("<=", high)


def _buyers_at_pos(node: dict, ctx: _Context) -> QuerySet[Order] | None:
    """The ids of the customers a transaction_percent_in_pos criterion selects (None: a
    percent of 0 or less, which every customer with counted orders meets).

    Customers with orders at the point of sale, grouped, each group compared with that
    customer's count of counted orders (the maintained aggregate, looked up by id; a
    customer with none has no count, so no group of theirs qualifies): the orders at one
    point of sale are read once, in (account, pos, customer) order when that index
    exists."""
    percent = Decimal(str(node["percent"]))
    if percent <= 0:
        return None
    total = (
        Customer.objects.filter(
            account_id=ctx.account_id, pk=OuterRef("customer_id"), total_orders__gt=0
        )
        .order_by()
        .values("total_orders")
    )
    return (
        Order.objects.filter(account_id=ctx.account_id)
        .exclude(status__in=UNCOUNTED_STATUSES)
        .filter(_pos_condition([node["pos_id"]], ctx))
        .values("customer_id")
        .annotate(at_pos=Count("*"))
        .filter(Q(Sql("{0} * 100 >= {1} * ({2})", F("at_pos"), _decimal(percent), Subquery(total))))
        .values("customer_id")
    )


def _criterion(node: dict, ctx: _Context) -> Q:
    kind = node["type"]
    if kind == "transaction_count":
        return _range("total_orders", node.get("min"), node.get("max"))
    if kind == "transaction_amount":
        spend = F("lifetime_spend")
        low, high = node.get("from_amount"), node.get("to_amount")
        return _within(lambda op, v: _number_predicate(spend, op, v), low, high)
    if kind == "average_transaction_amount":
        return _within(_average_predicate, node.get("from_amount"), node.get("to_amount"))
    if kind in _PURCHASES:
        return Q(Exists(_purchases(node, ctx, _OUTER)[0]))
    if kind == "last_purchase_n_days_before":
        # The last counted order is on or after the start of that day.
        start = ctx.day_start(ctx.today - timedelta(days=int(node["days"])))
        return Q(last_order_date__gte=start)
    if kind == "purchase_period":
        first = date.fromisoformat(str(node["from_date"]))
        end = _next_day(date.fromisoformat(str(node["to_date"])))
        in_period = _in_days("ordered_at", True, first, end, ctx)
        # The customer's first and last counted orders bracket the period: a cheap,
        # indexable pre-filter before the EXISTS.
        bracket = Q(last_order_date__gte=ctx.day_start(first))
        if end is not None:
            bracket &= Q(first_order_date__lt=ctx.day_start(end))
        return bracket & Q(Exists(_counted_orders(ctx).filter(in_period)))
    if kind == "transaction_percent_in_pos":
        at_pos = _buyers_at_pos(node, ctx)
        if at_pos is None:
            return Q(total_orders__gt=0)
        return Q(total_orders__gt=0) & Q(pk__in=at_pos)
    if kind == "anniversary":
        return _anniversary(node["anniversary_type"], int(node["days"]), ctx)
    raise ValueError(f"Unknown criterion {kind!r}")  # pragma: no cover


# --- Anniversaries -------------------------------------------------------------------------


def _anniversary_month_days(today: date, days: int) -> list[int]:
    """The month-days (month * 100 + day) whose anniversary falls within [today, today +
    days], in calendar order (29 February counts as 28 February in common years)."""
    wanted: set[int] = set()
    for offset in range(min(days, 366) + 1):
        day = today + timedelta(days=offset)
        wanted.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            wanted.add(229)
    return sorted(wanted)


def _anniversary(kind: str, days: int, ctx: _Context) -> Q:
    if kind == "birthday":
        day: Any = F("date_of_birth")
        present = Q(date_of_birth__isnull=False)
    else:
        # The registration date in the account's timezone.
        day = Sql(
            "({0} AT TIME ZONE {1}::text)",
            F("created_at"),
            Value(str(ctx.tz)),
            output_field=DateTimeField(),
        )
        present = Q(created_at__isnull=False)
    wanted = _anniversary_month_days(ctx.today, days)
    if len(wanted) == 366:  # every day of the year
        return present
    if kind == "birthday":
        # segments_month_day (segments/migrations/0003) is leakproof and indexed with
        # the account: the window's entries are read from the index, whatever the size
        # of the account.
        return present & Q(Sql("segments_month_day({0}) = ANY({1}::int[])", day, Value(wanted)))
    # One evaluation of the month-day per row, looked up in the (hashed) list.
    return present & Q(
        Sql(
            "(date_part('month', {0}) * 100 + date_part('day', {0}))::int = ANY({1}::int[])",
            day,
            Value(wanted),
        )
    )


# --- The interface -------------------------------------------------------------------------


# What a node costs per customer row, coarsely: a column compared (an index can answer
# it), an expression evaluated on the row, a subquery over orders or items.
_CHEAP, _ROW, _SUBQUERY = 0, 1, 2
_ROW_CRITERIA = frozenset({"anniversary"})
_PLAIN_CRITERIA = frozenset(
    {
        "transaction_count",
        "transaction_amount",
        "average_transaction_amount",
        "last_purchase_n_days_before",
    }
)


def _weight(node: dict) -> int:
    if "logic" in node:
        return max(_weight(child) for child in node["rules"])
    if "field" in node:
        name = node["field"]
        if name == "loyalty_points":
            return _SUBQUERY
        if name.startswith(lang.METADATA_PREFIX) or lang.FIELDS[name].type == lang.TAGS:
            return _ROW
        return _CHEAP
    if node["type"] in _PLAIN_CRITERIA:
        return _CHEAP
    return _ROW if node["type"] in _ROW_CRITERIA else _SUBQUERY


def _compile(node: dict, ctx: _Context) -> Q:
    if "logic" in node:
        # AND and OR are commutative in SQL and PostgreSQL evaluates the arguments of a
        # nested AND or OR in the order written (it sorts only the top-level conditions
        # by cost): cheap column conditions go first, so that a subquery runs only for
        # the rows they leave (`last_order_date >= X AND EXISTS (...)`, not the reverse).
        ordered = sorted(node["rules"], key=_weight)  # stable: ties keep the rule's order
        children = [_compile(child, ctx) for child in ordered]
        combined = children[0]
        for child in children[1:]:
            combined = (combined & child) if node["logic"] == lang.AND else (combined | child)
        return combined
    if "field" in node:
        return _condition(node, ctx)
    return _criterion(node, ctx)


def _context(account: Account, today: date | None) -> _Context:
    tz = account_zone(account)
    return _Context(account_id=account.pk, tz=tz, today=today or account_today(account))


def matching_customers(
    account: Account, rule: dict, *, today: date | None = None
) -> QuerySet[Customer]:
    """The account's customers matching a normalized rule (segments.rules.validate_rule's
    answer), as one lazy query; evaluate it inside `account_scope(account)`. `today`
    defaults to today in the account's timezone."""
    ctx = _context(account, today)
    return Customer.objects.filter(Q(account_id=account.pk) & _compile(rule, ctx))


def _alone(node: dict) -> dict:
    """The node a rule comes down to once groups of one child are unwrapped."""
    while "logic" in node and len(node["rules"]) == 1:
        node = node["rules"][0]
    return node


def counted(account: Account, rule: dict, *, today: date | None = None) -> QuerySet[Any]:
    """A lazy query with one row per customer the rule selects (what to count; evaluate
    it inside `account_scope(account)`). A rule that is one purchase criterion (bought
    in a point of sale, SKUs, makers) is the distinct customers of the orders or items
    that meet it, and a transaction_percent_in_pos criterion alone is its grouped
    orders, without a second pass over the customers: every order's customer is a
    customer of its account (a composite foreign key, never null), so the count is the
    same as matching_customers'."""
    node = _alone(rule)
    kind = node.get("type")
    if kind in _PURCHASES:
        rows, customer = _purchases(node, _context(account, today), None)
        return rows.order_by().values(customer).distinct()
    if kind == "transaction_percent_in_pos":
        at_pos = _buyers_at_pos(node, _context(account, today))
        if at_pos is not None:
            return at_pos  # grouped by customer: one row each
    return matching_customers(account, rule, today=today).order_by().values("pk")


def count_sql(
    account: Account, rule: dict, *, today: date | None = None
) -> tuple[str, tuple[Any, ...]]:
    """`SELECT count(*) FROM (<counted>) AS matching` and its parameters: the rule
    compiled once by the ORM (every value a parameter), to run inside
    `account_scope(account)` or as a subquery (a stored segment's count)."""
    sql, params = counted(account, rule, today=today).query.sql_with_params()
    return f"SELECT count(*) FROM ({sql}) AS matching", tuple(params)  # noqa: S608


def count(account: Account, rule: dict, *, today: date | None = None) -> int:
    """How many of the account's customers match the rule (one COUNT query, run as
    count_sql gives it: QuerySet.count() would clone and compile the query again)."""
    sql, params = count_sql(account, rule, today=today)
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])
