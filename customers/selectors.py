"""Every non-trivial read of customers and interactions: lists, search, look-ups by the
integrator's keys, and the health / lifecycle figures (one SQL query each)."""

import re
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Account
from crm_project.phones import InvalidPhone, account_region, normalize_phone, phone_digits
from customers.models import Customer, Interaction, full_name_lower
from orders.models import UNCOUNTED_STATUSES, Order

MAX_NUMBER = 2**63 - 1  # the `number` column is a bigint

# The very expressions of the indexes (customers.models): PostgreSQL uses an expression
# index only for a query written with the same expression.
FULL_NAME_LOWER = full_name_lower()
EMAIL_LOWER = Lower("email")

# A search term that looks like a phone number: digits and the usual punctuation.
_PHONE_LIKE = re.compile(r"^[\d\s+().\-/]+$")
# Fewer digits than this would match half the table: not searched as a phone.
MIN_PHONE_DIGITS = 3


def customer_list(account: Account) -> QuerySet[Customer]:
    return Customer.objects.filter(account=account)


def customer_ref_filter(ref: str) -> Q | None:
    """How a path's `{id}` names a customer: its UUID or its per-account `number`.
    None when it can be neither (the caller answers 404)."""
    ref = str(ref).strip()
    try:
        return Q(pk=uuid.UUID(ref))
    except ValueError:
        pass
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_NUMBER:
        return Q(number=int(ref))
    return None


def customer_by_ref(account: Account, ref: str) -> Customer | None:
    condition = customer_ref_filter(ref)
    if condition is None:
        return None
    return customer_list(account).filter(condition).first()


def customer_search_filter(q: str, *, phone_region: str) -> Q:
    """`?q=`: the full name and the email as case-insensitive substrings, the phone by
    its digits, and the id, number and external_id exactly.

    Every branch can use an index, so PostgreSQL answers with a BitmapOr of index scans:
    the trigram GIN indexes on lower(full name), lower(email) and phone, the unique
    (account, external_id) and (account, number) indexes, and the primary key. Name and
    email are compared with `contains` on the lowered term against the index
    expressions (annotated by `with_search_fields`); Django's `contains` escapes `%`,
    `_` and `\\` in the term, so they match literally."""
    term = q.strip()
    if not term:
        return Q()
    lowered = term.lower()
    condition = (
        Q(search_full_name__contains=lowered)
        | Q(search_email__contains=lowered)
        | Q(external_id=term)
    )
    digits = phone_digits(term)
    if _PHONE_LIKE.match(term) and len(digits) >= MIN_PHONE_DIGITS:
        # The stored phone is E.164 (`+` and digits), so its digits are a substring.
        condition |= Q(phone__contains=digits)
        # A national format (`0102030405`) is found by its E.164 form.
        with suppress(InvalidPhone):
            condition |= Q(phone=normalize_phone(term, phone_region))
    reference = customer_ref_filter(term)
    if reference is not None:
        condition |= reference
    return condition


def with_search_fields(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    return queryset.alias(search_full_name=FULL_NAME_LOWER, search_email=EMAIL_LOWER)


def customer_search(account: Account, q: str) -> QuerySet[Customer]:
    return with_search_fields(customer_list(account)).filter(
        customer_search_filter(q, phone_region=account_region(account))
    )


def phone_filter_value(raw: str, *, phone_region: str) -> str:
    """A phone as stored: E.164 when it parses in the account's region, else as given."""
    try:
        return normalize_phone(raw, phone_region)
    except InvalidPhone:
        return raw.strip()


def customer_lookup(
    account: Account,
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
) -> Customer | None:
    """The customer with all the given keys (email compared case-insensitively, phone in
    E.164). Phones are not unique: the most recently created customer wins."""
    queryset = customer_list(account)
    if email:
        queryset = queryset.alias(search_email=EMAIL_LOWER).filter(
            search_email=email.strip().lower()
        )
    if phone:
        queryset = queryset.filter(
            phone=phone_filter_value(phone, phone_region=account_region(account))
        )
    if external_id:
        queryset = queryset.filter(external_id=external_id.strip())
    return queryset.order_by("-created_at", "-id").first()


def customer_for_upsert(
    account: Account,
    *,
    customer_id: uuid.UUID | None = None,
    external_id: str | None = None,
    email: str | None = None,
) -> tuple[Customer | None, str | None]:
    """The customer a bulk row updates, locked, and what matched it: the row's id, else
    its external_id, else its email (case-insensitively)."""
    locked = customer_list(account).select_for_update()
    if customer_id is not None:
        found = locked.filter(pk=customer_id).first()
        if found is not None:
            return found, "id"
    if external_id:
        found = locked.filter(external_id=external_id).first()
        if found is not None:
            return found, "external_id"
    if email:
        found = (
            locked.alias(search_email=EMAIL_LOWER)
            .filter(search_email=email.strip().lower())
            .first()
        )
        if found is not None:
            return found, "email"
    return None, None


def customer_has_orders(customer: Customer) -> bool:
    return Order.objects.filter(account_id=customer.account_id, customer=customer).exists()


def interaction_list(account: Account, customer: Customer) -> QuerySet[Interaction]:
    return Interaction.objects.filter(account=account, customer=customer).select_related("agent")


# --- Health and lifecycle -------------------------------------------------------------
#
# One query over the account computes, for every customer, the RFM inputs from counted
# orders (status not cancelled or refunded), the quintiles, the score and the lifecycle
# bucket; the health endpoint keeps one row, the lifecycle endpoint counts the buckets.
#
# Days are calendar days in the account's timezone: `today` is the local date of `now`,
# an order's day is the local date of `ordered_at`. "Within N days" means at most N days
# before today, inclusive (an order exactly 365 days ago still counts in the 365-day
# window; recency_days = today - last order day).
#
# Quintiles (tie rule). Over the population of customers with at least one counted
# order, N of them, a customer whose value is v gets
#     q = ceil(5 * c / N),  c = how many customers of the population have a value <= v
# (for recency: a recency_days >= theirs, so 5 = most recent). That is ceil(5 x
# cume_dist), computed in integers so that no float rounding moves a boundary. Equal
# values always share a quintile (the highest their group reaches) and the answer does
# not depend on row order. One customer alone, or all equal, is quintile 5.

_HEALTH_SQL = """
WITH params AS (
    SELECT (%(now)s::timestamptz AT TIME ZONE %(tz)s)::date AS today
),
counted AS (
    SELECT o.customer_id,
           count(*) AS orders_count,
           max((o.ordered_at AT TIME ZONE %(tz)s)::date) AS last_order_day,
           count(*) FILTER (
               WHERE (o.ordered_at AT TIME ZONE %(tz)s)::date >= p.today - 365
           ) AS frequency_365d,
           coalesce(sum(o.amount) FILTER (
               WHERE (o.ordered_at AT TIME ZONE %(tz)s)::date >= p.today - 365
           ), 0) AS monetary_365d
      FROM {orders} o CROSS JOIN params p
     WHERE o.account_id = %(account)s AND o.status <> ALL(%(uncounted)s)
     GROUP BY o.customer_id
),
base AS (
    SELECT c.id,
           p.today,
           p.today - (c.created_at AT TIME ZONE %(tz)s)::date AS age_days,
           coalesce(k.orders_count, 0) AS orders_count,
           -- NULL without orders (GREATEST alone would skip the NULL and answer 0)
           CASE WHEN k.last_order_day IS NOT NULL
                THEN greatest(p.today - k.last_order_day, 0) END AS recency_days,
           coalesce(k.frequency_365d, 0) AS frequency_365d,
           coalesce(k.monetary_365d, 0) AS monetary_365d
      FROM {customers} c CROSS JOIN params p
      LEFT JOIN counted k ON k.customer_id = c.id
     WHERE c.account_id = %(account)s
),
ranked AS (
    SELECT b.*,
           CASE WHEN b.orders_count > 0 THEN
               (5 * count(*) OVER (PARTITION BY b.orders_count > 0
                                   ORDER BY b.recency_days DESC)
                + count(*) OVER (PARTITION BY b.orders_count > 0) - 1)
               / count(*) OVER (PARTITION BY b.orders_count > 0)
           END AS r,
           CASE WHEN b.orders_count > 0 THEN
               (5 * count(*) OVER (PARTITION BY b.orders_count > 0
                                   ORDER BY b.frequency_365d)
                + count(*) OVER (PARTITION BY b.orders_count > 0) - 1)
               / count(*) OVER (PARTITION BY b.orders_count > 0)
           END AS f,
           CASE WHEN b.orders_count > 0 THEN
               (5 * count(*) OVER (PARTITION BY b.orders_count > 0
                                   ORDER BY b.monetary_365d)
                + count(*) OVER (PARTITION BY b.orders_count > 0) - 1)
               / count(*) OVER (PARTITION BY b.orders_count > 0)
           END AS m
      FROM base b
),
classified AS (
    SELECT x.*,
           CASE WHEN x.orders_count > 0
                THEN round(100.0 * (x.r + x.f + x.m - 3) / 12)::int
                ELSE 0 END AS score,
           CASE
               WHEN (x.orders_count > 0 AND x.recency_days > 365)
                 OR (x.orders_count = 0 AND x.age_days > 365) THEN 'churned'
               WHEN x.m = 5 AND x.f >= 4 THEN 'vip'
               WHEN x.age_days <= 30 AND x.orders_count <= 1 THEN 'new'
               WHEN x.recency_days > 90 THEN 'at_risk'
               ELSE 'active'
           END AS lifecycle
      FROM ranked x
)
"""

_HEALTH_ONE = """
SELECT h.score, h.lifecycle, h.recency_days, h.frequency_365d, h.monetary_365d,
       h.r, h.f, h.m, h.orders_count, h.today,
       (SELECT count(*) FROM {interactions} i
         WHERE i.account_id = %(account)s AND i.customer_id = h.id
           AND i.date <= %(now)s
           AND (i.date AT TIME ZONE %(tz)s)::date >= h.today - 90) AS interactions_90d,
       (SELECT max(i.date) FROM {interactions} i
         WHERE i.account_id = %(account)s AND i.customer_id = h.id
           AND i.date <= %(now)s) AS last_contact_at,
       (SELECT count(*) FROM {interactions} i
         WHERE i.account_id = %(account)s AND i.customer_id = h.id
           AND NOT i.completed AND i.next_action_date IS NOT NULL) AS open_follow_ups
  FROM classified h
 WHERE h.id = %(customer)s
"""

_LIFECYCLE_COUNTS = """
SELECT lifecycle, count(*) FROM classified GROUP BY lifecycle
"""

LIFECYCLES = ("new", "active", "at_risk", "churned", "vip")


@dataclass(frozen=True)
class CustomerHealth:
    score: int
    grade: str
    risk: str
    lifecycle: str
    recency_days: int | None
    frequency_365d: int
    monetary_365d: Decimal
    rfm: dict[str, int | None]
    orders_count: int
    interactions_90d: int
    last_contact_at: datetime | None
    average_feedback_rating: Decimal | None
    open_follow_ups: int
    as_of: Any


def grade_of(score: int) -> str:
    for floor, grade in ((80, "A"), (60, "B"), (40, "C"), (20, "D")):
        if score >= floor:
            return grade
    return "F"


def risk_of(score: int) -> str:
    if score >= 60:
        return "low"
    if score >= 30:
        return "medium"
    return "high"


def _health_params(account: Account, now: datetime | None) -> dict[str, Any]:
    return {
        "now": now or timezone.now(),
        "tz": account.timezone or "UTC",
        "account": account.pk,
        "uncounted": [str(status) for status in UNCOUNTED_STATUSES],
    }


def _tables() -> dict[str, str]:
    return {
        "orders": Order._meta.db_table,
        "customers": Customer._meta.db_table,
        "interactions": Interaction._meta.db_table,
    }


def customer_health(
    account: Account, customer: Customer, *, now: datetime | None = None
) -> CustomerHealth:
    """The customer's score, grade, risk and lifecycle (SPEC: Customers, health), with
    the quintiles computed over the whole account in the same query."""
    sql = (_HEALTH_SQL + _HEALTH_ONE).format(**_tables())
    params = {**_health_params(account, now), "customer": customer.pk}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:  # the customer is not in this account
        raise Customer.DoesNotExist
    (
        score,
        lifecycle,
        recency_days,
        frequency,
        monetary,
        r,
        f,
        m,
        orders_count,
        today,
        interactions_90d,
        last_contact_at,
        open_follow_ups,
    ) = row
    return CustomerHealth(
        score=score,
        grade=grade_of(score),
        risk=risk_of(score),
        lifecycle=lifecycle,
        recency_days=recency_days,
        frequency_365d=frequency,
        monetary_365d=Decimal(monetary),
        rfm={"r": r, "f": f, "m": m},
        orders_count=orders_count,
        interactions_90d=interactions_90d,
        last_contact_at=last_contact_at,
        # Ratings land with the feedback app.
        average_feedback_rating=None,
        open_follow_ups=open_follow_ups,
        as_of=today,
    )


def customer_lifecycle_counts(account: Account, *, now: datetime | None = None) -> dict[str, int]:
    """How many customers are in each lifecycle bucket; every customer is in one."""
    sql = (_HEALTH_SQL + _LIFECYCLE_COUNTS).format(**_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, _health_params(account, now))
        counts = dict(cursor.fetchall())
    return {bucket: int(counts.get(bucket, 0)) for bucket in LIFECYCLES}


def customer_lifecycles(account: Account, customer_ids: list[Any]) -> dict[Any, str]:
    """The lifecycle bucket of these customers, by the health query's own rules."""
    sql = (
        _HEALTH_SQL  # noqa: S608  (table names from the models)
        + "SELECT id, lifecycle FROM classified WHERE id = ANY(%(ids)s::uuid[])"
    ).format(**_tables())
    params = {**_health_params(account, None), "ids": [str(pk) for pk in customer_ids]}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())
