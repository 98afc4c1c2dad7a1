"""Helpers of the customers tests: orders and interactions made through their services
(tests.factories), customers read back as stored."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.factories import CustomerFactory, InteractionFactory, OrderFactory


def place_order(account, customer, amount, *, ordered_at=None, status="completed"):
    """An order of `customer`, made by the orders service (tests.factories.OrderFactory):
    numbered, its customer's aggregates refreshed."""
    return OrderFactory(
        account=account,
        customer=customer,
        amount=Decimal(str(amount)),
        ordered_at=ordered_at or timezone.now(),
        status=status,
    )


def add_interaction(account, customer, **fields):
    return InteractionFactory(account=account, customer=customer, **fields)


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
