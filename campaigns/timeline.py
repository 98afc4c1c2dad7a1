"""The campaigns app's entries in a customer's timeline (customers.timeline): every
message of the ledger sent (or meant) to the customer, registered when the app is
ready."""

from datetime import datetime

from accounts.models import Account
from campaigns import selectors
from campaigns.models import Message
from customers.models import Customer
from customers.timeline import TimelineEntry, register

EVENT_TIMES = ("sent_at", "delivered_at", "opened_at", "clicked_at", "unsubscribed_at", "failed_at")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(message: Message) -> str:
    what = message.get_channel_display()
    if message.campaign_id is not None and message.campaign is not None:
        what += f" of campaign “{message.campaign.name}”"
    else:
        what += f" ({message.get_source_display().lower()})"
    status = message.get_status_display().lower()
    if message.error:
        status += f": {message.error}"
    return f"{what}: {status}"


@register("message")
def message_entries(account: Account, customer: Customer, limit: int) -> list[TimelineEntry]:
    return [
        {
            "kind": "message",
            # The ledger's order (selectors.customer_messages): the merge stays exact.
            "at": message.created_at,
            "id": message.pk,
            "summary": _summary(message),
            "data": {
                "source": message.source,
                "channel": message.channel,
                "campaign": str(message.campaign_id) if message.campaign_id else None,
                "campaign_name": message.campaign.name if message.campaign else None,
                "address": message.address,
                "status": message.status,
                "error": message.error,
                **{name: _iso(getattr(message, name)) for name in EVENT_TIMES},
            },
        }
        for message in selectors.customer_messages(account, customer, limit)
    ]
