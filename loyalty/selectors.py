"""Every non-trivial read of loyalty: cards by number, balances and the ledger."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import Account
from loyalty.models import LoyaltyCard, LoyaltyTransaction


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
