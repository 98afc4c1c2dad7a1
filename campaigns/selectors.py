"""Every non-trivial read of campaigns and the ledger: lists, stats (the counts over a
campaign's messages, read from their tallies: one grouped query for a page of
campaigns), recipients, audience previews and the ledger's figures for account
statistics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Lower, Trim

from accounts.models import Account
from campaigns.models import (
    DELIVERED_STATUSES,
    PENDING_STATUSES,
    SENT_STATUSES,
    Campaign,
    CampaignTally,
    Channel,
    Message,
    MessageStatus,
)
from crm_project import rollups
from crm_project.ratios import ratio
from crm_project.tenancy import account_scope, unscoped
from customers.models import Customer, CustomerStatus
from orders.models import PointOfSale
from segments import selectors as segment_selectors

SAMPLE_SIZE = 10
# What a campaign's tallies sum per status (CampaignTally).
TALLIED = ("messages", "opened", "clicked", "unsubscribed")


def campaign_list(account: Account) -> QuerySet[Campaign]:
    return Campaign.objects.filter(account=account).select_related("segment")


def campaign_get(account: Account, campaign_id: Any) -> Campaign | None:
    try:
        key = campaign_id if isinstance(campaign_id, uuid.UUID) else uuid.UUID(str(campaign_id))
    except ValueError:
        return None
    return campaign_list(account).filter(pk=key).first()


def _stats(tallies: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A campaign's stats from its tallies ({status: {messages, opened, clicked,
    unsubscribed}}): each message once in `audience_size` and in its status's figures,
    and in `opened`, `clicked`, `unsubscribed` when it was."""

    def messages(*statuses: str) -> int:
        return sum(tallies.get(status, {}).get("messages") or 0 for status in statuses)

    def tracked(name: str) -> int:
        return sum(figures[name] or 0 for figures in tallies.values())

    stats: dict[str, Any] = {
        "audience_size": messages(*MessageStatus.values),
        "queued": messages(*PENDING_STATUSES),
        "sent": messages(*SENT_STATUSES),
        "failed": messages(MessageStatus.FAILED),
        "skipped": messages(MessageStatus.SKIPPED),
        "delivered": messages(*DELIVERED_STATUSES),
        "opened": tracked("opened"),
        "clicked": tracked("clicked"),
        "unsubscribed": tracked("unsubscribed"),
        "bounced": messages(MessageStatus.BOUNCED),
    }
    stats["ctr"] = ratio(stats["clicked"], stats["delivered"])
    return stats


def _tallies(rows: QuerySet[CampaignTally], *by: str) -> dict[Any, dict[str, dict[str, int]]]:
    """{group: {status: {messages, opened, clicked, unsubscribed}}} of the tallies
    `rows`, summed by the columns `by` (a group is their values' tuple; () for none)."""
    tallies: dict[Any, dict[str, dict[str, int]]] = {}
    summed = rows.order_by().values_list(*by, "status").annotate(*(Sum(name) for name in TALLIED))
    for row in summed:
        group, status, figures = row[: len(by)], row[len(by)], row[len(by) + 1 :]
        tallies.setdefault(group, {})[status] = dict(zip(TALLIED, figures, strict=True))
    return tallies


def campaign_stats(account: Account, campaign_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """{campaign id: stats} for each of `campaign_ids` (zeros for one with no messages
    yet): its messages counted by status and tracking, read from the campaigns' tallies
    (CampaignTally, kept by the ledger's triggers in the writers' transactions: exact
    at once, whatever the number of messages) in one grouped query."""
    rows = CampaignTally.objects.filter(account=account, campaign__in=campaign_ids)
    tallies = _tallies(rows, "campaign_id")
    return {pk: _stats(tallies.get((pk,), {})) for pk in campaign_ids}


def campaign_recipients(
    account: Account, campaign: Campaign, *, status: str | None = None
) -> QuerySet[Message]:
    messages = Message.objects.filter(account=account, campaign=campaign.pk)
    if status:
        messages = messages.filter(status=status)
    return messages.order_by("id")


def _reachable(customers: QuerySet[Customer], channel: str) -> int:
    """How many of `customers` the channel would send to: not blocked, with an address,
    opted in, each address counted once (as the campaign would write them)."""
    column = "email" if channel == Channel.EMAIL else "phone"
    opt_in = "email_opt_in" if channel == Channel.EMAIL else "sms_opt_in"
    eligible = customers.exclude(status=CustomerStatus.BLOCKED).exclude(**{column: ""})
    eligible = eligible.filter(**{opt_in: True})
    if channel == Channel.EMAIL:
        return (
            eligible.order_by()
            .annotate(address=Lower(Trim(column)))
            .values("address")
            .distinct()
            .count()
        )
    return eligible.order_by().values(column).distinct().count()


def audience_preview(account: Account, rule: dict[str, Any], *, channel: str) -> dict[str, Any]:
    """`count` (customers the rule selects), `reachable` (those the channel would
    actually send to), `sample` (the first SAMPLE_SIZE customers)."""
    preview = segment_selectors.rule_preview(account, rule)
    customers = segment_selectors.matching_customers(account, rule)
    return {
        "count": preview["count"],
        "reachable": _reachable(customers, channel),
        "sample": preview["sample"],
    }


def pos_ids_named(account: Account, name: str) -> list[str]:
    """The ids of the account's points of sale a prompt may mean by `name` ("bought at
    the Paris store"): those whose code, name or city it is, compared
    case-insensitively."""
    text = name.strip()
    if not text:
        return []
    matches = PointOfSale.objects.filter(account=account).filter(
        Q(code__iexact=text) | Q(name__iexact=text) | Q(city__iexact=text)
    )
    return [str(pk) for pk in matches.order_by("code").values_list("pk", flat=True)]


def message_statistics(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, int]:
    """The ledger's figures for the account statistics, each counted by the time of
    its own event within [start, end): sent (left for the provider), delivered,
    clicked, unsubscribed; and the customers engaged by a click."""

    def within(column: str) -> Q:
        return Q(**{f"{column}__isnull": False}) & rollups.within(column, start, end)

    messages = Message.objects.filter(account=account).order_by()
    figures = messages.aggregate(
        sent_count=Count("id", filter=within("sent_at")),
        delivered_count=Count("id", filter=within("delivered_at")),
        click_count=Count("id", filter=within("clicked_at")),
        unsubscribe_count=Count("id", filter=within("unsubscribed_at")),
        clicked_customers=Count("customer_id", filter=within("clicked_at"), distinct=True),
    )
    return {key: value or 0 for key, value in figures.items()}


def customers_clicked(
    account: Account, *, start: datetime | None, end: datetime | None
) -> QuerySet:
    """The ids of customers who clicked a message in [start, end), as a subquery."""
    condition = Q(clicked_at__isnull=False, customer__isnull=False)
    if start is not None:
        condition &= Q(clicked_at__gte=start)
    if end is not None:
        condition &= Q(clicked_at__lt=end)
    return Message.objects.filter(account=account).filter(condition).values("customer_id")


def leads_clicked(account: Account, *, start: datetime | None, end: datetime | None) -> QuerySet:
    """The ids of leads who clicked a message in [start, end), as a subquery."""
    condition = Q(clicked_at__isnull=False, lead__isnull=False)
    if start is not None:
        condition &= Q(clicked_at__gte=start)
    if end is not None:
        condition &= Q(clicked_at__lt=end)
    return Message.objects.filter(account=account).filter(condition).values("lead_id")


@dataclass(frozen=True)
class Deliveries:
    count: int
    last_at: datetime | None


def lead_deliveries(account: Account, lead_id: Any) -> Deliveries:
    """How many of the ledger's messages reached the lead (delivered, or further: opened,
    clicked) and when the last did (its receipt, else its first open or click)."""
    figures = Message.objects.filter(
        account=account, lead_id=lead_id, status__in=DELIVERED_STATUSES
    ).aggregate(
        count=Count("id"),
        last_at=Max(Coalesce("delivered_at", "opened_at", "clicked_at")),
    )
    return Deliveries(figures["count"], figures["last_at"])


def customer_messages(account: Account, customer: Customer, limit: int) -> list[Message]:
    """The customer's newest `limit` messages (their timeline)."""
    return list(
        Message.objects.filter(account=account, customer=customer.pk)
        .select_related("campaign")
        .order_by("-created_at", "-id")[:limit]
    )


# --- The ledger seen by requests that carry no account ------------------------------
# Tracking links and unsubscribe pages (a signed token names the message) and provider
# receipts (a signed body names it): only the message's account id is read across
# accounts; everything else happens inside that account's scope.


def message_account_id(message_id: uuid.UUID) -> uuid.UUID | None:
    """The account of a message, across accounts (None: no such message). The one
    cross-account read, as authentication's key look-ups are."""
    with unscoped():
        return Message.objects.filter(pk=message_id).values_list("account_id", flat=True).first()


@contextmanager
def message_in_its_scope(message_id: uuid.UUID) -> Iterator[Message | None]:
    """The message, with the block running in its account's scope; None (and no scope)
    when there is no such message."""
    account_id = message_account_id(message_id)
    if account_id is None:
        yield None
        return
    with account_scope(account_id):
        yield Message.objects.select_related("account").filter(pk=message_id).first()


# --- The campaigns' summary (reports' analytics dashboard) ----------------------------

SUMMARY_KEYS = ("sent", "delivered", "opened", "clicked")
SUMMARY_CAMPAIGNS = 10


def campaigns_summary(
    account: Account,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int = SUMMARY_CAMPAIGNS,
) -> dict[str, Any]:
    """The campaigns created in [start, end) (an open side is not compared): their
    messages' sent, delivered, opened, clicked and ctr, counted as each campaign's stats
    count them (`campaign_stats`), and `by_campaign`, the newest `last` of them with
    their stats (id, name, the same four counts, ctr). Three queries: the window's
    tallies, its newest campaigns and theirs."""
    campaigns = Campaign.objects.filter(rollups.within("created_at", start, end), account=account)
    rows = CampaignTally.objects.filter(account=account, campaign__in=campaigns.values("pk"))
    totals = _stats(_tallies(rows).get((), {}))
    summary: dict[str, Any] = {key: totals[key] for key in (*SUMMARY_KEYS, "ctr")}
    newest = list(campaigns.order_by("-created_at", "-id").values_list("pk", "name")[:last])
    stats = campaign_stats(account, [pk for pk, _name in newest])
    summary["by_campaign"] = [
        {"id": pk, "name": name, **{key: stats[pk][key] for key in (*SUMMARY_KEYS, "ctr")}}
        for pk, name in newest
    ]
    return summary
