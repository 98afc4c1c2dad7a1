"""POST /api/v1/orders/bulk/: upsert by external_id, every row reported, one bad row
never blocks or half-writes the others, aggregates exact afterwards."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from orders.models import Order, OrderItem
from tests.orders.conftest import aggregates, amounts_of, post_order

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"


def test_mixed_rows_are_each_reported(
    api_client, customer, other_customer, shirt, foreign, account
):
    post_order(api_client, customer, external_id="E-1", amount="10.00")
    rows = [
        {"external_id": "E-1", "amount": "12.00"},  # updated
        {
            "external_id": "E-2",
            "customer_email": "bob@example.com",
            "items": [{"sku": "TS-1", "quantity": 2}],
        },  # created
        {"customerId": customer.number, "amount": 1200},  # seed 000: created, no external_id
        {
            "external_id": "E-3",
            "customer": str(customer.pk),
            "items": [{"sku": "TS-1", "quantity": 1}, {"sku": "TS-1", "quantity": 0}],
        },  # failed
        {"external_id": "E-4", "customer": str(foreign["customer"].pk), "amount": 5},  # failed
        "not an object",  # failed
        {"external_id": "E-1", "amount": "12.00"},  # skipped: nothing changes
        {
            "external_id": "E-5",
            "customer": str(customer.pk),
            "amount": 3,
            "pos": str(foreign["pos"].pk),
        },  # failed
    ]
    response = api_client.post(BULK, {"orders": rows}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "updated",
        "created",
        "created",
        "failed",
        "failed",
        "failed",
        "skipped",
        "failed",
    ]
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (2, 1, 1, 4)
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert body["results"][3]["errors"][0]["attr"] == "items.1.quantity"
    assert body["results"][4]["errors"][0]["attr"] == "customer"
    assert body["results"][7]["errors"][0]["attr"] == "pos"
    assert body["results"][3]["id"] is None

    with account_scope(account):
        assert Order.objects.count() == 3
        assert not Order.objects.filter(external_id="E-3").exists()
        assert OrderItem.objects.count() == 1  # nothing of the failed row
        assert Order.objects.get(external_id="E-1").amount == Decimal("12.00")
        created = Order.objects.get(pk=body["results"][1]["id"])
        assert (created.customer_id, created.amount) == (other_customer.pk, Decimal("39.98"))

    assert (aggregates(customer)["lifetime_spend"], aggregates(customer)["total_orders"]) == (
        Decimal("1212.00"),
        2,
    )
    assert aggregates(other_customer)["lifetime_spend"] == Decimal("39.98")


def test_bulk_can_move_and_cancel_orders_with_exact_aggregates(
    api_client, customer, other_customer
):
    post_order(api_client, customer, external_id="A", amount="10.00")
    post_order(api_client, customer, external_id="B", amount="20.00")
    rows = [
        {"external_id": "A", "customer_email": "bob@example.com"},
        {"external_id": "B", "status": "cancelled"},
        {"external_id": "C", "customer": str(customer.pk), "amount": "7.00"},
    ]
    body = api_client.post(BULK, {"orders": rows}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["updated", "updated", "created"]
    assert (aggregates(customer)["lifetime_spend"], aggregates(customer)["total_orders"]) == (
        Decimal("7.00"),
        1,
    )
    assert aggregates(other_customer)["lifetime_spend"] == Decimal("10.00")


def test_a_new_external_id_needs_a_customer_and_an_amount(api_client, account):
    body = api_client.post(BULK, {"orders": [{"external_id": "Z"}]}, format="json").json()
    attrs = {e["attr"] for e in body["results"][0]["errors"]}
    assert attrs == {"customer", "amount"}
    assert amounts_of(account) == []


def test_a_bare_list_is_accepted(api_client, customer, account):
    body = api_client.post(
        BULK, [{"customer": str(customer.pk), "amount": "1.00"}], format="json"
    ).json()
    assert body["created"] == 1
    assert amounts_of(account) == [Decimal("1.00")]
    assert aggregates(customer)["lifetime_spend"] == Decimal("1.00")


@pytest.mark.parametrize(
    ("payload", "code"),
    [({"orders": []}, "empty"), ({"orders": {}}, "not_a_list"), ({}, "not_a_list")],
)
def test_a_bad_bulk_body_is_a_400(api_client, payload, code):
    response = api_client.post(BULK, payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": code,
        "detail": response.json()["errors"][0]["detail"],
        "attr": "orders",
    }


def test_more_than_1000_rows_is_a_400(api_client, customer):
    rows = [{"customer": str(customer.pk), "amount": 1}] * 1001
    response = api_client.post(BULK, {"orders": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_rows"


def test_a_thousand_rows_in_one_call(api_client, customer, account):
    rows = [
        {"external_id": f"X-{n}", "customer": str(customer.pk), "amount": "1.25"}
        for n in range(1000)
    ]
    body = api_client.post(BULK, {"orders": rows}, format="json").json()
    assert body["created"] == 1000
    assert aggregates(customer)["lifetime_spend"] == Decimal("1250.00")
    assert aggregates(customer)["total_orders"] == 1000
    with account_scope(account):
        assert Order.objects.values("number").distinct().count() == 1000
