"""The reports (SPEC "Reports"): each a handful of set-based queries, whatever the
account's size. A window [start, end) filters by creation time (None: open)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import agent_list
from campaigns import selectors as campaign_selectors
from crm_project import rollups
from crm_project.datetimes import account_zone
from crm_project.ratios import average, ratio
from customers.selectors import Thresholds, customer_counts, customer_list
from feedback import selectors as feedback_selectors
from leads.models import Lead, LeadDay, LeadDayDimension, LeadSource, LeadStatus
from loyalty import selectors as loyalty_selectors
from orders.models import UNCOUNTED_STATUSES, Order, OrderDay

NEW_DAYS = 30
UNASSIGNED = "unassigned"
SECONDS_PER_DAY = 86_400


# --- Leads ------------------------------------------------------------------------------
#
# The leads report reads the rollup kept with the leads (leads.models.LeadDay: per UTC
# day, a row per status, source and agent) for the whole days of the window, and the
# leads themselves only for the part-days at its edges (the created_at index finds
# them): a handful of queries over thousands of rows, whatever the number of leads.


@dataclass
class _Figures:
    """Counts per dimension value, with the scores' and conversion times' sums (read
    from the status dimension: each lead once)."""

    by: dict[str, dict[str, int]] = field(
        default_factory=lambda: {dimension: {} for dimension in LeadDayDimension.values}
    )
    score_sum: int = 0
    convert_seconds: float = 0

    def add(self, dimension: str, value: str, leads: int, score: int, seconds: float) -> None:
        counts = self.by[dimension]
        counts[value] = counts.get(value, 0) + leads
        if dimension == LeadDayDimension.STATUS:
            self.score_sum += score
            self.convert_seconds += seconds

    @property
    def total(self) -> int:
        return sum(self.by[LeadDayDimension.STATUS].values())


def _lead_figures(account: Account, start: datetime | None, end: datetime | None) -> _Figures:
    figures = _Figures()
    days, edges = rollups.day_split(start, end, UTC)
    if days is not None:
        rows = LeadDay.objects.filter(account=account)
        if days[0] is not None:
            rows = rows.filter(day__gte=days[0])
        if days[1] is not None:
            rows = rows.filter(day__lt=days[1])
        for dimension, value, leads, score, seconds in (
            rows.order_by()
            .values_list("dimension", "value")
            .annotate(n=Sum("leads"), score=Sum("score_sum"), seconds=Sum("convert_seconds"))
        ):
            figures.add(dimension, value, leads, score, seconds)
    converted = Q(status=LeadStatus.CONVERTED, converted_at__isnull=False)
    for edge_start, edge_end in edges:
        leads = Lead.objects.filter(
            rollups.within("created_at", edge_start, edge_end), account=account
        )
        for status, source, agent_id, count, score, seconds in (
            leads.order_by()
            .values_list("status", "source", "assigned_to_id")
            .annotate(
                n=Count("id"),
                score_sum=Sum("score"),
                spent=Sum(F("converted_at") - F("created_at"), filter=converted),
            )
        ):
            spent = seconds.total_seconds() if seconds is not None else 0.0
            figures.add(LeadDayDimension.STATUS, status, count, score or 0, spent)
            figures.add(LeadDayDimension.SOURCE, source, count, 0, 0.0)
            figures.add(LeadDayDimension.AGENT, str(agent_id or ""), count, 0, 0.0)
    return figures


def lead_report(
    account: Account,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The leads created in [start, end): total; by_status, by_source and by_agent
    (every status, source and agent of the account named, zeros included; leads of no
    agent under "unassigned"); conversion_rate = converted / total (0..1; converted is
    the status, as in by_status); average_score; average_days_to_convert (created_at to
    converted_at of the converted ones); new_last_30_days (of them, created in the last
    30 days). Averages over no lead are None."""
    now = now or timezone.now()
    figures = _lead_figures(account, start, end)
    recent_from = now - timedelta(days=NEW_DAYS)
    recent = _lead_figures(account, max(start, recent_from) if start else recent_from, end)
    statuses = figures.by[LeadDayDimension.STATUS]
    by_status = {value: statuses.get(value, 0) for value in LeadStatus.values}
    sources = figures.by[LeadDayDimension.SOURCE]
    agents = figures.by[LeadDayDimension.AGENT]
    by_agent = {
        str(pk): agents.get(str(pk), 0) for pk in agent_list(account).values_list("pk", flat=True)
    }
    by_agent[UNASSIGNED] = agents.get("", 0)
    total = figures.total
    converted = by_status[LeadStatus.CONVERTED]
    return {
        "total": total,
        "by_status": by_status,
        "by_source": {value: sources.get(value, 0) for value in LeadSource.values},
        "by_agent": by_agent,
        "conversion_rate": ratio(converted, total),
        "average_score": average(Decimal(figures.score_sum) / total) if total else None,
        "average_days_to_convert": (
            average(figures.convert_seconds / converted / SECONDS_PER_DAY) if converted else None
        ),
        "new_last_30_days": recent.total,
    }


# --- Customers --------------------------------------------------------------------------
#
# Customer figures filter the window by the customers' creation time and read the spend
# aggregates the orders app keeps on each customer (lifetime_spend, total_orders,
# last_order_date: counted orders only); order figures filter it by the orders' time and
# read the orders table in one grouped query. "The last N days" are calendar days in the
# account's timezone, as the customers' lifecycle counts them (customers.selectors): from
# 00:00 of the day N days before today, today included.

ACTIVE_DAYS = 90
TOP_CUSTOMERS = 10
CENTS = Decimal("0.01")

# Counted orders of the window, per month of the account's timezone, read from the
# orders' rollup (orders.models.OrderDay: per day of the account's timezone) for the
# whole days of the window and from the orders themselves for the part-days at its
# edges (the ordered_at index finds them). With both sides of the window given every
# month it touches is listed (zeros included); with an open side the months run from
# the first (to the last) order month the window holds.
_REVENUE_BY_MONTH_SQL = """
WITH days AS (
    SELECT d.day, d.orders, d.revenue
      FROM {order_days} d
     WHERE d.account_id = %(account)s {days}
    {edges}
),
monthly AS (
    SELECT date_trunc('month', day)::timestamp AS month,
           sum(revenue) AS revenue, sum(orders) AS orders
      FROM days GROUP BY 1 HAVING sum(orders) <> 0
),
span AS (
    SELECT coalesce(%(first)s::timestamp, min(month)) AS first,
           coalesce(%(last)s::timestamp, max(month)) AS last
      FROM monthly
)
SELECT to_char(s.month, 'YYYY-MM'), coalesce(m.revenue, 0), coalesce(m.orders, 0)
  FROM span CROSS JOIN generate_series(span.first, span.last, interval '1 month') AS s(month)
  LEFT JOIN monthly m ON m.month = s.month
 ORDER BY s.month
"""

_EDGE_ORDERS_SQL = """
    UNION ALL
    SELECT (o.ordered_at AT TIME ZONE %(tz)s)::date, 1, o.amount
      FROM {orders} o
     WHERE o.account_id = %(account)s AND o.status <> ALL(%(uncounted)s) AND ({within})
"""


def _local_midnight_days_ago(account: Account, now: datetime, days: int) -> datetime:
    """00:00, in the account's timezone, of the day `days` before today there."""
    zone = account_zone(account)
    day = now.astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(day, time.min, tzinfo=zone)


def _month_of(moment: datetime, account: Account) -> datetime:
    """The first day (a naive local timestamp, as date_trunc gives it) of the month of
    `moment` in the account's timezone."""
    local = moment.astimezone(account_zone(account))
    return datetime(local.year, local.month, 1)


# A bounded window lists every month it touches, empty ones with zeros, up to this many
# months; a wider one lists the months from its first order to its last.
MAX_FILLED_MONTHS = 240


def _months_between(start: Any, end: Any, account: Account) -> int:
    first, last = _month_of(start, account), _month_of(end, account)
    return (last.year - first.year) * 12 + last.month - first.month


# Enough digits for any sum of amounts (customers.models.SPEND_DIGITS and more).
MONEY_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)


def money(value: Decimal | None) -> Decimal:
    """An amount with two places, half-up (0.00 for none)."""
    return (value or Decimal(0)).quantize(CENTS, context=MONEY_CONTEXT)


def _revenue_by_month(
    account: Account, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    bounded = start is not None and end is not None
    if bounded and _months_between(start, end, account) > MAX_FILLED_MONTHS:
        bounded = False  # a century-wide window lists its orders' months, not 1,200 zeros
    params: dict[str, Any] = {
        "tz": str(account_zone(account)),
        "account": account.pk,
        "uncounted": [str(status) for status in UNCOUNTED_STATUSES],
        # The window's own months when it is bounded: zeros before the first order and
        # after the last one; [start, end) ends in the month of its last microsecond.
        "first": _month_of(start, account) if bounded and start else None,
        "last": _month_of(end - timedelta(microseconds=1), account) if bounded and end else None,
    }
    days, edges = rollups.day_split(start, end, account_zone(account))
    days_sql = "AND false"
    if days is not None:
        days_sql = ""
        if days[0] is not None:
            days_sql += " AND d.day >= %(first_day)s"
            params["first_day"] = days[0]
        if days[1] is not None:
            days_sql += " AND d.day < %(last_day)s"
            params["last_day"] = days[1]
    edges_sql = ""
    if edges:
        within_sql = []
        for n, (edge_start, edge_end) in enumerate(edges):
            within_sql.append(f"(o.ordered_at >= %(e{n}s)s AND o.ordered_at < %(e{n}e)s)")
            params[f"e{n}s"], params[f"e{n}e"] = edge_start, edge_end
        edges_sql = _EDGE_ORDERS_SQL.format(
            orders=Order._meta.db_table, within=" OR ".join(within_sql)
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _REVENUE_BY_MONTH_SQL.format(
                order_days=OrderDay._meta.db_table, days=days_sql, edges=edges_sql
            ),
            params,
        )
        rows = cursor.fetchall()
    return [
        {"month": month, "revenue": money(revenue), "orders": int(orders)}
        for month, revenue, orders in rows
    ]


def _top_spenders(buyers: Any, *, windowed: bool) -> list[tuple[Any, ...]]:
    """The TOP_CUSTOMERS highest lifetime spends of `buyers` (highest first, then the
    newest id): without a window the spend index, read backwards, finds them at once;
    with one it would read past every big spender created outside the window, so the
    window's buyers are ranked from the customers' figures index instead (an
    index-only pass: the sort key is an expression, which no index orders) and only
    the winners' names read."""
    columns = ("pk", "first_name", "last_name", "lifetime_spend", "total_orders")
    if not windowed:
        return list(buyers.order_by("-lifetime_spend", "-id").values_list(*columns)[:TOP_CUSTOMERS])
    ids = list(
        buyers.annotate(spend_key=F("lifetime_spend") + 0)
        .order_by("-spend_key", "-id")
        .values_list("pk", flat=True)[:TOP_CUSTOMERS]
    )
    rows = {row[0]: row for row in buyers.filter(pk__in=ids).values_list(*columns)}
    return [rows[pk] for pk in ids if pk in rows]


def customer_report(
    account: Account,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """The customers report within [start, end) (SPEC "Reports"):

    - of the customers created in the window: `total`; `new_last_30_days`, those
      created in the last 30 days; `active_last_90_days`, those whose last counted
      order (not cancelled or refunded) is in the last 90 days; `average_lifetime_spend`
      ("0.00" without customers); `top_customers`, the 10 with the highest lifetime
      spend among those with a counted order ({id, name, lifetime_spend, total_orders},
      highest first);
    - of the counted orders placed in the window: `total_revenue`, and
      `revenue_by_month` [{month "YYYY-MM" in the account's timezone, revenue,
      orders}], oldest first. When the window has both ends every month it touches is
      listed, empty ones with zeros; with an open side the months run from the first
      order month in the window (or the window's start month) to the last one (or the
      window's end month), empty ones between them with zeros; no order and an open
      side: no month;
    - `by_lifecycle`: every lifecycle bucket (zeros included) over every customer of
      the account now, as customers.selectors classifies them (not windowed: a
      lifecycle is a customer's state today), quintiles read from `thresholds`
      (default: computed now).

    Money as Decimals with two places. Three queries (a window's top spenders take two,
    computing thresholds one more): one pass over the customers for the window's
    figures and every lifecycle, the top spenders, the revenue rollup."""
    now = now or timezone.now()
    created = rollups.within("created_at", start, end)
    recent_from = _local_midnight_days_ago(account, now, NEW_DAYS)
    active_from = _local_midnight_days_ago(account, now, ACTIVE_DAYS)
    counts = customer_counts(
        account,
        now=now,
        thresholds=thresholds,
        created_from=start,
        created_to=end,
        recent_from=recent_from,
        active_from=active_from,
    )
    total = counts.created
    customers = customer_list(account).filter(created).order_by()
    top = _top_spenders(customers.filter(total_orders__gt=0), windowed=bool(start or end))
    months = _revenue_by_month(account, start, end)
    return {
        "total": total,
        "new_last_30_days": counts.created_recent,
        "active_last_90_days": counts.created_active,
        "total_revenue": money(
            functools.reduce(MONEY_CONTEXT.add, (month["revenue"] for month in months), Decimal(0))
        ),
        "average_lifetime_spend": money(
            MONEY_CONTEXT.divide(counts.created_spend, total) if total else None
        ),
        "revenue_by_month": months,
        "top_customers": [
            {
                "id": pk,
                "name": f"{first_name} {last_name}".strip(),
                "lifetime_spend": money(spend),
                "total_orders": orders,
            }
            for pk, first_name, last_name, spend, orders in top
        ],
        "by_lifecycle": counts.by_lifecycle,
    }


# --- The analytics dashboard ------------------------------------------------------------


def analytics_dashboard(
    account: Account,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Every summary of the account within one window [start, end): `leads` and
    `customers` (the two reports, exactly as their endpoints answer them), `campaigns`
    (campaigns.selectors.campaigns_summary), `feedback` (the feedback analytics) and
    `loyalty` (loyalty.selectors.loyalty_summary). The one source for the API and the
    back-office page."""
    now = now or timezone.now()
    return {
        "leads": lead_report(account, start=start, end=end, now=now),
        "customers": customer_report(account, start=start, end=end, now=now, thresholds=thresholds),
        "campaigns": campaign_selectors.campaigns_summary(account, start=start, end=end),
        "feedback": feedback_selectors.feedback_analytics(account, start=start, end=end),
        "loyalty": loyalty_selectors.loyalty_summary(account, start=start, end=end),
    }
