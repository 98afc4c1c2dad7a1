"""Every write of loyalty: cards, and the points ledger.

A balance moves in one statement that also appends its ledger row:

    WITH moved AS (UPDATE card SET points_balance = points_balance + :points
                    WHERE id = :id AND points_balance + :points >= 0
                    RETURNING points_balance)
    INSERT INTO ledger (..., balance_after) SELECT ..., points_balance FROM moved

so concurrent writers serialise on the card row (READ COMMITTED re-checks the
condition on the row a waiting writer finally gets), no read-modify-write exists, and
a balance can never go below zero (the condition, and a CHECK behind it). A ticket id
credited twice is refused by the ledger's unique (account, ticket_id), not by a
look-up first: the loser's statement fails in its savepoint and moves nothing."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction

from accounts.models import Account
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.ids import uuid7
from crm_project.writes import constraint_of, unique_conflicts
from customers.models import Customer
from loyalty import selectors
from loyalty.models import (
    POINTS_DIGITS,
    ZERO,
    CardStatus,
    LoyaltyCard,
    LoyaltyTransaction,
    TransactionKind,
)

CENT = Decimal("0.01")
# The largest value a decimal(14, 2) column holds.
MAX_POINTS = Decimal(10 ** (POINTS_DIGITS - 2)) - CENT

CREDITED, DUPLICATE, FAILED = "credited", "duplicate", "failed"
TICKET_UNIQUE = "loyaltytransaction_unique_ticket"


# --- Cards ------------------------------------------------------------------------------


def _unique_number(number: str) -> Any:
    return unique_conflicts(
        {
            "loyaltycard_unique_number": lambda: Conflict(
                {"number": FieldError(f"A card numbered {number!r} exists.", "duplicate_number")},
                code="duplicate_number",
            )
        }
    )


@transaction.atomic
def card_issue(
    *,
    account: Account,
    customer: Customer,
    number: str,
    status: str = CardStatus.ACTIVE,
    issued_at: datetime | None = None,
) -> LoyaltyCard:
    """Issue a card to a customer of the account; its number is unique in the account
    (409 `duplicate_number`)."""
    number = number.strip()
    if not number:
        raise Invalid({"number": FieldError("A card number is required.", "required")})
    card = LoyaltyCard(account=account, customer=customer, number=number, status=status)
    if issued_at is not None:
        card.issued_at = issued_at
    with _unique_number(number):
        card.save(force_insert=True)
    return card


def _card_set_status(*, card: LoyaltyCard, status: str) -> LoyaltyCard:
    LoyaltyCard.objects.filter(pk=card.pk).update(status=status)
    card.refresh_from_db()
    return card


@transaction.atomic
def card_block(*, card: LoyaltyCard) -> LoyaltyCard:
    """A blocked card is credited and redeemed nothing (admins may still adjust it)."""
    return _card_set_status(card=card, status=CardStatus.BLOCKED)


@transaction.atomic
def card_unblock(*, card: LoyaltyCard) -> LoyaltyCard:
    return _card_set_status(card=card, status=CardStatus.ACTIVE)


# --- Points -----------------------------------------------------------------------------


def level_multiplier(customer_id: Any) -> Decimal:
    """The earn multiplier of the customer's loyalty level. Levels (SPEC: Loyalty,
    `/loyalty/levels/`, seed 003's loyalty side) arrive later; until then every
    customer earns at 1."""
    return Decimal(1)


def points_for(*, account: Account, amount: Decimal, multiplier: Decimal) -> Decimal:
    """amount x the account's earn rate x the level multiplier, half-up to cents."""
    return (amount * account.loyalty_earn_rate * multiplier).quantize(CENT, ROUND_HALF_UP)


_MOVE_SQL = f"""
WITH moved AS (
    UPDATE {LoyaltyCard._meta.db_table}
       SET points_balance = points_balance + %(points)s,
           points_earned = points_earned + %(earned)s,
           updated_at = clock_timestamp()
     WHERE id = %(card)s AND account_id = %(account)s
       AND (%(any_status)s OR status = 'active')
       AND points_balance + %(points)s >= 0
    RETURNING id, account_id, customer_id, points_balance
)
INSERT INTO {LoyaltyTransaction._meta.db_table}
       (id, account_id, card_id, customer_id, kind, points, balance_after, ticket_id,
        order_id, reason, shortfall, created_at)
SELECT %(id)s, account_id, id, customer_id, %(kind)s, %(points)s, points_balance,
       %(ticket_id)s, %(order)s, %(reason)s, %(shortfall)s, clock_timestamp()
  FROM moved
RETURNING balance_after
"""  # noqa: S608  (the table names are the models')


def _move(
    *,
    account_id: Any,
    card_id: Any,
    kind: str,
    points: Decimal,
    reason: str = "",
    ticket_id: str | None = None,
    order_id: Any = None,
    shortfall: Decimal = ZERO,
    any_status: bool = False,
) -> tuple[uuid.UUID, Decimal] | None:
    """Move the card's balance by `points` and append the ledger row, in one statement.
    (row id, balance_after), or None when the card refused: not found, blocked (unless
    `any_status`), or the balance would go below zero."""
    row_id = uuid7()
    params = {
        "id": row_id,
        "account": account_id,
        "card": card_id,
        "kind": kind,
        "points": points,
        "earned": points if kind in (TransactionKind.EARN, TransactionKind.CREDIT) else ZERO,
        "reason": reason,
        "ticket_id": ticket_id,
        "order": order_id,
        "shortfall": shortfall,
        "any_status": any_status,
    }
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_SQL, params)
        row = cursor.fetchone()
    return None if row is None else (row_id, row[0])


def _in_range(points: Decimal) -> bool:
    return points.is_finite() and abs(points) <= MAX_POINTS


@dataclass(frozen=True)
class Ticket:
    card_number: str
    amount: Decimal
    ticket_id: str | None = None


@dataclass(frozen=True)
class TicketOutcome:
    card_number: str
    ticket_id: str | None
    credited: Decimal
    balance: Decimal | None
    status: str
    error: dict[str, str | None] | None = None


def ticket_failed(
    *, card_number: str, ticket_id: str | None, code: str, detail: str, attr: str | None
) -> TicketOutcome:
    """A ticket that credited nothing; `error` has the API's error entry shape."""
    return TicketOutcome(
        card_number=card_number,
        ticket_id=ticket_id,
        credited=ZERO,
        balance=None,
        status=FAILED,
        error={"code": code, "detail": detail, "attr": attr},
    )


def tickets_credit(*, account: Account, tickets: Sequence[Ticket]) -> list[TicketOutcome]:
    """Credit each ticket on its card, on its own: amount x the account's rate x the
    holder's level multiplier, half-up to cents. A ticket id already credited in the
    account is a `duplicate` crediting "0.00" (decided by the ledger's unique key, so
    concurrent calls credit it once); an unknown or blocked card, or an amount that is
    not above zero or out of range, fails that ticket only. Outcomes in the order
    given."""
    cards = selectors.cards_by_number(account, {ticket.card_number for ticket in tickets})
    return [_ticket_credit(account=account, ticket=ticket, cards=cards) for ticket in tickets]


def _ticket_credit(
    *, account: Account, ticket: Ticket, cards: dict[str, LoyaltyCard]
) -> TicketOutcome:
    def failed(code: str, detail: str, attr: str | None) -> TicketOutcome:
        return ticket_failed(
            card_number=ticket.card_number,
            ticket_id=ticket.ticket_id,
            code=code,
            detail=detail,
            attr=attr,
        )

    if not ticket.amount.is_finite() or ticket.amount <= 0:
        return failed("non_positive_amount", "The amount must be above zero.", "amount")
    card = cards.get(ticket.card_number)
    if card is None:
        return failed("unknown_card", f"No card numbered {ticket.card_number!r}.", "card_number")
    if card.status != CardStatus.ACTIVE:
        return failed("card_blocked", f"Card {ticket.card_number!r} is blocked.", "card_number")
    points = points_for(
        account=account, amount=ticket.amount, multiplier=level_multiplier(card.customer_id)
    )
    if not _in_range(points):
        return failed("out_of_range", "The amount is too large.", "amount")
    try:
        with transaction.atomic():
            moved = _move(
                account_id=account.pk,
                card_id=card.pk,
                kind=TransactionKind.CREDIT,
                points=points,
                ticket_id=ticket.ticket_id,
            )
    except IntegrityError as exc:
        if constraint_of(exc) != TICKET_UNIQUE:
            raise
        return TicketOutcome(
            card_number=ticket.card_number,
            ticket_id=ticket.ticket_id,
            credited=ZERO,
            balance=selectors.card_balance(account, card.pk),
            status=DUPLICATE,
        )
    except DataError:  # the balance would pass decimal(14, 2)
        return failed("out_of_range", "The card's balance cannot hold these points.", "amount")
    if moved is None:  # the card was blocked (or taken away) since it was read
        return failed("card_blocked", f"Card {ticket.card_number!r} is blocked.", "card_number")
    return TicketOutcome(
        card_number=ticket.card_number,
        ticket_id=ticket.ticket_id,
        credited=points,
        balance=moved[1],
        status=CREDITED,
    )


def _card_for_points(account: Account, card_number: str) -> LoyaltyCard:
    card = selectors.cards_by_number(account, {card_number}).get(card_number)
    if card is None:
        raise Invalid(
            {"card_number": FieldError(f"No card numbered {card_number!r}.", "does_not_exist")}
        )
    return card


def _refused(card: LoyaltyCard, account: Account, *, any_status: bool) -> Conflict:
    """Why a move the card refused was refused, read after the refusal."""
    current = selectors.cards_by_number(account, {card.number}).get(card.number)
    if current is not None and current.status != CardStatus.ACTIVE and not any_status:
        return Conflict(f"Card {card.number!r} is blocked.", code="card_blocked")
    return Conflict("The card's balance is short of these points.", code="insufficient_points")


def _positive_points(points: Decimal) -> None:
    if not points.is_finite() or points <= 0:
        raise Invalid({"points": FieldError("Points must be above zero.", "min_value")})


@transaction.atomic
def card_redeem(
    *, account: Account, card_number: str, points: Decimal, reason: str = ""
) -> LoyaltyTransaction:
    """Take `points` off an active card: a `redeem` row with negative points. A
    balance short of them is a 409 `insufficient_points`, a blocked card 409
    `card_blocked`, an unknown card a 400 on `card_number`."""
    _positive_points(points)
    card = _card_for_points(account, card_number)
    return _apply(account, card, kind=TransactionKind.REDEEM, points=-points, reason=reason)


@transaction.atomic
def card_adjust(
    *, account: Account, card_number: str, points: Decimal, reason: str
) -> LoyaltyTransaction:
    """An admin's signed correction, blocked cards included; one that would take the
    balance below zero is a 409 `insufficient_points`."""
    if not points.is_finite() or points == 0:
        raise Invalid({"points": FieldError("Points must not be zero.", "invalid")})
    if not reason.strip():
        raise Invalid({"reason": FieldError("Say why the points are adjusted.", "required")})
    card = _card_for_points(account, card_number)
    return _apply(
        account, card, kind=TransactionKind.ADJUST, points=points, reason=reason, any_status=True
    )


def _apply(
    account: Account,
    card: LoyaltyCard,
    *,
    kind: str,
    points: Decimal,
    reason: str,
    any_status: bool = False,
) -> LoyaltyTransaction:
    if not _in_range(points):
        raise Invalid({"points": FieldError("Points are out of range.", "max_value")})
    try:
        with transaction.atomic():
            moved = _move(
                account_id=account.pk,
                card_id=card.pk,
                kind=kind,
                points=points,
                reason=reason,
                any_status=any_status,
            )
    except DataError:
        raise Invalid(
            {"points": FieldError("The card's balance cannot hold these points.", "max_value")}
        ) from None
    if moved is None:
        raise _refused(card, account, any_status=any_status)
    return LoyaltyTransaction.objects.select_related("card").get(pk=moved[0])


# --- Orders -----------------------------------------------------------------------------
# Called by orders.services in the transaction that changes the order (the order row is
# locked by then), not by signals. The ledger's unique (account, order, kind) makes
# "earn once" and "reverse once" true even if two writers got past the look-ups.

ORDER_KIND_UNIQUE = "loyaltytransaction_unique_order_kind"

_REVERSE_SQL = f"""
WITH held AS (
    SELECT id, LEAST(%(earned)s, points_balance) AS removed
      FROM {LoyaltyCard._meta.db_table}
     WHERE id = %(card)s AND account_id = %(account)s
       FOR UPDATE
), moved AS (
    UPDATE {LoyaltyCard._meta.db_table} AS card
       SET points_balance = card.points_balance - held.removed,
           updated_at = clock_timestamp()
      FROM held
     WHERE card.id = held.id
    RETURNING card.id, card.account_id, card.customer_id, card.points_balance,
              held.removed
)
INSERT INTO {LoyaltyTransaction._meta.db_table}
       (id, account_id, card_id, customer_id, kind, points, balance_after, ticket_id,
        order_id, reason, shortfall, created_at)
SELECT %(id)s, account_id, id, customer_id, %(kind)s, -removed, points_balance, NULL,
       %(order)s, %(reason)s, %(earned)s - removed, clock_timestamp()
  FROM moved
RETURNING id
"""  # noqa: S608  (the table names are the models')


def _order_row(row_id: uuid.UUID) -> LoyaltyTransaction:
    return LoyaltyTransaction.objects.select_related("card").get(pk=row_id)


def order_earn(*, account: Account, order: Any) -> LoyaltyTransaction | None:
    """The order reached completed or delivered: it earns amount x the account's rate x
    the level multiplier (half-up to cents) on its `loyalty_card`, or else on its
    customer's oldest active card, once. None when it earns nothing: it earned already
    (a reversal included: completed again after a cancel earns no more), no card, or
    no points."""
    if TransactionKind.EARN in selectors.order_rows(account, order.pk):
        return None
    card = selectors.order_card(
        account, loyalty_card=order.loyalty_card, customer_id=order.customer_id
    )
    if card is None:
        return None
    points = points_for(
        account=account, amount=order.amount, multiplier=level_multiplier(card.customer_id)
    )
    if points <= 0 or not _in_range(points):
        return None
    try:
        with transaction.atomic():
            moved = _move(
                account_id=account.pk,
                card_id=card.pk,
                kind=TransactionKind.EARN,
                points=points,
                order_id=order.pk,
                reason=f"Order #{order.number}",
            )
    except IntegrityError as exc:
        if constraint_of(exc) != ORDER_KIND_UNIQUE:
            raise
        return None
    except DataError:  # the balance would pass decimal(14, 2)
        return None
    return None if moved is None else _order_row(moved[0])


def order_reverse(*, account: Account, order: Any) -> LoyaltyTransaction | None:
    """The order that earned was cancelled or refunded: a `reverse` row takes back
    min(earned, balance) from the card it earned on (blocked or not), never below
    zero, with what it could not take back as `shortfall`. Once: None when the order
    earned nothing or was reversed already."""
    rows = selectors.order_rows(account, order.pk)
    earned = rows.get(TransactionKind.EARN)
    if earned is None or TransactionKind.REVERSE in rows:
        return None
    row_id = uuid7()
    params = {
        "id": row_id,
        "account": account.pk,
        "card": earned.card_id,
        "kind": TransactionKind.REVERSE,
        "earned": earned.points,
        "order": order.pk,
        "reason": f"Order #{order.number} {order.status}",
    }
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_REVERSE_SQL, params)
            row = cursor.fetchone()
    except IntegrityError as exc:
        if constraint_of(exc) != ORDER_KIND_UNIQUE:
            raise
        return None
    return None if row is None else _order_row(row_id)
