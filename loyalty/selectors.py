"""Every non-trivial read of loyalty: cards by number, balances and the ledger."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import Account
from loyalty.models import CardStatus, LoyaltyCard, LoyaltyTransaction, TransactionKind


def card_list(account: Account) -> QuerySet[LoyaltyCard]:
    return LoyaltyCard.objects.filter(account=account)


def card_by_number(account: Account, number: str) -> LoyaltyCard | None:
    return card_list(account).filter(number=number).first()


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
        order_id=order_id, kind__in=[TransactionKind.EARN, TransactionKind.REVERSE]
    )
    return {row.kind: row for row in rows}


def order_has_history(account: Account, order_id: Any) -> bool:
    """Whether any ledger row refers to the order (the ledger keeps it from deletion)."""
    return transaction_list(account).filter(order_id=order_id).exists()
