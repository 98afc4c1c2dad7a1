"""Orders written in batches earn set-based (SPEC: Loyalty): POST /api/v1/orders/bulk/
and a CSV orders import earn once per completed or delivered order, on the order's own
active card or else the customer's oldest active card, at the level's multiplier;
re-sending earns nothing more, and cancelling an earned order in a batch reverses it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from loyalty.models import LoyaltyTransaction
from tests.factories import CustomerFactory
from tests.imports.conftest import csv_bytes, run_import
from tests.loyalty.conftest import CREDIT, assert_chains, balance, issue_card, ledger

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"
ORDERS = "/api/v1/orders/"
LEVELS = "/api/v1/loyalty/levels/"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def D(value):
    return Decimal(value)


def bulk(client, *rows):
    response = client.post(BULK, {"orders": list(rows)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["failed"] == 0, body
    return body


def order_rows(account, external_id):
    """The order's ledger rows, oldest first, as (card, kind, points)."""
    with account_scope(account):
        from orders.models import Order

        order = Order.objects.get(external_id=external_id)
        rows = LoyaltyTransaction.objects.filter(order=order.pk).order_by("created_at", "id")
        return [(row.card.number, row.kind, row.points) for row in rows]


def all_rows(account):
    with account_scope(account):
        return LoyaltyTransaction.objects.count()


def days_ago(n):
    return timezone.now() - timedelta(days=n)


@pytest.fixture
def ann(account):
    customer = CustomerFactory(account=account, external_id="C1", email="ann@example.com")
    issue_card(account, "A-BLOCKED", customer, status="blocked", issued_at=days_ago(30))
    issue_card(account, "A-OLD", customer, issued_at=days_ago(20))
    issue_card(account, "A-NEW", customer, issued_at=days_ago(1))
    return customer


@pytest.fixture
def bob(account):
    customer = CustomerFactory(account=account, external_id="C2", email="bob@example.com")
    issue_card(account, "B-1", customer)
    return customer


def row(customer, external_id, amount, status="completed", **fields):
    return {
        "external_id": external_id,
        "customer": str(customer.pk),
        "amount": amount,
        "status": status,
        **fields,
    }


def test_a_bulk_earns_once_per_order_on_the_right_card(api_client, account, ann, bob):
    body = bulk(
        api_client,
        row(ann, "E-1", "20.00"),  # the oldest active card (the blocked one is skipped)
        row(ann, "E-2", "10.00", loyalty_card="A-NEW"),  # its own card
        row(ann, "E-3", "6.00", loyalty_card="A-BLOCKED"),  # own card blocked: oldest active
        row(ann, "E-4", "4.00", loyalty_card="NOPE"),  # unknown card: oldest active
        row(ann, "E-5", "100.00", status="pending"),  # earns nothing
        row(bob, "E-6", "8.00", status="delivered"),
    )
    assert body["created"] == 6
    assert order_rows(account, "E-1") == [("A-OLD", "earn", D("10.00"))]
    assert order_rows(account, "E-2") == [("A-NEW", "earn", D("5.00"))]
    assert order_rows(account, "E-3") == [("A-OLD", "earn", D("3.00"))]
    assert order_rows(account, "E-4") == [("A-OLD", "earn", D("2.00"))]
    assert order_rows(account, "E-5") == []
    assert order_rows(account, "E-6") == [("B-1", "earn", D("4.00"))]
    assert balance(account, "A-OLD") == D("15.00")
    assert balance(account, "A-NEW") == D("5.00")
    assert balance(account, "A-BLOCKED") == D("0.00")
    assert balance(account, "B-1") == D("4.00")
    assert [kind for kind, _, _ in ledger(account, "A-OLD")] == ["earn", "earn", "earn"]
    assert_chains(account)
    response = api_client.get(f"/api/v1/customers/{ann.pk}/")
    assert response.json()["loyalty_points"] == "20.00"


def test_a_bulk_earns_at_the_customers_level_multiplier(api_client, account, ann, bob):
    response = api_client.post(
        LEVELS, {"name": "Gold", "min_points": 10, "earn_multiplier": 3}, format="json"
    )
    assert response.status_code == 201, response.content
    credited = api_client.post(
        CREDIT, {"tickets": [{"card_number": "B-1", "amount": 20}]}, format="json"
    )
    assert credited.json()[0]["credited"] == "10.00"  # Bob reaches Gold
    bulk(api_client, row(bob, "E-1", "10.00"), row(ann, "E-2", "10.00"))
    assert order_rows(account, "E-1") == [("B-1", "earn", D("15.00"))]  # 10 x 0.5 x 3
    assert order_rows(account, "E-2") == [("A-OLD", "earn", D("5.00"))]  # no level
    assert balance(account, "B-1") == D("25.00")
    assert_chains(account)


def test_re_sending_a_bulk_earns_nothing_more(api_client, account, ann):
    rows = [row(ann, "E-1", "20.00"), row(ann, "E-2", "10.00", status="delivered")]
    bulk(api_client, *rows)
    assert balance(account, "A-OLD") == D("15.00")
    count = all_rows(account)
    again = bulk(api_client, *rows)
    assert again["skipped"] == 2
    changed = bulk(api_client, {"external_id": "E-1", "status": "delivered"})
    assert changed["updated"] == 1
    assert all_rows(account) == count
    assert balance(account, "A-OLD") == D("15.00")
    assert order_rows(account, "E-1") == [("A-OLD", "earn", D("10.00"))]


def test_a_pending_order_completed_by_a_later_bulk_earns_then(api_client, account, ann):
    bulk(api_client, row(ann, "E-1", "20.00", status="pending"))
    assert order_rows(account, "E-1") == []
    updated = bulk(api_client, {"external_id": "E-1", "status": "completed"})
    assert updated["updated"] == 1
    assert order_rows(account, "E-1") == [("A-OLD", "earn", D("10.00"))]


def test_a_bulk_row_cancelling_an_earned_order_reverses_it(api_client, account, ann):
    bulk(api_client, row(ann, "E-1", "20.00"), row(ann, "E-2", "10.00"))
    assert balance(account, "A-OLD") == D("15.00")
    body = bulk(
        api_client,
        {"external_id": "E-1", "status": "cancelled"},
        {"external_id": "E-2", "status": "refunded"},
        row(ann, "E-3", "2.00"),
    )
    assert (body["updated"], body["created"]) == (2, 1)
    assert order_rows(account, "E-1") == [
        ("A-OLD", "earn", D("10.00")),
        ("A-OLD", "reverse", D("-10.00")),
    ]
    assert order_rows(account, "E-2") == [
        ("A-OLD", "earn", D("5.00")),
        ("A-OLD", "reverse", D("-5.00")),
    ]
    assert balance(account, "A-OLD") == D("1.00")
    # Once: cancelling again reverses nothing more.
    bulk(api_client, {"external_id": "E-1", "status": "refunded"})
    assert len(order_rows(account, "E-1")) == 2
    assert_chains(account)


def test_a_bulk_of_another_account_earns_nothing_on_this_accounts_cards(
    api_client, other_api_client, account, other_account, ann
):
    theirs = CustomerFactory(account=other_account)
    body = other_api_client.post(
        BULK,
        {"orders": [row(theirs, "X-1", "20.00", loyalty_card="A-OLD")]},
        format="json",
    ).json()
    assert body["created"] == 1
    assert balance(account, "A-OLD") == D("0.00")
    assert all_rows(account) == 0
    assert all_rows(other_account) == 0


# --- CSV import ------------------------------------------------------------------------

HEADER = [
    "order_id",
    "customer_external_id",
    "ordered_at",
    "status",
    "sku",
    "name",
    "quantity",
    "unit_price",
]


def import_rows(*lines, extra=()):
    """The file: each line as (order_id, customer, ordered_at, status, sku, quantity,
    unit_price, *extra), the item named after its sku."""
    return csv_bytes(
        [[*HEADER, *extra], *[[*line[:5], f"Item {line[4]}", *line[5:]] for line in lines]]
    )


def test_an_import_earns_what_the_api_earns_once(api_client, account, ann, bob):
    content = import_rows(
        ["O-1", "C1", "2024-05-01 10:00", "completed", "TS-1", "2", "19.99"],
        ["O-1", "C1", "2024-05-01 10:00", "completed", "MUG", "1", "7.51"],
        ["O-2", "C1", "2024-05-02 10:00", "pending", "TS-1", "1", "19.99"],
    )
    job = run_import(account, "orders", content)
    assert (job.status, job.created, job.failed) == ("succeeded", 2, 0)
    # 47.49 x 0.50 = 23.745 -> 23.75
    assert order_rows(account, "O-1") == [("A-OLD", "earn", D("23.75"))]
    assert order_rows(account, "O-2") == []
    # The same order through the API earns the same.
    response = api_client.post(
        ORDERS,
        {
            "customer": str(bob.pk),
            "external_id": "API-1",
            "status": "completed",
            "items": [
                {"sku": "TS-1", "name": "Item TS-1", "quantity": 2, "unit_price": "19.99"},
                {"sku": "MUG", "name": "Item MUG", "quantity": 1, "unit_price": "7.51"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert order_rows(account, "API-1") == [("B-1", "earn", D("23.75"))]

    count = all_rows(account)
    again = run_import(account, "orders", content)
    assert (again.status, again.created, again.failed) == ("succeeded", 0, 0)
    assert all_rows(account) == count
    assert balance(account, "A-OLD") == D("23.75")
    assert_chains(account)


def test_an_import_earns_at_the_level_multiplier(api_client, account, ann):
    response = api_client.post(
        LEVELS, {"name": "Double", "min_points": 0, "earn_multiplier": 2}, format="json"
    )
    assert response.status_code == 201, response.content
    run_import(
        account, "orders", import_rows(["O-1", "C1", "2024-05-01", "completed", "X", "1", "26"])
    )
    assert order_rows(account, "O-1") == [("A-OLD", "earn", D("26.00"))]


def test_an_import_line_cancelling_an_earned_order_reverses_it(account, ann):
    run_import(
        account,
        "orders",
        import_rows(
            ["O-1", "C1", "2024-05-01", "completed", "X", "1", "20"],
            ["O-2", "C1", "2024-05-01", "delivered", "Y", "1", "10"],
        ),
    )
    assert balance(account, "A-OLD") == D("15.00")
    job = run_import(
        account,
        "orders",
        import_rows(
            ["O-1", "C1", "2024-05-01", "cancelled", "X", "1", "20"],
            ["O-2", "C1", "2024-05-01", "delivered", "Y", "1", "10"],
        ),
    )
    assert (job.status, job.updated, job.skipped) == ("succeeded", 1, 1)
    assert order_rows(account, "O-1") == [
        ("A-OLD", "earn", D("10.00")),
        ("A-OLD", "reverse", D("-10.00")),
    ]
    assert order_rows(account, "O-2") == [("A-OLD", "earn", D("5.00"))]
    assert balance(account, "A-OLD") == D("5.00")
    # The same file again reverses nothing more.
    run_import(
        account,
        "orders",
        import_rows(["O-1", "C1", "2024-05-01", "refunded", "X", "1", "20"]),
    )
    assert len(order_rows(account, "O-1")) == 2
    assert balance(account, "A-OLD") == D("5.00")
    assert_chains(account)


def test_an_import_uses_the_lines_card_column(account, ann):
    content = import_rows(
        ["O-1", "C1", "2024-05-01", "completed", "X", "1", "20", "A-NEW"],
        ["O-2", "C1", "2024-05-01", "completed", "X", "1", "10", "A-BLOCKED"],
        extra=["carte_fid"],
    )
    job = run_import(account, "orders", content)
    assert (job.created, job.failed) == (2, 0)
    assert order_rows(account, "O-1") == [("A-NEW", "earn", D("10.00"))]
    assert order_rows(account, "O-2") == [("A-OLD", "earn", D("5.00"))]
    assert balance(account, "A-BLOCKED") == D("0.00")


def test_an_order_completed_and_cancelled_in_one_bulk_nets_to_nothing(api_client, account, ann):
    body = bulk(
        api_client,
        row(ann, "E-1", "20.00"),
        {"external_id": "E-1", "status": "cancelled"},
        row(ann, "E-2", "4.00"),
    )
    assert (body["created"], body["updated"]) == (2, 1)
    assert balance(account, "A-OLD") == D("2.00")
    rows = order_rows(account, "E-1")
    assert sum(points for _, _, points in rows) == D("0.00")
    with account_scope(account):
        card = ann.loyalty_cards.get(number="A-OLD")
        assert card.points_earned == D("2.00")
    assert_chains(account)
