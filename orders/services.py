"""Every write of orders, products and points of sale, and the customer spend aggregates
they maintain."""

from collections.abc import Iterable
from typing import Any

from django.db import connection

from customers.models import Customer
from orders.models import UNCOUNTED_STATUSES, Order


def customer_aggregates_refresh(*, account_id: Any, customer_ids: Iterable[Any]) -> None:
    """Recompute the spend aggregates of these customers from their counted orders, in
    SQL, inside the caller's transaction. The customer rows are locked first (in id
    order, so concurrent writers cannot deadlock) and stay locked until commit: two
    transactions writing orders of one customer take turns, and the last one to commit
    computes from everything committed before it."""
    ids = sorted({str(pk) for pk in customer_ids if pk is not None})
    if not ids:
        return
    customers = Customer._meta.db_table
    orders = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {customers} WHERE account_id = %s AND id = ANY(%s::uuid[]) "  # noqa: S608
            "ORDER BY id FOR UPDATE",
            [account_id, ids],
        )
        cursor.execute(
            f"""
            UPDATE {customers} c
               SET lifetime_spend = COALESCE(agg.total, 0),
                   total_orders = COALESCE(agg.n, 0),
                   average_order_value = agg.total / NULLIF(agg.n, 0),
                   first_order_date = agg.first_at,
                   last_order_date = agg.last_at
              FROM (
                    SELECT c2.id AS customer_id,
                           sum(o.amount) AS total,
                           count(o.id) AS n,
                           min(o.ordered_at) AS first_at,
                           max(o.ordered_at) AS last_at
                      FROM {customers} c2
                      LEFT JOIN {orders} o
                        ON o.customer_id = c2.id
                       AND o.account_id = c2.account_id
                       AND o.status <> ALL(%s)
                     WHERE c2.account_id = %s AND c2.id = ANY(%s::uuid[])
                     GROUP BY c2.id
                   ) agg
             WHERE c.id = agg.customer_id AND c.account_id = %s
            """,  # noqa: S608  (table names from the models, values are parameters)
            [list(UNCOUNTED_STATUSES), account_id, ids, account_id],
        )
