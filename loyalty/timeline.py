"""The loyalty app's entries in a customer's timeline (customers.timeline): every row of
the points ledger on the customer's cards, registered when the app is ready."""

from accounts.models import Account
from customers.models import Customer
from customers.timeline import TimelineEntry, register
from loyalty import selectors
from loyalty.models import LoyaltyTransaction


def _summary(row: LoyaltyTransaction) -> str:
    sign = "+" if row.points >= 0 else ""
    text = f"{row.get_kind_display()} {sign}{row.points} points on card {row.card.number}"
    if row.shortfall:
        text += f" ({row.shortfall} already spent)"
    return f"{text}: balance {row.balance_after}"


@register("points")
def points_entries(account: Account, customer: Customer, limit: int) -> list[TimelineEntry]:
    return [
        {
            "kind": "points",
            "at": row.created_at,
            "id": row.pk,
            "summary": _summary(row),
            "data": {
                "card": row.card.number,
                "kind": row.kind,
                "points": str(row.points),
                "balance_after": str(row.balance_after),
                "shortfall": str(row.shortfall),
                "ticket_id": row.ticket_id,
                "order": str(row.order) if row.order else None,
                "reason": row.reason,
            },
        }
        for row in selectors.customer_transactions(account, customer.pk, limit)
    ]
