"""Every non-trivial read of loyalty: cards by number, balances, the ledger, levels and
a customer's standing (points and level, read from their cards)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from accounts.models import Account
from crm_project import rollups
from loyalty.models import (
    ZERO,
    CardStatus,
    CreditRequest,
    CreditStatus,
    LoyaltyCard,
    LoyaltyDay,
    LoyaltyLevel,
    LoyaltyTransaction,
    TransactionKind,
)
from orders.models import UNCOUNTED_STATUSES, Order, OrderItem


def card_list(account: Account) -> QuerySet[LoyaltyCard]:
    return LoyaltyCard.objects.filter(account=account)


def cards_by_number(account: Account, numbers: Iterable[str]) -> dict[str, LoyaltyCard]:
    """{number: card} of the account's cards among `numbers`, in one query."""
    wanted = sorted({number for number in numbers if number})
    if not wanted:
        return {}
    return {card.number: card for card in card_list(account).filter(number__in=wanted)}


def card_balance(account: Account, card_id: Any) -> Decimal | None:
    return card_list(account).filter(pk=card_id).values_list("points_balance", flat=True).first()


def transaction_list(account: Account) -> QuerySet[LoyaltyTransaction]:
    return LoyaltyTransaction.objects.filter(account=account).select_related("card")


def order_card(account: Account, *, loyalty_card: str, customer_id: Any) -> LoyaltyCard | None:
    """The card an order earns on: its own `loyalty_card` when that is an active card of
    the account, else its customer's oldest active card; None without either."""
    active = card_list(account).filter(status=CardStatus.ACTIVE)
    number = (loyalty_card or "").strip()
    if number:
        card = active.filter(number=number).first()
        if card is not None:
            return card
    return active.filter(customer_id=customer_id).order_by("issued_at", "id").first()


def order_rows(account: Account, order_id: Any) -> dict[str, LoyaltyTransaction]:
    """{kind: row} of the order's earn and reverse rows (one of each at most)."""
    rows = transaction_list(account).filter(
        order=order_id, kind__in=[TransactionKind.EARN, TransactionKind.REVERSE]
    )
    return {row.kind: row for row in rows}


def order_has_history(account: Account, order_id: Any) -> bool:
    """Whether any ledger row refers to the order (the ledger keeps it from deletion)."""
    return transaction_list(account).filter(order=order_id).exists()


# --- Levels and a customer's standing ---------------------------------------------------


def level_list(account: Account) -> QuerySet[LoyaltyLevel]:
    return LoyaltyLevel.objects.filter(account=account).order_by("min_points")


def level_of(levels: Sequence[LoyaltyLevel], earned: Decimal) -> LoyaltyLevel | None:
    """The highest of `levels` (sorted by min_points) whose min_points `earned` reaches."""
    reached = None
    for level in levels:
        if level.min_points > earned:
            break
        reached = level
    return reached


@dataclass(frozen=True)
class Standing:
    """A customer's loyalty standing: their cards' balances summed, their lifetime
    earned points summed, and the level those reach."""

    points: Decimal
    earned: Decimal
    level: LoyaltyLevel | None


NO_STANDING = Standing(points=ZERO, earned=ZERO, level=None)


def customers_standing(account: Account, customer_ids: Iterable[Any]) -> dict[Any, Standing]:
    """{customer id: Standing} for each of these customers of the account (one without
    a card: no points, nothing earned, the level starting at 0 if any), in two queries
    whatever their number."""
    ids = list({customer_id for customer_id in customer_ids})
    if not ids:
        return {}
    sums = (
        card_list(account)
        .filter(customer_id__in=ids)
        .values("customer_id")
        .annotate(points=Sum("points_balance"), earned=Sum("points_earned"))
        .order_by()
    )
    levels = list(level_list(account))
    found = {
        row["customer_id"]: Standing(
            points=row["points"], earned=row["earned"], level=level_of(levels, row["earned"])
        )
        for row in sums
    }
    # A customer without a card has earned nothing, and is at a level starting at 0.
    cardless = Standing(points=ZERO, earned=ZERO, level=level_of(levels, ZERO))
    return {customer_id: found.get(customer_id, cardless) for customer_id in ids}


def customer_standing(account: Account, customer_id: Any) -> Standing:
    return customers_standing(account, [customer_id]).get(customer_id, NO_STANDING)


def customer_points_expression() -> Any:
    """The outer customer row's loyalty points (its cards' balances summed, 0 without a
    card) as an expression: segments and exports compare and read it in SQL."""
    summed = (
        LoyaltyCard.objects.filter(customer_id=OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(total=Sum("points_balance"))
        .values("total")
    )
    return _points_or_zero(summed)


def _points_or_zero(subquery: QuerySet) -> Coalesce:
    """A one-value subquery of points, 0 when it finds no row."""
    return Coalesce(
        Subquery(subquery), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2)
    )


def credited_ticket_ids(account: Account, ticket_ids: Iterable[str]) -> set[str]:
    """Those of `ticket_ids` the account's ledger has credited already."""
    wanted = sorted(set(ticket_ids))
    if not wanted:
        return set()
    found = transaction_list(account).filter(ticket_id__in=wanted)
    return {ticket_id for ticket_id in found.values_list("ticket_id", flat=True) if ticket_id}


def card_balances(account: Account, card_ids: Iterable[Any]) -> dict[Any, Decimal]:
    ids = list(set(card_ids))
    if not ids:
        return {}
    return dict(card_list(account).filter(pk__in=ids).values_list("pk", "points_balance"))


@dataclass(frozen=True)
class DueOrder:
    """An order of a batch that is due to earn (card and multiplier resolved) or to be
    reversed."""

    pk: Any
    number: int
    amount: Decimal
    status: str
    customer_id: Any
    card_id: Any = None
    level_multiplier: Decimal | None = None


# Under row-level security only leakproof conditions reach an index: each look-up
# compares plain columns (the order's card number is trimmed first, in `batch`), and
# the ledger is read for the batch's orders only.
_ORDERS_DUE_TO_EARN_SQL = """
WITH batch AS MATERIALIZED (
    SELECT o.id, o.number, o.amount, o.status, o.customer_id,
           nullif(btrim(o.loyalty_card), '') AS card_number
      FROM {orders} o
     WHERE o.account_id = %(account)s AND o.id = ANY(%(orders)s::uuid[])
       AND o.status IN ('completed', 'delivered')
), earned AS MATERIALIZED (
    SELECT t.order_id FROM {ledger} t
     WHERE t.account_id = %(account)s AND t.order_id = ANY(%(orders)s::uuid[])
       AND t.kind = 'earn'
)
SELECT b.id, b.number, b.amount, b.status, b.customer_id, card.id,
       (SELECT l.earn_multiplier
          FROM {levels} l
         WHERE l.account_id = %(account)s
           AND l.min_points <= (SELECT coalesce(sum(k.points_earned), 0) FROM {cards} k
                                 WHERE k.account_id = %(account)s
                                   AND k.customer_id = card.customer_id)
         ORDER BY l.min_points DESC LIMIT 1)
  FROM batch b
  CROSS JOIN LATERAL (
        SELECT coalesce(own.id, oldest.id) AS id,
               coalesce(own.customer_id, oldest.customer_id) AS customer_id
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
                SELECT k.id, k.customer_id FROM {cards} k
                 WHERE k.account_id = %(account)s AND k.number = b.card_number
                   AND k.status = 'active') own ON true
          LEFT JOIN LATERAL (
                SELECT k.id, k.customer_id FROM {cards} k
                 WHERE k.account_id = %(account)s AND k.customer_id = b.customer_id
                   AND k.status = 'active'
                 ORDER BY k.issued_at, k.id LIMIT 1) oldest ON own.id IS NULL) card
 WHERE card.id IS NOT NULL
   AND b.id NOT IN (SELECT order_id FROM earned)
 ORDER BY b.id
"""


def orders_due_to_earn(account: Account, order_ids: Sequence[Any]) -> list[DueOrder]:
    """Of these orders, those completed or delivered that never earned and have a card
    to earn on (their `loyalty_card` when it is an active card of the account, else
    their customer's oldest active card), with their holder's level multiplier (None:
    no level): one query for the batch."""
    if not order_ids:
        return []
    query = _ORDERS_DUE_TO_EARN_SQL.format(
        levels=LoyaltyLevel._meta.db_table,
        cards=LoyaltyCard._meta.db_table,
        orders=Order._meta.db_table,
        ledger=LoyaltyTransaction._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(query, {"account": account.pk, "orders": list(order_ids)})
        return [DueOrder(*row) for row in cursor.fetchall()]


_ORDERS_DUE_TO_REVERSE_SQL = """
WITH batch AS MATERIALIZED (
    SELECT o.id, o.number, o.amount, o.status, o.customer_id
      FROM {orders} o
     WHERE o.account_id = %(account)s AND o.id = ANY(%(orders)s::uuid[])
       AND o.status = ANY(%(uncounted)s::text[])
), history AS MATERIALIZED (
    SELECT t.order_id, t.kind FROM {ledger} t
     WHERE t.account_id = %(account)s AND t.order_id IN (SELECT id FROM batch)
       AND t.kind IN ('earn', 'reverse')
)
SELECT b.id, b.number, b.amount, b.status, b.customer_id
  FROM batch b
 WHERE b.id IN (SELECT order_id FROM history WHERE kind = 'earn')
   AND b.id NOT IN (SELECT order_id FROM history WHERE kind = 'reverse')
 ORDER BY b.id
"""


def orders_due_to_reverse(account: Account, order_ids: Sequence[Any]) -> list[DueOrder]:
    """Of these orders, those cancelled or refunded that earned and were not reversed:
    one query for the batch, plain comparisons only (see _ORDERS_DUE_TO_EARN_SQL)."""
    if not order_ids:
        return []
    query = _ORDERS_DUE_TO_REVERSE_SQL.format(
        orders=Order._meta.db_table, ledger=LoyaltyTransaction._meta.db_table
    )
    params: dict[str, Any] = {
        "account": account.pk,
        "orders": list(order_ids),
        "uncounted": [str(status) for status in UNCOUNTED_STATUSES],
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [DueOrder(*row) for row in cursor.fetchall()]


def scheduled_credit(account: Account, customer_id: Any) -> Decimal:
    """The amount of the customer's scheduled credit requests (what holds their limit)."""
    total = (
        credit_request_list(account)
        .filter(customer_id=customer_id, status=CreditStatus.SCHEDULED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or ZERO


def credit_request_list(account: Account) -> QuerySet[CreditRequest]:
    return CreditRequest.objects.filter(account=account).select_related("customer")


def ticket_list(account: Account) -> QuerySet[Order]:
    """The account's orders as seed 001's tickets: each with `loyalty_net` (the points
    it earned net of any reversal: earn minus the whole reversed earning) and its items
    with `price_before_discount` (unit price x quantity)."""
    net = (
        LoyaltyTransaction.objects.filter(
            account=account,
            order=OuterRef("pk"),
            kind__in=[TransactionKind.EARN, TransactionKind.REVERSE],
        )
        .order_by()
        .values("order")
        .annotate(net=Sum(F("points") - F("shortfall")))
        .values("net")
    )
    items = OrderItem.objects.filter(account=account).annotate(
        price_before_discount=ExpressionWrapper(
            F("unit_price") * F("quantity"),
            output_field=DecimalField(max_digits=20, decimal_places=2),
        )
    )
    return (
        Order.objects.filter(account=account)
        .annotate(
            loyalty_net=Coalesce(
                Subquery(net),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            )
        )
        .prefetch_related(Prefetch("items", queryset=items.order_by("position", "id")))
    )


def customer_transactions(
    account: Account, customer_id: Any, limit: int
) -> list[LoyaltyTransaction]:
    """The customer's newest `limit` ledger rows (all their cards), newest first."""
    rows = transaction_list(account).filter(customer_id=customer_id)
    return list(rows.order_by("-created_at", "-id")[:limit])


def customer_has_loyalty(account_id: Any, customer_id: Any) -> bool:
    """Whether the customer holds a card or a credit request (kept: they are history)."""
    cards = LoyaltyCard.objects.filter(account=account_id, customer_id=customer_id)
    requests = CreditRequest.objects.filter(account=account_id, customer_id=customer_id)
    return cards.exists() or requests.exists()


# --- The program's summary (reports' analytics dashboard) ------------------------------


def loyalty_summary(
    account: Account, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """The program within [start, end) (an open side is not compared): `cards` issued
    in it (`issued_at`) and `active_cards`, those of them active now; `points_earned`,
    the earn and credit rows created in it; `points_redeemed`, its redeem rows (a
    positive number); `credit_requests`, the requests created in it still scheduled;
    and `points_outstanding`, every card's balance now (a stock: not windowed). Points
    are Decimals with two places. A handful of queries, whatever the size of the ledger."""
    issued = rollups.within("issued_at", start, end)
    cards = (
        card_list(account)
        .order_by()
        .aggregate(
            cards=Count("id", filter=issued),
            active_cards=Count("id", filter=issued & Q(status=CardStatus.ACTIVE)),
            outstanding=Sum("points_balance"),
        )
    )
    # The ledger's rollup (LoyaltyDay, per UTC day and kind) for the window's whole
    # days, the ledger itself for the part-days at its edges.
    earning = [TransactionKind.EARN, TransactionKind.CREDIT]
    sums = {
        "earned": Sum("points", filter=Q(kind__in=earning)),
        "redeemed": Sum("points", filter=Q(kind=TransactionKind.REDEEM)),
    }
    kinds = Q(kind__in=[*earning, TransactionKind.REDEEM])
    parts = []
    days, edges = rollups.day_split(start, end, UTC)
    if days is not None:
        parts.append(
            LoyaltyDay.objects.filter(kinds, rollups.within("day", *days), account=account)
        )
    parts += [
        LoyaltyTransaction.objects.filter(
            kinds, rollups.within("created_at", *edge), account=account
        )
        for edge in edges
    ]
    points = {"earned": ZERO, "redeemed": ZERO}
    for part in parts:
        for name, value in part.order_by().aggregate(**sums).items():
            points[name] += value or ZERO
    scheduled = (
        CreditRequest.objects.filter(
            rollups.within("created_at", start, end),
            account=account,
            status=CreditStatus.SCHEDULED,
        )
        .order_by()
        .count()
    )
    return {
        "cards": cards["cards"],
        "active_cards": cards["active_cards"],
        "points_earned": points["earned"],
        "points_redeemed": abs(points["redeemed"]),
        "points_outstanding": cards["outstanding"] or ZERO,
        "credit_requests": scheduled,
    }
