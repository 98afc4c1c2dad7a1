"""Property tests of the order arithmetic against plain oracles: line totals and amounts
are exact Decimal arithmetic rounded half-up to cents, whatever the inputs."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.services import line_total
from tests.orders.conftest import ORDERS, stored_order

CENT = Decimal("0.01")

prices = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
quantities = st.integers(min_value=1, max_value=1000)
discounts = st.decimals(min_value=0, max_value=100, places=2)
lines = st.lists(st.tuples(prices, quantities, discounts), min_size=1, max_size=6)


def decimal_oracle(unit_price, quantity, discount):
    """The contract, written plainly: unit_price x quantity x (1 - discount/100)."""
    return (unit_price * quantity * (1 - discount / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def integer_oracle(unit_price, quantity, discount):
    """The same in integer cents and basis points, rounding half-up by hand."""
    numerator = int(unit_price * 100) * quantity * (10000 - int(discount * 100))
    cents, remainder = divmod(numerator, 10000)
    if 2 * remainder >= 10000:
        cents += 1
    return Decimal(cents) / 100


@given(prices, quantities, discounts)
@settings(max_examples=500)
def test_line_total_matches_both_oracles(unit_price, quantity, discount):
    total = line_total(unit_price=unit_price, quantity=quantity, discount_percent=discount)
    assert total == decimal_oracle(unit_price, quantity, discount)
    assert total == integer_oracle(unit_price, quantity, discount)
    assert total.as_tuple().exponent == -2


@pytest.mark.django_db
@given(lines)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_amount_is_the_sum_of_oracle_line_totals(api_client, customer, account, lines):
    items = [
        {
            "name": f"line {n}",
            "unit_price": str(price),
            "quantity": qty,
            "discount_percent": str(discount),
        }
        for n, (price, qty, discount) in enumerate(lines)
    ]
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "items": items}, format="json"
    )
    assert response.status_code == 201, response.json()
    expected = [decimal_oracle(*line) for line in lines]
    body = response.json()
    assert [i["line_total"] for i in body["items"]] == [f"{t:.2f}" for t in expected]
    assert body["amount"] == f"{sum(expected):.2f}"
    assert stored_order(account, body["id"]).amount == sum(expected)
