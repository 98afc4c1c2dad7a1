"""Money limits: an order's amount keeps its own limit, a customer's spend holds the sum
of any number of maximal orders (customers.models.SPEND_DIGITS), and every answer that
shows them stays exact."""

from decimal import Decimal

import pytest

from orders.services import MAX_MONEY
from tests.orders.conftest import ORDERS, aggregates, errors_by_attr

pytestmark = pytest.mark.django_db

MAXIMAL = "999999999999.99"
COUNT = 300  # 300 maximal orders: a 15-digit spend, past the 14 digits of an amount


def test_many_maximal_orders_add_up_exactly_on_one_customer(api_client, customer):
    rows = [{"customer": str(customer.pk), "amount": MAXIMAL} for _ in range(COUNT)]
    response = api_client.post(f"{ORDERS}bulk/", {"orders": rows}, format="json")
    assert response.json()["created"] == COUNT, response.json()["results"][:1]

    spend = Decimal(MAXIMAL) * COUNT
    assert aggregates(customer)["lifetime_spend"] == spend
    assert aggregates(customer)["average_order_value"] == Decimal(MAXIMAL)
    detail = api_client.get(f"/api/v1/customers/{customer.pk}/")
    assert detail.status_code == 200
    assert (detail.json()["lifetime_spend"], detail.json()["total_orders"]) == (
        f"{spend}",
        COUNT,
    )
    assert detail.json()["average_order_value"] == MAXIMAL
    listed = api_client.get("/api/v1/customers/?ordering=-lifetime_spend")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["lifetime_spend"] == f"{spend}"
    health = api_client.get(f"/api/v1/customers/{customer.pk}/health/")
    assert health.status_code == 200
    assert health.json()["monetary_365d"] == f"{spend}"
    filtered = api_client.get(f"/api/v1/customers/?min_lifetime_spend={spend}")
    assert [row["id"] for row in filtered.json()["results"]] == [str(customer.pk)]


def test_an_order_amount_keeps_its_own_limit(api_client, customer):
    too_much = MAX_MONEY + Decimal("0.01")
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "amount": str(too_much)}, format="json"
    )
    assert errors_by_attr(response) == {"amount": "max_digits"}
    assert aggregates(customer)["total_orders"] == 0
