"""The customer's spend aggregates stay exact through every order write, and the state
changes (cancel, refund, complete) are conditional updates."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from crm_project.tenancy import account_scope
from orders.models import Order
from tests.factories import AccountFactory, CustomerFactory, make_api_key
from tests.orders.conftest import ORDERS, aggregates, order_url, post_order

pytestmark = pytest.mark.django_db

JAN = datetime(2024, 1, 10, 12, tzinfo=UTC)
FEB = datetime(2024, 2, 10, 12, tzinfo=UTC)
MAR = datetime(2024, 3, 10, 12, tzinfo=UTC)


def test_a_customer_without_orders_has_empty_aggregates(customer):
    assert aggregates(customer) == {
        "lifetime_spend": Decimal("0.00"),
        "total_orders": 0,
        "average_order_value": None,
        "first_order_date": None,
        "last_order_date": None,
    }


def test_create_updates_every_aggregate(api_client, customer, shirt):
    post_order(api_client, customer, amount="100.00", ordered_at=FEB.isoformat())
    post_order(api_client, customer, amount="50.50", ordered_at=JAN.isoformat())
    post_order(
        api_client,
        customer,
        items=[{"product": str(shirt.pk), "quantity": 3, "discount_percent": 15}],
        ordered_at=MAR.isoformat(),
    )
    assert aggregates(customer) == {
        "lifetime_spend": Decimal("201.47"),  # 100.00 + 50.50 + 50.97
        "total_orders": 3,
        "average_order_value": Decimal("67.156667"),  # 201.47 / 3 to the column's 6 places
        "first_order_date": JAN,
        "last_order_date": MAR,
    }


def test_average_is_exact_not_rounded_to_cents(api_client, customer):
    for amount in ["10.00", "10.00", "10.01"]:
        post_order(api_client, customer, amount=amount)
    assert aggregates(customer)["average_order_value"] == Decimal("10.003333")


def test_an_amount_change_is_reflected(api_client, customer):
    order = post_order(api_client, customer, amount="100.00")
    api_client.patch(order_url(order), {"amount": "80.00"}, format="json")
    assert aggregates(customer)["lifetime_spend"] == Decimal("80.00")


def test_an_item_change_is_reflected(api_client, customer, shirt):
    order = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    api_client.patch(
        order_url(order), {"items": [{"product": str(shirt.pk), "quantity": 4}]}, format="json"
    )
    assert aggregates(customer)["lifetime_spend"] == Decimal("79.96")


def test_moving_an_order_to_another_customer_recomputes_both(api_client, customer, other_customer):
    post_order(api_client, customer, amount="5.00", ordered_at=JAN.isoformat())
    moved = post_order(api_client, customer, amount="20.00", ordered_at=FEB.isoformat())
    response = api_client.patch(
        order_url(moved), {"customer_email": "bob@example.com"}, format="json"
    )
    assert response.json()["customer"] == str(other_customer.pk)
    old, new = aggregates(customer), aggregates(other_customer)
    assert (old["lifetime_spend"], old["total_orders"], old["last_order_date"]) == (
        Decimal("5.00"),
        1,
        JAN,
    )
    assert (new["lifetime_spend"], new["total_orders"], new["first_order_date"]) == (
        Decimal("20.00"),
        1,
        FEB,
    )


def test_an_ordered_at_change_moves_the_dates(api_client, customer):
    order = post_order(api_client, customer, ordered_at=JAN.isoformat())
    api_client.patch(order_url(order), {"ordered_at": MAR.isoformat()}, format="json")
    assert aggregates(customer)["first_order_date"] == MAR


def test_delete_recomputes(api_client, customer):
    post_order(api_client, customer, amount="5.00")
    order = post_order(api_client, customer, amount="20.00")
    api_client.delete(order_url(order))
    assert (aggregates(customer)["lifetime_spend"], aggregates(customer)["total_orders"]) == (
        Decimal("5.00"),
        1,
    )


def test_deleting_the_only_order_empties_the_aggregates(api_client, customer):
    order = post_order(api_client, customer, amount="20.00")
    api_client.delete(order_url(order))
    assert aggregates(customer)["total_orders"] == 0
    assert aggregates(customer)["average_order_value"] is None
    assert aggregates(customer)["last_order_date"] is None


@pytest.mark.parametrize("status", ["cancelled", "refunded"])
def test_cancelled_and_refunded_orders_do_not_count(api_client, customer, status):
    post_order(api_client, customer, amount="5.00")
    post_order(api_client, customer, amount="20.00", status=status)
    assert (aggregates(customer)["lifetime_spend"], aggregates(customer)["total_orders"]) == (
        Decimal("5.00"),
        1,
    )


@pytest.mark.parametrize("status", ["pending", "processing", "shipped", "delivered"])
def test_open_statuses_count(api_client, customer, status):
    post_order(api_client, customer, amount="5.00", status=status)
    assert aggregates(customer)["total_orders"] == 1


def test_a_status_change_through_the_update_recomputes(api_client, customer):
    order = post_order(api_client, customer, amount="5.00")
    api_client.put(order_url(order), {"status": "CANCELLED"}, format="json")
    assert aggregates(customer)["total_orders"] == 0
    api_client.put(order_url(order), {"status": "completed"}, format="json")
    assert aggregates(customer)["total_orders"] == 1


# --- State changes --------------------------------------------------------------------


def test_cancel_stops_counting_and_a_second_cancel_is_409(api_client, customer, account):
    order = post_order(api_client, customer, amount="20.00")
    response = api_client.post(order_url(order, "cancel"))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert aggregates(customer)["total_orders"] == 0
    again = api_client.post(order_url(order["number"], "cancel"))
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invalid_status"
    with account_scope(account):
        assert Order.objects.get(pk=order["id"]).status == "cancelled"


def test_refund_stops_counting(api_client, customer):
    order = post_order(api_client, customer, amount="20.00")
    assert api_client.post(order_url(order, "refund")).json()["status"] == "refunded"
    assert aggregates(customer)["lifetime_spend"] == Decimal("0.00")
    assert api_client.post(order_url(order, "refund")).status_code == 409
    assert api_client.post(order_url(order, "cancel")).status_code == 409


def test_complete_an_open_order(api_client, customer):
    order = post_order(api_client, customer, amount="20.00", status="pending")
    assert api_client.post(order_url(order, "complete")).json()["status"] == "completed"
    assert api_client.post(order_url(order, "complete")).status_code == 409
    assert aggregates(customer)["total_orders"] == 1


def test_a_cancelled_order_cannot_be_completed_by_action(api_client, customer):
    order = post_order(api_client, customer, amount="20.00", status="cancelled")
    assert api_client.post(order_url(order, "complete")).status_code == 409
    assert aggregates(customer)["total_orders"] == 0


# --- Concurrency ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_orders_of_one_customer_leave_exact_aggregates_and_distinct_numbers():
    account = AccountFactory()
    customer = CustomerFactory(account=account)
    _key, raw = make_api_key(account)
    amounts = [Decimal(n) + Decimal("0.01") * n for n in range(1, 51)]
    start = threading.Barrier(len(amounts))
    # At most this many connections at once, so a shared test server is not exhausted.
    connections_left = threading.Semaphore(25)
    answers = []

    def create(amount):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        start.wait()
        with connections_left:
            try:
                response = client.post(
                    ORDERS, {"customer": str(customer.pk), "amount": str(amount)}, format="json"
                )
                answers.append((response.status_code, response.json()))
            finally:
                connection.close()

    threads = [threading.Thread(target=create, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [201] * 50, answers
    assert len({body["number"] for _, body in answers}) == 50
    stored = aggregates(customer)
    assert stored["total_orders"] == 50
    assert stored["lifetime_spend"] == sum(amounts)
    assert stored["average_order_value"] == sum(amounts) / 50
    with account_scope(account):
        assert Order.objects.count() == 50
        assert stored["last_order_date"] == Order.objects.latest("ordered_at").ordered_at
