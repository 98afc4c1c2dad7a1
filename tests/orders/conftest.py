"""Order-building helpers: a customer, products, a point of sale, and short ways to post
orders and read a customer's aggregates back from the database."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer
from orders.models import Order
from tests.factories import CustomerFactory, PointOfSaleFactory, ProductFactory

ORDERS = "/api/v1/orders/"


@pytest.fixture
def customer(account):
    return CustomerFactory(account=account, email="ann@example.com", external_id="CRM-1")


@pytest.fixture
def other_customer(account):
    return CustomerFactory(account=account, email="bob@example.com")


@pytest.fixture
def shirt(account):
    return ProductFactory(
        account=account, sku="TS-1", name="T-shirt", brand="Acme", price=Decimal("19.99")
    )


@pytest.fixture
def mug(account):
    return ProductFactory(account=account, sku="MUG-1", name="Mug", brand="Globex", price="7.50")


@pytest.fixture
def store(account):
    return PointOfSaleFactory(account=account, code="PAR1", name="Paris", city="Paris")


@pytest.fixture
def foreign(other_account):
    """Rows of another account, whose ids must never be usable here."""
    return {
        "customer": CustomerFactory(account=other_account, email="eve@example.com"),
        "product": ProductFactory(account=other_account, sku="TS-1"),
        "pos": PointOfSaleFactory(account=other_account, code="PAR1"),
    }


def order_url(order_or_id=None, action=None):
    if order_or_id is None:
        return ORDERS
    ref = order_or_id["id"] if isinstance(order_or_id, dict) else order_or_id
    return f"{ORDERS}{ref}/" + (f"{action}/" if action else "")


def post_order(client, customer, /, **fields):
    """Create an order for `customer` (amount 10.00 unless items or amount are given)
    and return its body; fails the test unless it is a 201. `fields` may name the
    customer another way (`customer=<number>`, `customer_external_id=...`)."""
    payload = {"customer": str(customer.pk), **fields}
    payload = {key: value for key, value in payload.items() if value is not None}
    if "items" not in payload and "product" not in payload:
        payload.setdefault("amount", "10.00")
    response = client.post(ORDERS, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def aggregates(customer):
    """The customer's spend aggregates as stored, read fresh."""
    with account_scope(customer.account_id):
        row = Customer.objects.get(pk=customer.pk)
    return {
        "lifetime_spend": row.lifetime_spend,
        "total_orders": row.total_orders,
        "average_order_value": row.average_order_value,
        "first_order_date": row.first_order_date,
        "last_order_date": row.last_order_date,
    }


def stored_order(account, order_id):
    with account_scope(account):
        order = Order.objects.get(pk=order_id)
        order.stored_items = list(order.items.order_by("position"))
    return order


def amounts_of(account):
    """The amounts of the account's orders as stored, oldest first (read fresh)."""
    with account_scope(account):
        return list(Order.objects.order_by("created_at", "id").values_list("amount", flat=True))


def errors_by_attr(response):
    return {e["attr"]: e["code"] for e in response.json()["errors"]}
