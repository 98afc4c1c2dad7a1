"""The orders app's entries in a customer's timeline (customers.timeline), registered
when the app is ready."""

from accounts.models import Account
from customers.models import Customer
from customers.timeline import TimelineEntry, register
from orders.models import Order


@register("order")
def order_entries(account: Account, customer: Customer, limit: int) -> list[TimelineEntry]:
    orders = Order.objects.filter(account=account, customer=customer).order_by(
        "-ordered_at", "-id"
    )[:limit]
    return [
        {
            "kind": "order",
            "at": order.ordered_at,
            "id": order.pk,
            "summary": f"Order #{order.number}: {order.amount} {order.currency} ({order.status})",
            "data": {
                "number": order.number,
                "external_id": order.external_id,
                "status": order.status,
                "channel": order.channel,
                "amount": f"{order.amount:.2f}",
                "currency": order.currency,
                "counted": order.counted,
            },
        }
        for order in orders
    ]
