"""Every non-trivial read of customers and interactions: lists, search, look-ups by the
integrator's keys, and the health / lifecycle figures (one SQL query each)."""

import re
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, StrIndex
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from accounts.models import Account, AccountStatus
from crm_project.datetimes import account_zone
from crm_project.pgsettings import local_settings
from crm_project.phones import InvalidPhone, account_region, normalize_phone, phone_digits
from customers.models import (
    Customer,
    FollowUp,
    FollowUpStatus,
    HealthThresholds,
    Interaction,
    Lifecycle,
    full_name_lower,
)

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


def customer_by_any_ref(account: Account, ref: str) -> Customer | None:
    """A customer named by their id, per-account number or external_id (seed 001's
    `idClient` may be any of them)."""
    ref = str(ref).strip()
    if not ref:
        return None
    return customer_by_ref(account, ref) or customer_list(account).filter(external_id=ref).first()


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
    condition = person_search_condition(term, phone_region=phone_region)
    reference = customer_ref_filter(term)
    if reference is not None:
        condition |= reference
    return condition


def person_search_condition(term: str, *, phone_region: str) -> Q:
    """The part of `?q=` customers and leads share, for a stripped, non-empty term:
    lower(full name) and lower(email) as substrings (`with_search_fields` annotates the
    index expressions), the external_id exactly, a phone-like term by its digits and by
    its E.164 form."""
    lowered = term.lower()
    condition = (
        Q(search_full_name__contains=lowered) | _email_contains(lowered) | Q(external_id=term)
    )
    digits = phone_digits(term)
    if _PHONE_LIKE.match(term) and len(digits) >= MIN_PHONE_DIGITS:
        # The stored phone is E.164 (`+` and digits), so its digits are a substring.
        condition |= Q(phone__contains=digits)
        # A national format (`0102030405`) is found by its E.164 form.
        with suppress(InvalidPhone):
            condition |= Q(phone=normalize_phone(term, phone_region))
    return condition


def _email_contains(lowered: str) -> Q:
    """lower(email) contains `lowered`. A term with an `@` (most often a whole address)
    asks the trigram index for the longer side of it with its `@` only, and checks the
    whole term on those rows with strpos, which no index serves: the other side's
    trigrams (`exa`, `com`, `.co` of a shared domain) each match most of the table, and
    reading their postings made one address look-up take 0.3 s at 1M customers. The
    rows found are the same."""
    local, at, domain = lowered.partition("@")
    side = f"{local}@" if len(local) >= len(domain) else f"@{domain}"
    if not at or len(side) < 4 or side == lowered:  # no `@`, or no trigram to ask for
        return Q(search_email__contains=lowered)
    whole = GreaterThan(StrIndex(F("search_email"), Value(lowered)), 0)
    return Q(search_email__contains=side) & Q(whole)


def with_search_fields(queryset: QuerySet) -> QuerySet:
    """Customers or leads with the search expressions of their indexes (the same
    expressions on both tables)."""
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
    return person_lookup(
        customer_list(account), account, email=email, phone=phone, external_id=external_id
    )


def person_lookup(
    queryset: QuerySet[Any],
    account: Account,
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
) -> Any:
    """The newest of `queryset` (customers or leads) with all the given keys: the email
    compared case-insensitively, the phone in E.164 in the account's region."""
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


def customer_from_lead(account: Account, lead_id: Any) -> Customer | None:
    """The customer converted from this lead (customer_unique_source_lead: one)."""
    return Customer.objects.filter(account=account, source_lead=lead_id).first()


def interaction_list(
    account: Account, customer: Customer | None = None, *, lead: Any = None
) -> QuerySet[Interaction]:
    """The customer's or the lead's interactions."""
    if (customer is None) == (lead is None):
        raise ValueError("Interactions of a customer or of a lead.")
    holder = {"customer": customer} if customer is not None else {"lead": lead}
    return Interaction.objects.filter(account=account, **holder).select_related("agent")


# --- Health and lifecycle -------------------------------------------------------------
#
# RFM inputs come from counted orders (status not cancelled or refunded). Days are
# calendar days in the account's timezone: `today` is the local date of `now`, an
# order's day is the local date of `ordered_at`. "Within N days" means at most N days
# before today, inclusive (an order exactly 365 days ago still counts in the 365-day
# window; recency_days = today - last order day).
#
# Quintiles (tie rule). Over the population of customers with at least one counted
# order (the buyers), N of them, a customer whose value is v gets
#     q = ceil(5 * c / N),  c = how many buyers have a value <= v
# (for recency: a recency_days >= theirs, so 5 = most recent). That is ceil(5 x
# cume_dist), computed in integers so that no float rounding moves a boundary. Equal
# values always share a quintile (the highest their group reaches) and the answer does
# not depend on row order. One customer alone, or all equal, is quintile 5.
#
# Ranking a million customers takes seconds, so the population is summed up in the
# account's HealthThresholds (see the model: 4 thresholds per measure, exact for every
# buyer of the snapshot), computed from the orders alone by `health_thresholds_compute`
# and refreshed by beat and on demand (customers.services.health_thresholds_current).
# A customer's health then reads only their own orders and interactions.


# The orders table, through the customers' `orders` relation: the orders app depends
# on customers (its orders point at them and it maintains their aggregates), so
# customers reads orders through Django's registry, never by importing the app.
def _orders() -> Any:
    return Customer._meta.get_field("orders").related_model


def _orders_table() -> str:
    return str(_orders()._meta.db_table)


def _uncounted() -> list[str]:
    return [str(status) for status in _orders().UNCOUNTED_STATUSES]


def customer_has_orders(customer: Customer) -> bool:
    return customer.orders.exists()


# Per customer (restricted by {customers_filter} / {orders_filter}): the RFM inputs.
_VALUES_SQL = """
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
     WHERE o.account_id = %(account)s AND o.status <> ALL(%(uncounted)s) {orders_filter}
     GROUP BY o.customer_id
),
buyers AS (
    SELECT k.customer_id, k.orders_count, k.frequency_365d, k.monetary_365d,
           -- an order dated in the future counts as today
           greatest(p.today - k.last_order_day, 0) AS recency_days
      FROM counted k CROSS JOIN params p
)
"""

# The thresholds of the account's buyers (see HealthThresholds).
_THRESHOLDS_SQL = """
, ranked AS (
    SELECT recency_days, frequency_365d, monetary_365d,
           count(*) OVER (ORDER BY recency_days DESC) AS c_r,
           count(*) OVER (ORDER BY frequency_365d) AS c_f,
           count(*) OVER (ORDER BY monetary_365d) AS c_m,
           count(*) OVER () AS n
      FROM buyers
),
per_quintile AS (
    SELECT k, max(n) AS n,
           max(recency_days) FILTER (WHERE 5 * c_r > k * n) AS r,
           min(frequency_365d) FILTER (WHERE 5 * c_f > k * n) AS f,
           min(monetary_365d) FILTER (WHERE 5 * c_m > k * n) AS m
      FROM ranked CROSS JOIN generate_series(1, 4) AS k
     GROUP BY k
)
SELECT (SELECT today FROM params), coalesce(max(n), 0),
       coalesce(array_agg(r ORDER BY k) FILTER (WHERE n IS NOT NULL), '{{}}'),
       coalesce(array_agg(f ORDER BY k) FILTER (WHERE n IS NOT NULL), '{{}}'),
       coalesce(array_agg(m ORDER BY k) FILTER (WHERE n IS NOT NULL), '{{}}')
  FROM per_quintile
"""

# Every customer's (restricted) quintiles, score and lifecycle, given thresholds.
_CLASSIFIED_SQL = """
, base AS (
    SELECT c.id, p.today,
           p.today - (c.created_at AT TIME ZONE %(tz)s)::date AS age_days,
           coalesce(b.orders_count, 0) AS orders_count,
           b.recency_days,
           coalesce(b.frequency_365d, 0) AS frequency_365d,
           coalesce(b.monetary_365d, 0) AS monetary_365d
      FROM {customers} c CROSS JOIN params p
      LEFT JOIN buyers b ON b.customer_id = c.id
     WHERE c.account_id = %(account)s {customers_filter}
),
ranked AS (
    SELECT b.*,
           CASE WHEN b.orders_count > 0 THEN 1 + (
               SELECT count(*) FROM unnest(%(t_recency)s::int[]) t WHERE b.recency_days <= t)
           END AS r,
           CASE WHEN b.orders_count > 0 THEN 1 + (
               SELECT count(*) FROM unnest(%(t_frequency)s::int[]) t
                WHERE b.frequency_365d >= t)
           END AS f,
           CASE WHEN b.orders_count > 0 THEN 1 + (
               SELECT count(*) FROM unnest(%(t_monetary)s::numeric[]) t
                WHERE b.monetary_365d >= t)
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
"""

LIFECYCLES = tuple(Lifecycle.values)


@dataclass(frozen=True)
class Thresholds:
    """An account's quintile thresholds (HealthThresholds, stored or just computed)."""

    as_of: date
    buyers: int
    recency: list[int]
    frequency: list[int]
    monetary: list[Decimal]

    @classmethod
    def of(cls, stored: HealthThresholds) -> "Thresholds":
        return cls(
            as_of=stored.as_of,
            buyers=stored.buyers,
            recency=list(stored.recency),
            frequency=list(stored.frequency),
            monetary=list(stored.monetary),
        )


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


def _params(account: Account, now: datetime | None) -> dict[str, Any]:
    return {
        "now": now or timezone.now(),
        "tz": str(account_zone(account)),
        "account": account.pk,
        "uncounted": _uncounted(),
    }


def _threshold_params(thresholds: Thresholds) -> dict[str, Any]:
    return {
        "t_recency": thresholds.recency,
        "t_frequency": thresholds.frequency,
        "t_monetary": thresholds.monetary,
    }


def _sql(*parts: str, customer_ids: bool = False) -> str:
    return "".join(parts).format(
        orders=_orders_table(),
        customers=Customer._meta.db_table,
        interactions=Interaction._meta.db_table,
        orders_filter="AND o.customer_id = ANY(%(ids)s::uuid[])" if customer_ids else "",
        customers_filter="AND c.id = ANY(%(ids)s::uuid[])" if customer_ids else "",
    )


def health_thresholds_compute(account: Account, *, now: datetime | None = None) -> Thresholds:
    """The account's thresholds as of `now` (default: now), from its counted orders
    (one query; seconds for a million buyers)."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_VALUES_SQL, _THRESHOLDS_SQL), _params(account, now))
        as_of, buyers, recency, frequency, monetary = cursor.fetchone()
    return Thresholds(
        as_of=as_of,
        buyers=int(buyers),
        recency=[int(v) for v in recency],
        frequency=[int(v) for v in frequency],
        monetary=[Decimal(v) for v in monetary],
    )


def health_thresholds_stored(account: Account) -> HealthThresholds | None:
    return HealthThresholds.objects.filter(account=account).first()


def customer_health(
    account: Account,
    customer: Customer,
    *,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> CustomerHealth:
    """The customer's score, grade, risk and lifecycle (SPEC: Customers, health), their
    quintiles read from `thresholds` (default: computed now, over the whole account)."""
    if thresholds is None:
        thresholds = health_thresholds_compute(account, now=now)
    sql = _sql(_VALUES_SQL, _CLASSIFIED_SQL, _HEALTH_ONE, customer_ids=True)
    params = {
        **_params(account, now),
        **_threshold_params(thresholds),
        "ids": [str(customer.pk)],
    }
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


# Every customer's lifecycle from their own row: the spend aggregates and the 365-day
# statistics the orders app keeps on it (Customer.orders_365d and after), computed from
# the orders here only for the buyers whose statistics are not of `today` (undated, of
# a later day, or past their oldest order's leaving). The rules are _CLASSIFIED_SQL's,
# with the quintiles a lifecycle needs read as two bounds: m = 5 is a 365-day spend at
# least the highest monetary threshold, f >= 4 a count at least the third frequency
# threshold (none: no vip).
# A buyer's statistics are not of {today}: undated, of a later day, or past the day
# their oldest order left the window (the one rule of the counts and of beat).
_STATS_NOT_OF = "(c.stats_day IS NULL OR c.stats_day > {today} OR c.stats_until <= {today})"
_STATS_STALE = f"(c.total_orders > 0 AND {_STATS_NOT_OF.format(today='p.today')})"
_STATS_WINDOW = """
FROM {orders} o WHERE o.account_id = c.account_id AND o.customer_id = c.id
 AND o.status <> ALL(%(uncounted)s)
 AND (o.ordered_at AT TIME ZONE %(tz)s)::date >= p.today - 365
"""
_BUCKET_COUNTS = ",\n       ".join(
    f"count(*) FILTER (WHERE lifecycle = '{bucket}')" for bucket in LIFECYCLES
)
_LIFECYCLE_COUNTS_STORED = f"""
WITH params AS (
    SELECT t.today,
           -- The first instants of the days 30, 90 and 365 days before today in the
           -- account's timezone: "at most N days ago" compares a time to one of them
           -- instead of converting every customer's times to local days.
           ((t.today - 30)::timestamp AT TIME ZONE %(tz)s) AS from_30,
           ((t.today - 90)::timestamp AT TIME ZONE %(tz)s) AS from_90,
           ((t.today - 365)::timestamp AT TIME ZONE %(tz)s) AS from_365
      FROM (SELECT (%(now)s::timestamptz AT TIME ZONE %(tz)s)::date AS today) t
),
base AS (
    SELECT c.total_orders AS orders_count,
           -- age_days > 365 and <= 30; recency_days > 365 and > 90 (buyers only)
           c.created_at < p.from_365 AS old,
           c.created_at >= p.from_30 AS young,
           c.total_orders > 0 AND c.last_order_date < p.from_365 AS lapsed,
           c.total_orders > 0 AND c.last_order_date < p.from_90 AS quiet,
           CASE WHEN {_STATS_STALE} THEN (SELECT count(*) {_STATS_WINDOW})
                ELSE c.orders_365d END AS frequency_365d,
           CASE WHEN {_STATS_STALE} THEN (SELECT coalesce(sum(o.amount), 0) {_STATS_WINDOW})
                ELSE c.spend_365d END AS monetary_365d,
           c.created_at, c.last_order_date, c.lifetime_spend,
           (%(created_from)s::timestamptz IS NULL OR c.created_at >= %(created_from)s)
           AND (%(created_to)s::timestamptz IS NULL OR c.created_at < %(created_to)s)
               AS created_within
      FROM {{customers}} c CROSS JOIN params p
     WHERE c.account_id = %(account)s
    -- No fence: each figure is used once below, so the planner's flattening computes
    -- none twice (a fence here cost about a sixth of the pass at 1M customers).
),
classified AS (
    SELECT CASE
               WHEN lapsed OR (orders_count = 0 AND old) THEN 'churned'
               WHEN orders_count > 0 AND monetary_365d >= %(vip_monetary)s
                    AND frequency_365d >= %(vip_frequency)s THEN 'vip'
               WHEN young AND orders_count <= 1 THEN 'new'
               WHEN quiet THEN 'at_risk'
               ELSE 'active'
           END AS lifecycle,
           created_within, created_at, last_order_date, lifetime_spend
      FROM base
    OFFSET 0  -- each row's bucket computed once, not once per count below
)
-- One plain aggregate (a GROUP BY over a computed bucket sorted a million rows)
SELECT {_BUCKET_COUNTS},
       count(*) FILTER (WHERE created_within),
       count(*) FILTER (WHERE created_within AND created_at >= %(recent_from)s),
       count(*) FILTER (WHERE created_within AND last_order_date >= %(active_from)s),
       coalesce(sum(lifetime_spend) FILTER (WHERE created_within), 0)
  FROM classified
"""  # noqa: S608  (table names from the models, values are parameters)


@dataclass(frozen=True)
class CustomerCounts:
    """Every lifecycle bucket's count (every customer in one), and of the customers
    created in a window: how many, how many of them created since `recent_from`, with a
    last counted order since `active_from`, and their lifetime spend's sum."""

    by_lifecycle: dict[str, int]
    created: int
    created_recent: int
    created_active: int
    created_spend: Decimal


def customer_counts(
    account: Account,
    *,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    recent_from: datetime | None = None,
    active_from: datetime | None = None,
) -> CustomerCounts:
    """One pass over the account's customers (see _LIFECYCLE_COUNTS_STORED), quintiles
    read from `thresholds` (default: computed now)."""
    if thresholds is None:
        thresholds = health_thresholds_compute(account, now=now)
    monetary = sorted(thresholds.monetary)
    frequency = sorted(thresholds.frequency)
    params = {
        **_params(account, now),
        # m = 5: at least every threshold; f >= 4: at least three of them.
        "vip_monetary": monetary[3] if len(monetary) >= 4 else None,
        "vip_frequency": frequency[2] if len(frequency) >= 4 else None,
        "created_from": created_from,
        "created_to": created_to,
        "recent_from": recent_from,
        "active_from": active_from,
    }
    # The pass reads the figures index alone (customer_figures_idx): the planner, which
    # prices its pages as random reads, would read the whole heap instead, wider rows
    # whose figures come last (0.85 s against 0.6 s at a million customers).
    with local_settings(enable_seqscan="off"), connection.cursor() as cursor:
        cursor.execute(_sql(_LIFECYCLE_COUNTS_STORED), params)
        row = cursor.fetchone()
    buckets = len(LIFECYCLES)
    created, recent, active, spend = row[buckets:]
    return CustomerCounts(
        by_lifecycle={bucket: int(count) for bucket, count in zip(LIFECYCLES, row, strict=False)},
        created=int(created),
        created_recent=int(recent),
        created_active=int(active),
        created_spend=Decimal(spend),
    )


def customer_lifecycle_counts(
    account: Account, *, now: datetime | None = None, thresholds: Thresholds | None = None
) -> dict[str, int]:
    """How many customers are in each lifecycle bucket; every customer is in one."""
    return customer_counts(account, now=now, thresholds=thresholds).by_lifecycle


def customer_lifecycles(
    account: Account,
    customer_ids: list[Any],
    *,
    thresholds: Thresholds,
    now: datetime | None = None,
) -> dict[Any, str]:
    """The lifecycle bucket of these customers, by the health query's own rules, from
    their orders."""
    sql = _sql(
        _VALUES_SQL,
        _CLASSIFIED_SQL,
        "SELECT id, lifecycle FROM classified",
        customer_ids=True,
    )
    params = {
        **_params(account, now),
        **_threshold_params(thresholds),
        "ids": [str(pk) for pk in customer_ids],
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


# --- Follow-ups -----------------------------------------------------------------------
#
# An interaction awaits its follow-up when its next action is due (`next_action_date` at
# or before now: a datetime, stored in UTC, so "passed" needs no timezone), it is not
# completed, and it has no follow-up yet. The one definition serves the account's
# processing (customers.services.followups_process) and beat's fan-out
# (customers.tasks), and is served by the partial index interaction_due_idx.


def _awaiting_followup(now: datetime) -> Q:
    due = Q(
        completed=False,
        next_action_date__isnull=False,
        next_action_date__lte=now,
    )
    return due & Q(~Exists(FollowUp.objects.filter(interaction=OuterRef("pk"))))


def followup_agent() -> Coalesce:
    """Whom a follow-up is for: the interaction's agent, else the customer's or the
    lead's assigned_to (else nobody: the follow-up is unassigned)."""
    return Coalesce("agent_id", "customer__assigned_to_id", "lead__assigned_to_id")


def interactions_awaiting_followup(account: Account, *, now: datetime) -> QuerySet[Interaction]:
    return Interaction.objects.filter(_awaiting_followup(now), account=account)


def accounts_awaiting_followups(*, now: datetime) -> list[uuid.UUID]:
    """The ids of the active accounts with an interaction awaiting its follow-up: beat's
    read across accounts (call it inside `unscoped()`)."""
    due = Interaction.objects.filter(_awaiting_followup(now), account=OuterRef("pk"))
    return list(
        Account.objects.exclude(status=AccountStatus.INACTIVE)
        .filter(Exists(due))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def followup_list(account: Account) -> QuerySet[FollowUp]:
    """The account's open follow-ups, soonest due first. One whose interaction was
    completed by other means (its own API) has nothing left to follow up: not listed."""
    return (
        FollowUp.objects.filter(
            account=account, status=FollowUpStatus.OPEN, interaction__completed=False
        )
        .select_related("interaction")
        .order_by("due_at", "id")
    )


def followup_get(account: Account, followup_id: Any) -> FollowUp | None:
    """The account's follow-up (open or completed), or None for a missing, foreign or
    malformed id."""
    try:
        pk = uuid.UUID(str(followup_id))
    except ValueError:
        return None
    return FollowUp.objects.filter(account=account, pk=pk).select_related("interaction").first()


# --- 365-day order statistics due again ---------------------------------------------
#
# A buyer's statistics (Customer.orders_365d and after) are due when they are undated
# or no longer true today in the account's timezone (see Customer.stats_until).

_STATS_DUE_SQL = f"""
SELECT {{select}}
  FROM {{customers}} c JOIN {{accounts}} a ON a.id = c.account_id
 WHERE a.status <> '{AccountStatus.INACTIVE}' AND c.total_orders > 0 {{account}}
   AND {_STATS_NOT_OF.format(today="(now() AT TIME ZONE a.timezone)::date")}
"""  # noqa: S608  (table names from the models)


def _stats_due(select: str, account: str) -> str:
    return _STATS_DUE_SQL.format(
        select=select,
        customers=Customer._meta.db_table,
        accounts=Account._meta.db_table,
        account=account,
    )


def accounts_with_order_stats_due() -> list[uuid.UUID]:
    """The accounts with a buyer whose statistics are due (call it inside
    `unscoped()`: beat's read across accounts)."""
    with connection.cursor() as cursor:
        cursor.execute(_stats_due("DISTINCT c.account_id", "") + " ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def customers_with_order_stats_due(account: Account) -> list[uuid.UUID]:
    with connection.cursor() as cursor:
        cursor.execute(_stats_due("c.id", "AND c.account_id = %s") + " ORDER BY 1", [account.pk])
        return [row[0] for row in cursor.fetchall()]
