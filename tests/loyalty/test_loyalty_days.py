"""The ledger's rollup (loyalty.models.LoyaltyDay) behind the dashboard's points earned
and redeemed: for windows of whole days and of part-days, before and after a fold, the
summary answers what the ledger rows themselves say."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from crm_project import rollups
from crm_project.tenancy import account_scope
from loyalty import selectors, services
from loyalty.models import LoyaltyDay, LoyaltyTransaction
from tests.factories import AccountFactory
from tests.loyalty.conftest import give_points, issue_card

pytestmark = pytest.mark.django_db


def raw(account, start, end):
    """The same two figures from the ledger rows."""
    rows = LoyaltyTransaction.objects.filter(account=account)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    with account_scope(account):
        sums = rows.aggregate(
            earned=Sum("points", filter=Q(kind__in=["earn", "credit"])),
            redeemed=Sum("points", filter=Q(kind="redeem")),
        )
    return sums["earned"] or Decimal("0"), abs(sums["redeemed"] or Decimal("0"))


def summary(account, start, end):
    with account_scope(account):
        figures = selectors.loyalty_summary(account, start=start, end=end)
    return figures["points_earned"], figures["points_redeemed"]


@pytest.fixture
def ledger(account):
    card = issue_card(account, "C1")
    give_points(account, card, "500.00")
    with account_scope(account):
        services.tickets_credit(
            account=account,
            tickets=[services.Ticket(card_number="C1", amount=Decimal("40.00"), ticket_id="T1")],
        )
        services.card_redeem(account=account, card_number="C1", points=Decimal("25.50"))
        services.card_redeem(account=account, card_number="C1", points=Decimal("4.50"))
        # Rows of earlier days, as a ledger of some age has them.
        now = timezone.now()
        for days, kind, points in [(3, "credit", "12.00"), (3, "redeem", "-2.00"),
                                   (40, "earn", "7.77"), (41, "redeem", "-1.11")]:  # fmt: skip
            LoyaltyTransaction.objects.create(
                account=account, card=card, customer_id=card.customer_id, kind=kind,
                points=Decimal(points), balance_after=Decimal("1000.00"),
                created_at=now - timedelta(days=days, hours=5),
            )  # fmt: skip
    return card


def windows():
    now = timezone.now()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        (None, None),
        (now - timedelta(hours=1), None),
        (midnight - timedelta(days=10), None),  # whole days only
        (now - timedelta(days=40, hours=7), now - timedelta(minutes=1)),  # part-days
        (None, now - timedelta(days=3)),
        (now - timedelta(days=3, hours=6), now - timedelta(days=3, hours=4)),  # one day
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)),  # nothing
    ]


def test_the_summary_is_the_ledgers_in_every_window(account, ledger):
    for start, end in windows():
        assert summary(account, start, end) == raw(account, start, end), (start, end)
    # The credited ticket's points (40.00 at the account's rate) and the 12.00 and 7.77
    # of earlier days; the 500.00 adjustment is neither earned nor redeemed.
    with account_scope(account):
        credited = LoyaltyTransaction.objects.get(ticket_id="T1").points
    assert summary(account, None, None) == (credited + Decimal("19.77"), Decimal("33.11"))


def test_a_fold_keeps_the_figures(account, ledger):
    with account_scope(account):
        before = LoyaltyDay.objects.count()
        read, written = rollups.rollup_compact(
            rollups.rollup("loyalty.loyaltyday"), account_id=account.pk
        )
        assert read > written > 0
        assert LoyaltyDay.objects.count() == before - read + written
    for start, end in windows():
        assert summary(account, start, end) == raw(account, start, end), (start, end)


def test_another_accounts_ledger_is_not_counted(account, ledger):
    other = AccountFactory()
    card = issue_card(other, "C1")
    give_points(other, card, "9.00")
    assert summary(other, None, None) == (Decimal("0"), Decimal("0"))
    assert summary(account, None, None) == raw(account, None, None)
