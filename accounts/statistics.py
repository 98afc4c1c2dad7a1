"""The account's figures (`GET /api/v1/account/statistics/`): its people, how many of
them engaged, and what the ledger sent, delivered, had clicked and unsubscribed, over
all time or within [start, end)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import Account
from campaigns import selectors as campaign_selectors
from crm_project.api.pagination import row_count
from crm_project.ratios import ratio
from customers.models import CUSTOMER_COUNTER, Customer, Interaction
from leads.models import LEAD_COUNTER, Lead


def _within(column: str, start: datetime | None, end: datetime | None) -> Q:
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{column}__gte": start})
    if end is not None:
        condition &= Q(**{f"{column}__lt": end})
    return condition


def lead_count(account: Account, *, start: datetime | None, end: datetime | None) -> int:
    """The account's leads created within the window (all time: the counter maintained
    with the rows, no COUNT(*) of a million leads)."""
    if start is None and end is None:
        return row_count(LEAD_COUNTER)
    return Lead.objects.filter(_within("created_at", start, end), account=account).count()


def engaged_customers(account: Account, *, start: datetime | None, end: datetime | None) -> Q:
    """Customers with an interaction dated within the window, or a click on a message
    within it. Feedback joins them when the feedback app lands."""
    interacted = Interaction.objects.filter(
        _within("date", start, end), account=account, customer__isnull=False
    ).values("customer_id")
    clicked = campaign_selectors.customers_clicked(account, start=start, end=end)
    return Q(pk__in=interacted) | Q(pk__in=clicked)


def engaged_leads(account: Account, *, start: datetime | None, end: datetime | None) -> QuerySet:
    """The distinct ids of leads with an interaction dated within the window, or a click
    on a message within it (one UNION of the two indexes' rows: the leads table itself
    is not read)."""
    interacted = (
        Interaction.objects.filter(_within("date", start, end), account=account)
        .filter(lead__isnull=False)
        .order_by()
        .values("lead_id")
    )
    clicked = campaign_selectors.leads_clicked(account, start=start, end=end).order_by()
    return interacted.union(clicked)


def unsubscribe_count(account: Account, *, start: datetime | None, end: datetime | None) -> int:
    """Customers and leads who unsubscribed within the window (from a message's link,
    the API or the admin alike: each keeps the time of its first unsubscribe)."""
    window = _within("unsubscribed_at", start, end) & Q(unsubscribed_at__isnull=False)
    customers = Customer.objects.filter(window, account=account).count()
    return customers + Lead.objects.filter(window, account=account).count()


def account_statistics(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """lead_count and customer_count (created within the window), engaged_count
    (distinct leads and customers with an interaction, a click or feedback),
    unsubscribe_count (customers and leads who unsubscribed), sent/delivered/click
    counts of the ledger (each by the time of its own event) and ctr = clicks /
    delivered (0..1)."""
    customers = Customer.objects.filter(account=account)
    if start is None and end is None:
        customer_count = row_count(CUSTOMER_COUNTER)  # the counter: no COUNT(*) of them
    else:
        customer_count = customers.filter(_within("created_at", start, end)).count()
    engaged = customers.filter(engaged_customers(account, start=start, end=end)).count()
    engaged += engaged_leads(account, start=start, end=end).count()
    ledger = campaign_selectors.message_statistics(account, start=start, end=end)
    return {
        "lead_count": lead_count(account, start=start, end=end),
        "customer_count": customer_count,
        "engaged_count": engaged,
        "unsubscribe_count": unsubscribe_count(account, start=start, end=end),
        "delivered_count": ledger["delivered_count"],
        "sent_count": ledger["sent_count"],
        "click_count": ledger["click_count"],
        "ctr": ratio(ledger["click_count"], ledger["delivered_count"]),
    }
