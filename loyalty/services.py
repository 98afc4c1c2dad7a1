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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from crm_project.datetimes import account_today
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.ids import uuid7
from crm_project.writes import constraint_of, unique_conflicts
from customers import services as customer_services
from customers.models import Customer, CustomerStatus
from loyalty import selectors
from loyalty.models import (
    POINTS_DIGITS,
    ZERO,
    CardStatus,
    CreditRequest,
    CreditStatus,
    LoyaltyCard,
    LoyaltyLevel,
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


def level_multiplier(account: Account, customer_id: Any) -> Decimal:
    """The earn multiplier of the customer's level (the highest whose min_points their
    lifetime earned points reach); 1 without a level."""
    level = selectors.customer_standing(account, customer_id).level
    return Decimal(1) if level is None else level.earn_multiplier


def points_for(*, account: Account, amount: Decimal, multiplier: Decimal) -> Decimal:
    """amount x the account's earn rate x the level multiplier, half-up to cents."""
    return (amount * account.loyalty_earn_rate * multiplier).quantize(CENT, ROUND_HALF_UP)


# Rows to append, given as arrays (one element per row, in order). Each card's balance
# moves once by its rows' sum, in the UPDATE that also returns the balance before; each
# row's balance_after is that plus the running sum of its card's rows, so the card's
# rows chain. A card not updated (not in the account, blocked unless `any_status`, or
# a sum that would take it below zero or past what the column holds) appends none of
# its rows.
_MOVE_SQL = f"""
WITH given AS (
    SELECT *
      FROM unnest(%(ids)s::uuid[], %(cards)s::uuid[], %(kinds)s::text[],
                  %(points)s::numeric[], %(earned)s::numeric[], %(tickets)s::text[],
                  %(orders)s::uuid[], %(reasons)s::text[])
           WITH ORDINALITY AS g(id, card_id, kind, points, earned, ticket_id, order_id,
                                reason, seq)
), sums AS (
    SELECT card_id, sum(points) AS points, sum(earned) AS earned FROM given GROUP BY card_id
), moved AS (
    UPDATE {LoyaltyCard._meta.db_table} AS card
       SET points_balance = card.points_balance + sums.points,
           points_earned = card.points_earned + sums.earned,
           updated_at = clock_timestamp()
      FROM sums
     WHERE card.id = sums.card_id AND card.account_id = %(account)s
       AND (%(any_status)s OR card.status = 'active')
       AND card.points_balance + sums.points >= 0
       -- What decimal(14, 2) holds: a move past it is refused, not an error.
       AND card.points_balance + sums.points <= %(max)s
       AND card.points_earned + sums.earned <= %(max)s
    RETURNING card.id, card.customer_id, card.points_balance - sums.points AS before
)
INSERT INTO {LoyaltyTransaction._meta.db_table}
       (id, account_id, card_id, customer_id, kind, points, balance_after, ticket_id,
        order_id, reason, shortfall, created_at)
SELECT g.id, %(account)s, g.card_id, moved.customer_id, g.kind, g.points,
       moved.before + sum(g.points) OVER (PARTITION BY g.card_id ORDER BY g.seq),
       g.ticket_id, g.order_id, g.reason, 0, clock_timestamp()
  FROM given g JOIN moved ON moved.id = g.card_id
RETURNING id, balance_after, customer_id, created_at
"""  # noqa: S608  (the table names are the models')

_LOCK_CARDS_SQL = f"""
SELECT id FROM {LoyaltyCard._meta.db_table}
 WHERE account_id = %(account)s AND id = ANY(%(cards)s::uuid[])
 ORDER BY id
   FOR NO KEY UPDATE
"""  # noqa: S608


@dataclass(frozen=True)
class Move:
    """One ledger row to append: `points` signed; `earned` adds to the card's lifetime
    earned points (earn and credit rows)."""

    card_id: Any
    kind: str
    points: Decimal
    ticket_id: str | None = None
    order_id: Any = None
    reason: str = ""
    id: uuid.UUID = field(default_factory=uuid7)

    @property
    def earned(self) -> Decimal:
        return self.points if self.kind in EARNING_KINDS else ZERO


EARNING_KINDS = (TransactionKind.EARN, TransactionKind.CREDIT)


@dataclass(frozen=True)
class Moved:
    """What the database wrote for one move."""

    balance_after: Decimal
    customer_id: Any
    created_at: datetime


def _moves_apply(
    *, account_id: Any, moves: Sequence[Move], any_status: bool = False
) -> dict[uuid.UUID, Moved]:
    """Append `moves` and move their cards' balances, in one statement (see _MOVE_SQL);
    with several cards, their rows are locked first in id order, so concurrent batches
    never deadlock. {row id: Moved} of the rows appended."""
    if not moves:
        return {}
    cards = sorted({move.card_id for move in moves}, key=str)
    with connection.cursor() as cursor:
        if len(cards) > 1:
            cursor.execute(_LOCK_CARDS_SQL, {"account": account_id, "cards": cards})
        cursor.execute(
            _MOVE_SQL,
            {
                "account": account_id,
                "any_status": any_status,
                "ids": [move.id for move in moves],
                "cards": [move.card_id for move in moves],
                "kinds": [move.kind for move in moves],
                "points": [move.points for move in moves],
                "earned": [move.earned for move in moves],
                "tickets": [move.ticket_id for move in moves],
                "orders": [move.order_id for move in moves],
                "reasons": [move.reason for move in moves],
                "max": MAX_POINTS,
            },
        )
        return {row[0]: Moved(*row[1:]) for row in cursor.fetchall()}


def _move(*, account_id: Any, move: Move, any_status: bool = False) -> Moved | None:
    """One move, or None when the card refused (not found, blocked unless
    `any_status`, or the balance would go below zero or past the column's range)."""
    return _moves_apply(account_id=account_id, moves=[move], any_status=any_status).get(move.id)


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


def _failed(ticket: Ticket, code: str, detail: str, attr: str | None) -> TicketOutcome:
    return ticket_failed(
        card_number=ticket.card_number,
        ticket_id=ticket.ticket_id,
        code=code,
        detail=detail,
        attr=attr,
    )


def _blocked(ticket: Ticket) -> TicketOutcome:
    return _failed(
        ticket, "card_blocked", f"Card {ticket.card_number!r} is blocked.", "card_number"
    )


def _duplicate(ticket: Ticket, balance: Decimal | None) -> TicketOutcome:
    return TicketOutcome(
        card_number=ticket.card_number,
        ticket_id=ticket.ticket_id,
        credited=ZERO,
        balance=balance,
        status=DUPLICATE,
    )


def tickets_credit(*, account: Account, tickets: Sequence[Ticket]) -> list[TicketOutcome]:
    """Credit each ticket on its card, on its own: amount x the account's rate x the
    holder's level multiplier, half-up to cents. A ticket id already credited in the
    account (before, or earlier in the same call) is a `duplicate` crediting "0.00"; an
    unknown or blocked card, or an amount that is not above zero or out of range, fails
    that ticket only. Outcomes in the order given.

    The call is set-based: its cards are read in one query, its ticket ids checked in
    one, and every credited ticket appended by one statement (_MOVE_SQL). The ledger's
    unique (account, ticket_id) is the judge: if a concurrent call credited one of the
    ticket ids in between, the statement fails in its savepoint, moves nothing, and the
    call is credited again ticket by ticket, each deciding on its own; so is a call one
    of whose cards refused its sum (blocked since it was read, or past the column's
    range), so that each ticket gets its own answer."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                return _tickets_credit_at_once(account=account, tickets=tickets)
        except _CardRefused:
            pass
        except IntegrityError as exc:
            if constraint_of(exc) != TICKET_UNIQUE:
                raise
        return [_ticket_credit_alone(account=account, ticket=ticket) for ticket in tickets]


class _CardRefused(Exception):
    """A card refused the call's moves: the savepoint goes, each ticket decides alone."""


def _ticket_checked(
    account: Account,
    ticket: Ticket,
    cards: dict[str, LoyaltyCard],
    standing: dict[Any, selectors.Standing],
) -> TicketOutcome | Move:
    """The ticket's move, or why it fails before any write."""
    if not ticket.amount.is_finite() or ticket.amount <= 0:
        return _failed(ticket, "non_positive_amount", "The amount must be above zero.", "amount")
    card = cards.get(ticket.card_number)
    if card is None:
        return _failed(
            ticket, "unknown_card", f"No card numbered {ticket.card_number!r}.", "card_number"
        )
    if card.status != CardStatus.ACTIVE:
        return _blocked(ticket)
    level = standing.get(card.customer_id, selectors.NO_STANDING).level
    multiplier = Decimal(1) if level is None else level.earn_multiplier
    points = points_for(account=account, amount=ticket.amount, multiplier=multiplier)
    if not _in_range(points):
        return _failed(ticket, "out_of_range", "The amount is too large.", "amount")
    return Move(
        card_id=card.pk, kind=TransactionKind.CREDIT, points=points, ticket_id=ticket.ticket_id
    )


def _tickets_credit_at_once(*, account: Account, tickets: Sequence[Ticket]) -> list[TicketOutcome]:
    cards = selectors.cards_by_number(account, {ticket.card_number for ticket in tickets})
    standing = selectors.customers_standing(account, {card.customer_id for card in cards.values()})
    credited_before = selectors.credited_ticket_ids(
        account, {ticket.ticket_id for ticket in tickets if ticket.ticket_id}
    )
    seen: set[str] = set()
    checked: list[TicketOutcome | Move | None] = []
    for ticket in tickets:
        if ticket.ticket_id is not None and (
            ticket.ticket_id in credited_before or ticket.ticket_id in seen
        ):
            checked.append(None)  # a duplicate: answered with the card's final balance
            continue
        item = _ticket_checked(account, ticket, cards, standing)
        if isinstance(item, Move) and ticket.ticket_id is not None:
            seen.add(ticket.ticket_id)
        checked.append(item)
    moves = [item for item in checked if isinstance(item, Move)]
    after = _moves_apply(account_id=account.pk, moves=moves)
    if any(move.id not in after for move in moves):
        raise _CardRefused  # blocked since read, or a sum past the column's range
    # Duplicates answer their card's balance after the call (one read, when there are any).
    duplicates = any(entry is None for entry in checked)
    balances = (
        selectors.card_balances(account, {card.pk for card in cards.values()}) if duplicates else {}
    )
    outcomes = []
    for ticket, entry in zip(tickets, checked, strict=True):
        if entry is None:
            card = cards.get(ticket.card_number)
            outcomes.append(_duplicate(ticket, None if card is None else balances.get(card.pk)))
        elif isinstance(entry, TicketOutcome):
            outcomes.append(entry)
        else:
            outcomes.append(
                TicketOutcome(
                    card_number=ticket.card_number,
                    ticket_id=ticket.ticket_id,
                    credited=entry.points,
                    balance=after[entry.id].balance_after,
                    status=CREDITED,
                )
            )
    return outcomes


def _ticket_credit_alone(*, account: Account, ticket: Ticket) -> TicketOutcome:
    """One ticket in its own savepoint: the unique (account, ticket_id) decides a
    duplicate."""
    cards = selectors.cards_by_number(account, {ticket.card_number})
    card = cards.get(ticket.card_number)
    standing = {} if card is None else selectors.customers_standing(account, [card.customer_id])
    item = _ticket_checked(account, ticket, cards, standing)
    if isinstance(item, TicketOutcome):
        return item
    assert card is not None
    try:
        with transaction.atomic():
            moved = _move(account_id=account.pk, move=item)
    except IntegrityError as exc:
        if constraint_of(exc) != TICKET_UNIQUE:
            raise
        return _duplicate(ticket, selectors.card_balance(account, card.pk))
    if moved is None:
        current = selectors.cards_by_number(account, {card.number}).get(card.number)
        if current is None or current.status != CardStatus.ACTIVE:
            return _blocked(ticket)
        detail = "The card's balance cannot hold these points."
        return _failed(ticket, "out_of_range", detail, "amount")
    return TicketOutcome(
        card_number=ticket.card_number,
        ticket_id=ticket.ticket_id,
        credited=item.points,
        balance=moved.balance_after,
        status=CREDITED,
    )


def _card_for_points(account: Account, card_number: str) -> LoyaltyCard:
    card = selectors.cards_by_number(account, {card_number}).get(card_number)
    if card is None:
        raise Invalid(
            {"card_number": FieldError(f"No card numbered {card_number!r}.", "does_not_exist")}
        )
    return card


def _refused(
    card: LoyaltyCard, account: Account, *, points: Decimal, any_status: bool
) -> Exception:
    """Why a move the card refused was refused, read after the refusal."""
    current = selectors.cards_by_number(account, {card.number}).get(card.number)
    if current is not None and current.status != CardStatus.ACTIVE and not any_status:
        return Conflict(f"Card {card.number!r} is blocked.", code="card_blocked")
    if current is not None and current.points_balance + points > MAX_POINTS:
        return Invalid(
            {"points": FieldError("The card's balance cannot hold these points.", "max_value")}
        )
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
    move = Move(card_id=card.pk, kind=kind, points=points, reason=reason)
    moved = _move(account_id=account.pk, move=move, any_status=any_status)
    if moved is None:
        raise _refused(card, account, points=points, any_status=any_status)
    # The row as written (no second read): its database-made values come back.
    return LoyaltyTransaction(
        id=move.id,
        account_id=account.pk,
        card=card,
        customer_id=moved.customer_id,
        kind=kind,
        points=points,
        balance_after=moved.balance_after,
        reason=reason,
        created_at=moved.created_at,
    )


def _row(row_id: uuid.UUID) -> LoyaltyTransaction:
    return LoyaltyTransaction.objects.select_related("card").get(pk=row_id)


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
       FOR NO KEY UPDATE
), moved AS (
    UPDATE {LoyaltyCard._meta.db_table} AS card
       SET points_balance = card.points_balance - held.removed,
           points_earned = GREATEST(card.points_earned - %(earned)s, 0),
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


def _earn_move(account: Account, order: Any, card: LoyaltyCard, multiplier: Decimal) -> Move | None:
    points = points_for(account=account, amount=order.amount, multiplier=multiplier)
    if points <= 0 or not _in_range(points):
        return None
    return Move(
        card_id=card.pk,
        kind=TransactionKind.EARN,
        points=points,
        order_id=order.pk,
        reason=f"Order #{order.number}",
    )


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
    move = _earn_move(account, order, card, level_multiplier(account, card.customer_id))
    if move is None:
        return None
    try:
        with transaction.atomic():
            moved = _move(account_id=account.pk, move=move)
    except IntegrityError as exc:
        if constraint_of(exc) != ORDER_KIND_UNIQUE:
            raise
        return None
    return None if moved is None else _row(move.id)


def orders_earn(*, account: Account, order_ids: Iterable[Any]) -> int:
    """Set-based earning for a batch of orders (bulk writes, an import's chunk), in the
    caller's transaction, the orders' rows locked by it: those among `order_ids` that
    are completed or delivered and never earned earn as order_earn would, on their
    cards; the batch reads orders, cards and levels in one query and appends every row
    with one statement (_MOVE_SQL). Each order earns at the level its customer held
    when the batch began. Returns the number of orders that earned."""
    due = selectors.orders_due_to_earn(account, list(order_ids))
    if not due:
        return 0
    moves = []
    for order in due:
        multiplier = order.level_multiplier or Decimal(1)
        card = LoyaltyCard(pk=order.card_id, customer_id=order.customer_id)
        move = _earn_move(account, order, card, multiplier)
        if move is not None:
            moves.append(move)
    if not moves:
        return 0
    try:
        with transaction.atomic():
            return len(_moves_apply(account_id=account.pk, moves=moves))
    except IntegrityError:
        # An order earned concurrently: order by order, each deciding on its own.
        return sum(order_earn(account=account, order=order) is not None for order in due)


def order_reverse(
    *, account: Account, order: Any, why: str | None = None
) -> LoyaltyTransaction | None:
    """The order that earned was cancelled, refunded or deleted: a `reverse` row takes
    back min(earned, balance) from the card it earned on (blocked or not), never below
    zero, with what it could not take back as `shortfall`; the card's lifetime earned
    points lose the whole earning. Once: None when the order earned nothing or was
    reversed already."""
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
        "reason": f"Order #{order.number} {why or order.status}",
    }
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_REVERSE_SQL, params)
            row = cursor.fetchone()
    except IntegrityError as exc:
        if constraint_of(exc) != ORDER_KIND_UNIQUE:
            raise
        return None
    return None if row is None else _row(row_id)


def orders_reverse(*, account: Account, order_ids: Iterable[Any]) -> int:
    """Reverse, one statement each, those of a batch's orders that are cancelled or
    refunded and earned without a reversal yet (found in one query). Returns how many
    were reversed."""
    due = selectors.orders_due_to_reverse(account, list(order_ids))
    return sum(order_reverse(account=account, order=order) is not None for order in due)


# --- Levels -------------------------------------------------------------------------------


def _unique_level() -> Any:
    return unique_conflicts(
        {
            "loyaltylevel_unique_name": lambda: Conflict(
                {"name": FieldError("A level with this name exists.", "duplicate_name")},
                code="duplicate_name",
            ),
            "loyaltylevel_unique_min_points": lambda: Conflict(
                {
                    "min_points": FieldError(
                        "Another level starts at these points.", "duplicate_min_points"
                    )
                },
                code="duplicate_min_points",
            ),
        }
    )


@transaction.atomic
def level_create(
    *, account: Account, name: str, min_points: Decimal, earn_multiplier: Decimal
) -> LoyaltyLevel:
    """A level of the program: customers whose lifetime earned points reach
    `min_points` (and no higher level's) earn at `earn_multiplier`. Names and
    thresholds are unique in the account (409)."""
    level = LoyaltyLevel(
        account=account, name=name, min_points=min_points, earn_multiplier=earn_multiplier
    )
    with _unique_level():
        level.save(force_insert=True)
    return level


@transaction.atomic
def level_update(*, level: LoyaltyLevel, **fields: Any) -> LoyaltyLevel:
    """Change a level; customers' levels follow at once (they are read, not stored)."""
    for name, value in fields.items():
        setattr(level, name, value)
    with _unique_level():
        level.save()
    return level


@transaction.atomic
def level_delete(*, level: LoyaltyLevel) -> None:
    level.delete()


# --- Credit (seed 001's allow-credit) ------------------------------------------------------

INACTIVE_CUSTOMER = "inactive_customer"
NON_POSITIVE_AMOUNT = "non_positive_amount"
PAST_DATE = "past_date"
TOO_MANY_REFUSALS = "too_many_refusals"
OVER_CREDIT_LIMIT = "over_credit_limit"


@dataclass(frozen=True)
class CreditDecision:
    customer: Customer
    allowed: bool
    reasons: list[str]
    credit_request: CreditRequest | None


@transaction.atomic
def credit_allow(
    *, account: Account, customer: Customer, amount: Decimal, date: date | None = None
) -> CreditDecision:
    """Whether the customer may take `amount` of credit on `date` (default: today in
    the account's timezone). Allowed iff the customer is active, the amount is above
    zero, the date is not before today in the account's timezone, their refusals are
    fewer than the account's `max_credit_refusals`, and the amount fits in their
    `credit_limit` less their scheduled requests (no limit: no ceiling). Allowed: a
    scheduled CreditRequest. Refused: the customer's `refusals_count` grows by one,
    whatever the reasons (every reason is listed).

    The customer row is locked first, so concurrent requests for one customer decide
    one after the other (two requests cannot both fit in what is left of a limit)."""
    locked = Customer.objects.select_for_update().get(account=account, pk=customer.pk)
    today = account_today(account)
    day = date or today
    reasons = []
    if locked.status != CustomerStatus.ACTIVE:
        reasons.append(INACTIVE_CUSTOMER)
    if not amount.is_finite() or amount <= 0:
        reasons.append(NON_POSITIVE_AMOUNT)
    if day < today:
        reasons.append(PAST_DATE)
    if locked.refusals_count >= account.max_credit_refusals:
        reasons.append(TOO_MANY_REFUSALS)
    if locked.credit_limit is not None and (
        not amount.is_finite()
        or amount > locked.credit_limit - selectors.scheduled_credit(account, locked.pk)
    ):
        reasons.append(OVER_CREDIT_LIMIT)
    if reasons:
        refused = customer_services.customer_refusals_add(customer=locked)
        return CreditDecision(customer=refused, allowed=False, reasons=reasons, credit_request=None)
    request = CreditRequest.objects.create(
        account=account, customer=locked, amount=amount, date=day
    )
    return CreditDecision(customer=locked, allowed=True, reasons=[], credit_request=request)


# A scheduled request is settled once: granted (the credit was given) or cancelled.
CREDIT_SETTLEMENTS = (CreditStatus.GRANTED, CreditStatus.CANCELLED)


@transaction.atomic
def credit_request_settle(*, credit_request: CreditRequest, status: str) -> CreditRequest:
    """Mark a scheduled request granted or cancelled; either frees the part of the
    customer's credit limit it held. A settled request is a 409 `invalid_status`."""
    if status not in CREDIT_SETTLEMENTS:
        raise Invalid(
            {
                "status": FieldError(
                    "A request is settled as granted or cancelled.", "invalid_choice"
                )
            }
        )
    changed = CreditRequest.objects.filter(
        pk=credit_request.pk, status=CreditStatus.SCHEDULED
    ).update(status=status, updated_at=timezone.now())
    credit_request.refresh_from_db()
    if not changed:
        raise Conflict(
            f"This credit request is {credit_request.status} already.", code="invalid_status"
        )
    return credit_request
