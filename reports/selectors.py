"""The reports (SPEC "Reports"): each a handful of set-based queries, whatever the
account's size. A window [start, end) filters by creation time (None: open)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import agent_list
from crm_project.ratios import average, ratio
from leads.models import Lead, LeadSource, LeadStatus

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


def _leads(account: Account, start: datetime | None, end: datetime | None) -> QuerySet[Lead]:
    return Lead.objects.filter(within("created_at", start, end), account=account).order_by()


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
    30 days). Averages over no lead are None.

    Two passes over the leads: one aggregate for the totals, statuses and sources, one
    grouped by agent; and the account's agents."""
    now = now or timezone.now()
    leads = _leads(account, start, end)
    converted = Q(status=LeadStatus.CONVERTED)
    figures = leads.aggregate(
        total=Count("id"),
        average_score=Avg("score"),
        average_days_to_convert=Avg(F("converted_at") - F("created_at"), filter=converted),
        new_last_30_days=Count("id", filter=Q(created_at__gte=now - timedelta(days=NEW_DAYS))),
        **{f"status_{value}": Count("id", filter=Q(status=value)) for value in LeadStatus.values},
        **{f"source_{value}": Count("id", filter=Q(source=value)) for value in LeadSource.values},
    )
    agents = agent_list(account).values_list("pk", flat=True)
    by_agent: dict[str, int] = {str(pk): 0 for pk in agents}
    by_agent[UNASSIGNED] = 0
    for agent_id, count in leads.values_list("assigned_to_id").annotate(n=Count("id")):
        by_agent[UNASSIGNED if agent_id is None else str(agent_id)] = count
    total = figures["total"]
    by_status = {value: figures[f"status_{value}"] for value in LeadStatus.values}
    days: timedelta | None = figures["average_days_to_convert"]
    return {
        "total": total,
        "by_status": by_status,
        "by_source": {value: figures[f"source_{value}"] for value in LeadSource.values},
        "by_agent": by_agent,
        "conversion_rate": ratio(by_status[LeadStatus.CONVERTED], total),
        "average_score": average(figures["average_score"]),
        "average_days_to_convert": (
            None if days is None else average(days.total_seconds() / SECONDS_PER_DAY)
        ),
        "new_last_30_days": figures["new_last_30_days"],
    }
