"""The account's figures (`GET /api/v1/account/statistics/`): its people, how many of
them engaged, and what the ledger sent, delivered, had clicked and unsubscribed, over
all time or within [start, end)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q

from accounts.models import Account
from campaigns import selectors as campaign_selectors
from crm_project.api.pagination import row_count
from customers.models import CUSTOMER_COUNTER, Customer, Interaction


def _within(column: str, start: datetime | None, end: datetime | None) -> Q:
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{column}__gte": start})
    if end is not None:
        condition &= Q(**{f"{column}__lt": end})
    return condition


def _ratio(part: int, whole: int) -> float:
    """part / whole in 0..1 with four places (0 for nothing delivered). Within a window
    a click may count while its delivery fell before the window: capped at 1."""
    if not whole:
        return 0.0
    ratio = min(Decimal(part) / Decimal(whole), Decimal(1))
    return float(ratio.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def lead_count(account: Account, *, start: datetime | None, end: datetime | None) -> int:
    # Extension point (issue 12, the leads app): the account's leads acquired within
    # the window. There are no leads before that app lands.
    return 0


def engaged_customers(account: Account, *, start: datetime | None, end: datetime | None) -> Q:
    """Customers with an interaction dated within the window, or a click on a message
    within it. Feedback joins them when the feedback app lands; engaged leads (an
    interaction or a click of a lead) with the leads app (issue 12)."""
    interacted = Interaction.objects.filter(
        _within("date", start, end), account=account, customer__isnull=False
    ).values("customer_id")
    clicked = campaign_selectors.customers_clicked(account, start=start, end=end)
    return Q(pk__in=interacted) | Q(pk__in=clicked)


def account_statistics(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """lead_count and customer_count (created within the window), engaged_count
    (distinct leads and customers with an interaction, a click or feedback),
    sent/delivered/click/unsubscribe counts of the ledger (each by the time of its own
    event) and ctr = clicks / delivered (0..1)."""
    customers = Customer.objects.filter(account=account)
    if start is None and end is None:
        customer_count = row_count(CUSTOMER_COUNTER)  # the counter: no COUNT(*) of them
    else:
        customer_count = customers.filter(_within("created_at", start, end)).count()
    engaged = customers.filter(engaged_customers(account, start=start, end=end)).count()
    ledger = campaign_selectors.message_statistics(account, start=start, end=end)
    return {
        "lead_count": lead_count(account, start=start, end=end),
        "customer_count": customer_count,
        "engaged_count": engaged,
        "unsubscribe_count": ledger["unsubscribe_count"],
        "delivered_count": ledger["delivered_count"],
        "sent_count": ledger["sent_count"],
        "click_count": ledger["click_count"],
        "ctr": _ratio(ledger["click_count"], ledger["delivered_count"]),
    }
