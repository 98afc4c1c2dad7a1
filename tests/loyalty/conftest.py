"""Loyalty helpers: a customer with a card, and short ways to read a card's balance and
ledger back from the database."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm_project.tenancy import account_scope
from loyalty import services
from loyalty.models import LoyaltyCard, LoyaltyTransaction
from tests.factories import AccountFactory, CustomerFactory

CARDS = "/api/v1/loyalty/cards/"
CREDIT = "/api/v1/loyalty/credit/"
REDEEM = "/api/v1/loyalty/redeem/"
ADJUST = "/api/v1/loyalty/adjust/"
TRANSACTIONS = "/api/v1/loyalty/transactions/"


def issue_card(account, number="33", customer=None, **fields):
    customer = customer or CustomerFactory(account=account)
    with account_scope(account):
        return services.card_issue(account=account, customer=customer, number=number, **fields)


def give_points(account, card, points):
    """`points` on the card, as an admin's adjustment."""
    with account_scope(account):
        services.card_adjust(
            account=account, card_number=card.number, points=Decimal(points), reason="test"
        )


def balance(account, number="33"):
    with account_scope(account):
        return LoyaltyCard.objects.get(number=number).points_balance


def ledger(account, number=None):
    """The rows (of one card), oldest first, as (kind, points, balance_after)."""
    with account_scope(account):
        rows = LoyaltyTransaction.objects.order_by("created_at", "id")
        if number is not None:
            rows = rows.filter(card__number=number)
        return [(row.kind, row.points, row.balance_after) for row in rows]


def assert_chains(account):
    """Every card's rows chain: balance_after = previous balance_after + points, and
    the last one is the card's balance."""
    with account_scope(account):
        for card in LoyaltyCard.objects.all():
            previous = Decimal("0.00")
            rows = LoyaltyTransaction.objects.filter(card=card).order_by("created_at", "id")
            for row in rows:
                assert row.balance_after == previous + row.points, (card.number, row.pk)
                previous = row.balance_after
            assert card.points_balance == previous


@pytest.fixture
def customer(account):
    return CustomerFactory(account=account, email="ann@example.com")


@pytest.fixture
def card(account, customer):
    return issue_card(account, "33", customer)


# --- Races ----------------------------------------------------------------------------


def run_in_parallel(calls):
    """Run each call in its own thread (own connection), all released at once; at most
    25 connections at a time so a shared test server is not exhausted."""
    start = threading.Barrier(len(calls))
    connections_left = threading.Semaphore(25)
    answers = []

    def run(call):
        start.wait()
        with connections_left:
            try:
                answers.append(call())
            finally:
                connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture
def racing_account(transactional_db):
    return AccountFactory()
