"""Helpers of the delivery tests: many customers at once, campaigns on simple rules,
and the ledger read back (statuses, stats against counts over the messages)."""

from collections import Counter
from typing import Any

from campaigns import selectors, services
from campaigns.models import SENT_STATUSES, Campaign, Message
from crm_project.tenancy import account_scope
from customers.models import Customer
from segments.rules import validate_rule

EVERYONE = {"field": "status", "operator": "!=", "value": "nobody"}


def customers_bulk(account: Any, count: int, *, start: int = 1, **fields: Any) -> list[Customer]:
    """`count` customers in one INSERT, numbered from `start` (keep clear of numbers the
    account's sequence hands out: factories and bulk rows are not mixed in one
    account), each with a distinct email and phone unless `fields` say otherwise."""
    rows = []
    for number in range(start, start + count):
        values = {
            "first_name": f"First{number}",
            "last_name": f"Last{number}",
            "email": f"c{number}@example.com",
            "phone": f"+336{number:08d}",
            **fields,
        }
        rows.append(Customer(account=account, number=number, **values))
    with account_scope(account):
        return Customer.objects.bulk_create(rows)


def campaign_start(account: Any, *, rule: dict | None = None, **fields: Any) -> Campaign:
    """A campaign created through the service (started at once unless `draft` or
    scheduled), on `rule` (everyone by default)."""
    fields.setdefault("name", "Campaign")
    fields.setdefault("message", "Hi {{ first_name }}")
    with account_scope(account):
        return services.campaign_create(
            account=account, rules=validate_rule(rule or EVERYONE), **fields
        )


def campaign_status(account: Any, campaign: Campaign) -> str:
    with account_scope(account):
        return Campaign.objects.get(pk=campaign.pk).status


def messages_of(account: Any, campaign: Campaign) -> list[Message]:
    with account_scope(account):
        return list(Message.objects.filter(campaign=campaign.pk).order_by("created_at", "id"))


def by_customer(account: Any, campaign: Campaign) -> dict[Any, tuple[str, str]]:
    """{customer id: (status, error)} of the campaign's messages."""
    return {m.customer_id: (m.status, m.error) for m in messages_of(account, campaign)}


def status_counts(account: Any, campaign: Campaign) -> Counter:
    return Counter(m.status for m in messages_of(account, campaign))


def assert_stats_match_the_ledger(account: Any, campaign: Campaign) -> dict[str, Any]:
    """The campaign's stats are the counts over its messages (SPEC); returns them."""
    messages = messages_of(account, campaign)
    counts = Counter(m.status for m in messages)
    with account_scope(account):
        stats = selectors.campaign_stats(account, [campaign.pk])[campaign.pk]
    assert stats["audience_size"] == len(messages)
    assert stats["queued"] == counts["queued"] + counts["sending"]
    assert stats["sent"] == sum(counts[s] for s in SENT_STATUSES)
    assert stats["failed"] == counts["failed"]
    assert stats["skipped"] == counts["skipped"]
    assert stats["bounced"] == counts["bounced"]
    assert stats["delivered"] == counts["delivered"] + counts["opened"] + counts["clicked"]
    assert stats["opened"] == sum(m.opened_at is not None for m in messages)
    assert stats["clicked"] == sum(m.clicked_at is not None for m in messages)
    assert stats["unsubscribed"] == sum(m.unsubscribed_at is not None for m in messages)
    return stats
