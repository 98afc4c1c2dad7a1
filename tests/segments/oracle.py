"""A plain Python evaluator of the segment rule language (SPEC section 5), written from
the spec and apart from segments.compiler, to check it against: it loads an account's
rows and decides each customer one at a time, from the orders themselves (not from the
stored spend aggregates), with Python's own dates, time zones and Decimal/Fraction
arithmetic.

It reads normalized rules (segments.rules.validate_rule's answers)."""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from crm_project.tenancy import account_scope
from customers.models import Customer
from loyalty.models import LoyaltyCard
from orders.models import Order, OrderItem, PointOfSale, Product

BLANK_CHARACTERS = " \t\n\r\f\v"
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
UNCOUNTED = {"cancelled", "refunded"}


@dataclass
class Snapshot:
    """What the oracle needs of one account, loaded once."""

    tz: ZoneInfo
    today: date
    customers: list[Customer]
    orders_by_customer: dict[Any, list[Order]] = field(default_factory=dict)
    items_by_order: dict[Any, list[OrderItem]] = field(default_factory=dict)
    product_brand: dict[Any, str] = field(default_factory=dict)
    pos_code: dict[Any, str] = field(default_factory=dict)
    # A customer's loyalty points: their cards' balances, summed in Python.
    points_by_customer: dict[Any, Decimal] = field(default_factory=dict)


def snapshot(account, today: date) -> Snapshot:
    with account_scope(account):
        shot = Snapshot(
            tz=ZoneInfo(account.timezone),
            today=today,
            customers=list(Customer.objects.all()),
        )
        for order in Order.objects.all():
            shot.orders_by_customer.setdefault(order.customer_id, []).append(order)
        for item in OrderItem.objects.all():
            shot.items_by_order.setdefault(item.order_id, []).append(item)
        shot.product_brand = dict(Product.objects.values_list("id", "brand"))
        shot.pos_code = dict(PointOfSale.objects.values_list("id", "code"))
        for customer_id, balance in LoyaltyCard.objects.values_list(
            "customer_id", "points_balance"
        ):
            shot.points_by_customer[customer_id] = (
                shot.points_by_customer.get(customer_id, Decimal(0)) + balance
            )
    return shot


def matching_ids(shot: Snapshot, rule: dict) -> set:
    return {c.pk for c in shot.customers if matches(rule, c, shot)}


# --- Values -----------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip(BLANK_CHARACTERS) == "")


def local_date(moment: datetime | None, tz: ZoneInfo) -> date | None:
    return None if moment is None else moment.astimezone(tz).date()


def metadata_text(metadata: dict, key: str) -> str | None:
    """The stored value as PostgreSQL's `->>` shows it."""
    if key not in metadata or metadata[key] is None:
        return None
    value = metadata[key]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def metadata_number(metadata: dict, key: str) -> Decimal | None:
    value = metadata.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str) and PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def number(value: Any) -> Decimal:
    return Decimal(str(value))


# --- Conditions -------------------------------------------------------------------------


def text_matches(stored: str | None, operator: str, value: Any) -> bool:
    empty = is_empty(stored)
    if operator == "is_empty":
        return empty
    if operator == "is_not_empty":
        return not empty
    if operator in ("in", "not_in"):
        inside = not empty and stored.lower() in {str(v).lower() for v in value}
        return inside if operator == "in" else (empty or not inside)
    wanted = str(value).lower()
    if operator == "!=":
        return empty or stored.lower() != wanted
    if operator == "not_contains":
        return empty or wanted not in stored.lower()
    if empty:
        return False
    text = stored.lower()
    return {
        "=": text == wanted,
        "contains": wanted in text,
        "starts_with": text.startswith(wanted),
        "ends_with": text.endswith(wanted),
    }[operator]


def number_matches(stored: Any, operator: str, value: Any, *, empty: bool | None = None) -> bool:
    """`stored` a Decimal or Fraction, or None; `empty` overrides what counts as empty for
    `!=` and is_empty (a blank metadata string is empty without being a number)."""
    is_blank = stored is None if empty is None else empty
    if operator == "is_empty":
        return is_blank
    if operator == "is_not_empty":
        return not is_blank
    if operator == "!=":
        return is_blank or (stored is not None and stored != Fraction(number(value)))
    if stored is None:
        return False
    if operator == "between":
        low, high = (Fraction(number(v)) for v in value)
        return low <= stored <= high
    wanted = Fraction(number(value))
    return {
        "=": stored == wanted,
        ">": stored > wanted,
        ">=": stored >= wanted,
        "<": stored < wanted,
        "<=": stored <= wanted,
    }[operator]


def date_matches(stored: date | None, operator: str, value: Any, today: date) -> bool:
    if operator == "is_empty":
        return stored is None
    if operator == "is_not_empty":
        return stored is not None
    if stored is None:
        return False
    if operator == "within_last_days":
        return stored >= today - timedelta(days=value)
    if operator == "more_than_days_ago":
        return stored < today - timedelta(days=value)
    if operator == "between":
        low, high = (date.fromisoformat(v) for v in value)
        return low <= stored <= high
    wanted = date.fromisoformat(value)
    return {
        "=": stored == wanted,
        ">": stored > wanted,
        ">=": stored >= wanted,
        "<": stored < wanted,
        "<=": stored <= wanted,
    }[operator]


def counted_orders(customer: Customer, shot: Snapshot) -> list[Order]:
    return [o for o in shot.orders_by_customer.get(customer.pk, []) if o.status not in UNCOUNTED]


def condition_matches(rule: dict, customer: Customer, shot: Snapshot) -> bool:
    name, operator, value = rule["field"], rule["operator"], rule.get("value")
    if name.startswith("metadata."):
        key = name[len("metadata.") :]
        text = metadata_text(customer.metadata or {}, key)
        numeric = operator in (">", ">=", "<", "<=", "between") or (
            operator in ("=", "!=")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
        if not numeric:
            return text_matches(text, operator, value)
        stored = metadata_number(customer.metadata or {}, key)
        return number_matches(
            None if stored is None else Fraction(stored), operator, value, empty=is_empty(text)
        )
    if name in ("lifetime_spend", "total_orders", "average_order_value", "loyalty_points"):
        orders = counted_orders(customer, shot)
        total = sum((o.amount for o in orders), Decimal(0))
        stored = {
            "lifetime_spend": Fraction(total),
            "total_orders": Fraction(len(orders)),
            "average_order_value": Fraction(total) / len(orders) if orders else None,
            "loyalty_points": Fraction(shot.points_by_customer.get(customer.pk, Decimal(0))),
        }[name]
        return number_matches(stored, operator, value)
    if name in ("date_of_birth", "created_at", "first_order_date", "last_order_date"):
        moments = [o.ordered_at for o in counted_orders(customer, shot)]
        stored = {
            "date_of_birth": customer.date_of_birth,
            "created_at": local_date(customer.created_at, shot.tz),
            "first_order_date": local_date(min(moments), shot.tz) if moments else None,
            "last_order_date": local_date(max(moments), shot.tz) if moments else None,
        }[name]
        return date_matches(stored, operator, value, shot.today)
    if name in ("email_opt_in", "sms_opt_in"):
        return getattr(customer, name) == value
    if name == "tags":
        tags = {t.lower() for t in customer.tags or []}
        if operator == "contains":
            return value.lower() in tags
        if operator == "not_contains":
            return value.lower() not in tags
        return any(v.lower() in tags for v in value)
    if name == "assigned_to":
        agent = str(customer.assigned_to_id) if customer.assigned_to_id else None
        return {
            "is_empty": lambda: agent is None,
            "is_not_empty": lambda: agent is not None,
            "=": lambda: agent == value,
            "!=": lambda: agent is None or agent != value,
            "in": lambda: agent in value,
            "not_in": lambda: agent is None or agent not in value,
        }[operator]()
    return text_matches(getattr(customer, name), operator, value)


# --- Criteria ---------------------------------------------------------------------------


def pos_named(order: Order, refs: list[str], shot: Snapshot) -> bool:
    if order.pos_id is None:
        return False
    return str(order.pos_id) in refs or shot.pos_code.get(order.pos_id) in refs


def item_brand(item: OrderItem, shot: Snapshot) -> str | None:
    if not is_empty(item.brand):
        return item.brand
    return shot.product_brand.get(item.product_id) if item.product_id else None


def anniversary_in(day: date | None, today: date, days: int) -> bool:
    if day is None:
        return False
    last = today + timedelta(days=days)
    for year in range(today.year - 1, last.year + 2):
        if day.month == 2 and day.day == 29 and not calendar.isleap(year):
            anniversary = date(year, 2, 28)
        else:
            anniversary = date(year, day.month, day.day)
        if today <= anniversary <= last:
            return True
    return False


def criterion_matches(rule: dict, customer: Customer, shot: Snapshot) -> bool:
    kind = rule["type"]
    orders = counted_orders(customer, shot)
    total = sum((o.amount for o in orders), Decimal(0))

    def within(value: Any, low: Any, high: Any) -> bool:
        return (low is None or value >= Fraction(number(low))) and (
            high is None or value <= Fraction(number(high))
        )

    if kind == "transaction_count":
        return within(Fraction(len(orders)), rule.get("min"), rule.get("max"))
    if kind == "transaction_amount":
        return within(Fraction(total), rule.get("from_amount"), rule.get("to_amount"))
    if kind == "average_transaction_amount":
        return bool(orders) and within(
            Fraction(total) / len(orders), rule.get("from_amount"), rule.get("to_amount")
        )
    if kind == "bought_in_pos":
        return any(pos_named(o, rule["pos_ids"], shot) for o in orders)
    if kind == "bought_skus":
        return any(
            item.sku in rule["skus"] for o in orders for item in shot.items_by_order.get(o.pk, [])
        )
    if kind == "bought_makers":
        makers = {m.lower() for m in rule["makers"]}
        return any(
            (item_brand(item, shot) or "").lower() in makers
            for o in orders
            for item in shot.items_by_order.get(o.pk, [])
            if item_brand(item, shot) is not None
        )
    if kind == "last_purchase_n_days_before":
        since = shot.today - timedelta(days=rule["days"])
        return any(local_date(o.ordered_at, shot.tz) >= since for o in orders)
    if kind == "purchase_period":
        low, high = date.fromisoformat(rule["from_date"]), date.fromisoformat(rule["to_date"])
        return any(low <= local_date(o.ordered_at, shot.tz) <= high for o in orders)
    if kind == "transaction_percent_in_pos":
        if not orders:
            return False
        at_pos = sum(1 for o in orders if pos_named(o, [rule["pos_id"]], shot))
        return Fraction(at_pos * 100, len(orders)) >= Fraction(number(rule["percent"]))
    if kind == "anniversary":
        if rule["anniversary_type"] == "birthday":
            day = customer.date_of_birth
        else:
            day = local_date(customer.created_at, shot.tz)
        return anniversary_in(day, shot.today, rule["days"])
    raise AssertionError(kind)


def matches(rule: dict, customer: Customer, shot: Snapshot) -> bool:
    if "logic" in rule:
        results = (matches(child, customer, shot) for child in rule["rules"])
        return all(results) if rule["logic"] == "AND" else any(results)
    if "field" in rule:
        return condition_matches(rule, customer, shot)
    return criterion_matches(rule, customer, shot)
