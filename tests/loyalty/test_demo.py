"""`manage.py seed_demo` fills the loyalty program too: levels, cards for most of the
seed's customers, and chained earn rows for their completed and delivered orders."""

from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from crm_project.tenancy import account_scope
from loyalty.models import LoyaltyCard, LoyaltyLevel, LoyaltyTransaction
from orders.models import Order
from tests.loyalty.conftest import assert_chains

pytestmark = pytest.mark.django_db


def seed(account):
    out = StringIO()
    call_command(
        "seed_demo", "--account", account.slug, "--customers", "60", "--orders", "300", stdout=out
    )
    return out.getvalue()


def test_the_demo_has_levels_cards_and_the_points_orders_earned(account):
    output = seed(account)
    assert "loyalty cards" in output
    with account_scope(account):
        cards = list(LoyaltyCard.objects.all())
        assert 20 <= len(cards) <= 58  # about 70 % of 60 customers
        assert list(LoyaltyLevel.objects.order_by("min_points").values_list("name", flat=True)) == [
            "Silver",
            "Gold",
            "Platinum",
        ]
        for card in cards:
            earning = Order.objects.filter(
                customer_id=card.customer_id, status__in=["completed", "delivered"]
            )
            expected = sum(
                (
                    (order.amount * account.loyalty_earn_rate).quantize(
                        Decimal("0.01"), ROUND_HALF_UP
                    )
                    for order in earning
                ),
                Decimal("0.00"),
            )
            assert (card.points_balance, card.points_earned) == (expected, expected)
            assert LoyaltyTransaction.objects.filter(card=card).count() == earning.count()
        assert LoyaltyTransaction.objects.exclude(kind="earn").count() == 0
    assert_chains(account)


def test_seeding_again_adds_no_points(account):
    seed(account)
    with account_scope(account):
        before = sorted(LoyaltyCard.objects.values_list("number", "points_balance"))
        rows = LoyaltyTransaction.objects.count()
    output = seed(account)
    assert "0 loyalty cards with 0 ledger rows, 0 levels" in output
    with account_scope(account):
        assert sorted(LoyaltyCard.objects.values_list("number", "points_balance")) == before
        assert LoyaltyTransaction.objects.count() == rows
