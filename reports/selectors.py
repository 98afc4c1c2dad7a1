"""The reports (SPEC "Reports"): each a handful of set-based queries, whatever the
account's size. A window [start, end) filters by creation time (None: open)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import agent_list
from crm_project.ratios import average, ratio
from leads.models import Lead, LeadDay, LeadDayDimension, LeadSource, LeadStatus

NEW_DAYS = 30
UNASSIGNED = "unassigned"
SECONDS_PER_DAY = 86_400


def within(column: str, start: datetime | None, end: datetime | None) -> Q:
    """`column` in [start, end); an open side is not compared."""
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{column}__gte": start})
    if end is not None:
        condition &= Q(**{f"{column}__lt": end})
    return condition


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


def _midnight(moment: datetime, *, up: bool) -> datetime:
    """The UTC midnight at or before `moment` (after it, with `up`, unless it is one)."""
    moment = moment.astimezone(UTC)
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor + timedelta(days=1) if up and floor != moment else floor


def _split(
    start: datetime | None, end: datetime | None
) -> tuple[tuple[datetime | None, datetime | None] | None, list[tuple[datetime | None, datetime]]]:
    """[start, end) as (its whole UTC days, or None) and the part-days at its edges."""
    first = _midnight(start, up=True) if start is not None else None
    last = _midnight(end, up=False) if end is not None else None
    if first is not None and last is not None and first >= last:
        return None, [(start, end)] if end is not None else []
    edges: list[tuple[datetime | None, datetime]] = []
    if start is not None and first is not None and start < first:
        edges.append((start, first))
    if end is not None and last is not None and last < end:
        edges.append((last, end))
    return (first, last), edges


def _lead_figures(account: Account, start: datetime | None, end: datetime | None) -> _Figures:
    figures = _Figures()
    days, edges = _split(start, end)
    if days is not None:
        rows = LeadDay.objects.filter(account=account)
        if days[0] is not None:
            rows = rows.filter(day__gte=days[0].date())
        if days[1] is not None:
            rows = rows.filter(day__lt=days[1].date())
        for dimension, value, leads, score, seconds in (
            rows.order_by()
            .values_list("dimension", "value")
            .annotate(n=Sum("leads"), score=Sum("score_sum"), seconds=Sum("convert_seconds"))
        ):
            figures.add(dimension, value, leads, score, seconds)
    converted = Q(status=LeadStatus.CONVERTED, converted_at__isnull=False)
    for edge_start, edge_end in edges:
        leads = Lead.objects.filter(within("created_at", edge_start, edge_end), account=account)
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
