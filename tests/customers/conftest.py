"""Helpers of the customers tests. Orders are written straight to the table (inside the
account's scope) and the spend aggregates refreshed by the orders app's own function:
the orders service is someone else's."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import sequence_reserve
from crm_project.tenancy import account_scope
from customers.models import Customer, Interaction
from orders.models import Order
from orders.services import customer_aggregates_refresh
from tests.factories import CustomerFactory


def place_order(account, customer, amount, *, ordered_at=None, status="completed"):
    with account_scope(account):
        order = Order.objects.create(
            account=account,
            customer=customer,
            number=sequence_reserve(account_id=account.pk, name="order"),
            amount=Decimal(str(amount)),
            ordered_at=ordered_at or timezone.now(),
            status=status,
        )
        customer_aggregates_refresh(account_id=account.pk, customer_ids=[customer.pk])
    return order


def add_interaction(account, customer, **fields):
    fields.setdefault("type", "call")
    fields.setdefault("subject", "Catch-up")
    fields.setdefault("date", timezone.now())
    with account_scope(account):
        return Interaction.objects.create(account=account, customer=customer, **fields)


def stored(account, customer_or_id):
    """The customer as stored now (read back from the database)."""
    pk = getattr(customer_or_id, "pk", customer_or_id)
    with account_scope(account):
        return Customer.objects.get(pk=pk)


def local_noon(account, days_ago, *, now=None):
    """Noon of the calendar day `days_ago` days before today, in the account's zone."""
    tz = ZoneInfo(account.timezone)
    today = (now or timezone.now()).astimezone(tz).date()
    return datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=tz)


def backdate(account, customer, when):
    with account_scope(account):
        Customer.objects.filter(pk=customer.pk).update(created_at=when)


@pytest.fixture
def customer(account):
    return CustomerFactory(
        account=account, first_name="Alice", last_name="Johnson", email="alice@example.com"
    )


@pytest.fixture
def agent(account):
    from tests.factories import AgentFactory

    return AgentFactory(account=account)
