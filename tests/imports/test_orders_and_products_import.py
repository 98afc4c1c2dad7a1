"""Importing orders (one line per item, grouped by the order's external_id) with exact
amounts and customer aggregates, and products (by sku)."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from orders.services import customer_aggregates_refresh
from tests.factories import CustomerFactory, PointOfSaleFactory, ProductFactory
from tests.imports.conftest import (
    csv_bytes,
    customer,
    orders,
    products,
    report_rows,
    run_import,
)

pytestmark = pytest.mark.django_db

HEADER = [
    "order_id",
    "customer_external_id",
    "ordered_at",
    "status",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
]


@pytest.fixture
def ann(account):
    return CustomerFactory(account=account, external_id="C1", email="ann@example.com")


@pytest.fixture
def bob(account):
    return CustomerFactory(account=account, external_id="C2", email="bob@example.com")


@pytest.fixture
def shirt(account):
    return ProductFactory(
        account=account, sku="TS-1", name="T-shirt", brand="Acme", price=Decimal("19.99")
    )


def aggregates(account, who):
    c = customer(account, pk=who.pk)
    return c.lifetime_spend, c.total_orders, c.average_order_value


def test_lines_sharing_an_order_id_are_one_orders_items(account, ann, bob, shirt):
    content = csv_bytes(
        [
            HEADER,
            ["O-1", "C1", "2024-05-01 10:00", "completed", "TS-1", "", "2", "", ""],
            ["O-1", "C1", "2024-05-01 10:00", "completed", "", "Mug", "1", "7.5", "10"],
            ["O-2", "C2", "2024-05-02", "cancelled", "TS-1", "", "1", "", ""],
        ]
    )
    job = run_import(account, "orders", content)

    assert (job.status, job.total_rows, job.processed_rows) == ("succeeded", 3, 3)
    assert (job.created, job.failed) == (2, 0)
    first, second = orders(account)
    assert first.external_id == "O-1"
    assert first.customer_id == ann.pk
    assert [
        (i.sku, i.name, i.quantity, i.unit_price, i.line_total) for i in first.stored_items
    ] == [
        ("TS-1", "T-shirt", 2, Decimal("19.99"), Decimal("39.98")),
        ("", "Mug", 1, Decimal("7.50"), Decimal("6.75")),
    ]
    assert first.amount == Decimal("46.73")
    assert second.status == "cancelled"
    # Aggregates count completed orders only, and are exact.
    assert aggregates(account, ann) == (Decimal("46.73"), 1, Decimal("46.730000"))
    assert aggregates(account, bob) == (Decimal("0.00"), 0, None)


def test_line_totals_round_half_up(account, ann):
    content = csv_bytes([HEADER, ["O-1", "C1", "2024-05-01", "", "", "Pen", "1", "0.05", "50"]])
    run_import(account, "orders", content)

    (order,) = orders(account)
    assert order.stored_items[0].line_total == Decimal("0.03")  # 0.025 -> 0.03
    assert order.amount == Decimal("0.03")


def test_one_bad_line_fails_its_whole_order_and_only_it(account, ann, shirt):
    content = csv_bytes(
        [
            HEADER,
            ["O-1", "C1", "2024-05-01", "", "TS-1", "", "1", "", ""],
            ["O-1", "C1", "2024-05-01", "", "NOPE", "", "0", "", ""],
            ["O-2", "C1", "2024-05-01", "", "TS-1", "", "1", "", ""],
            ["O-3", "C9", "2024-05-01", "", "TS-1", "", "1", "", ""],
        ]
    )
    job = run_import(account, "orders", content)

    assert (job.created, job.failed) == (1, 2)
    assert [o.external_id for o in orders(account)] == ["O-2"]
    reasons = {int(r["line"]): r["reason"] for r in report_rows(job)}
    assert set(reasons) == {2, 3, 5}
    assert "line(s) 3 have errors" in reasons[2]
    assert "quantity" in reasons[3]
    assert "unit_price" in reasons[3]
    assert "customer_external_id: Customer not found." in reasons[5]
    assert aggregates(account, ann)[1] == 1


def test_an_order_without_items_needs_an_amount(account, ann):
    content = csv_bytes(
        [
            ["external_id", "customer_email", "amount", "ordered_at"],
            ["T-1", "ANN@example.com", "12.5", "2024-01-01"],
            ["T-2", "ann@example.com", "", "2024-01-01"],
        ]
    )
    job = run_import(account, "orders", content)

    assert (job.created, job.failed) == (1, 1)
    (order,) = orders(account)
    assert order.amount == Decimal("12.50")
    assert order.stored_items == []
    assert job.errors[0]["message"] == "An order without items needs an amount."


def test_a_given_amount_must_be_the_sum_of_the_lines(account, ann, shirt):
    content = csv_bytes(
        [
            ["order_id", "customer", "sku", "quantity", "amount"],
            ["O-1", str(ann.pk), "TS-1", "1", "19.99"],
            ["O-2", str(ann.number), "TS-1", "1", "20"],
        ]
    )
    job = run_import(account, "orders", content)

    assert (job.created, job.failed) == (1, 1)
    assert "sum of the line totals, 19.99" in job.errors[0]["message"]


def test_reimporting_orders_changes_nothing_and_a_change_updates(account, ann, bob, shirt):
    rows = [
        HEADER,
        ["O-1", "C1", "2024-05-01 10:00", "completed", "TS-1", "", "2", "", ""],
        ["O-1", "C1", "2024-05-01 10:00", "completed", "", "Mug", "1", "7.5", ""],
    ]
    run_import(account, "orders", csv_bytes(rows))
    before = [(o.pk, o.amount, o.updated_at) for o in orders(account)]

    again = run_import(account, "orders", csv_bytes(rows))
    assert (again.created, again.updated, again.skipped) == (0, 0, 1)
    assert [(o.pk, o.amount, o.updated_at) for o in orders(account)] == before

    rows[2][1] = rows[1][1] = "C2"  # the order moves to Bob, with one more mug
    rows[2][6] = "2"
    changed = run_import(account, "orders", csv_bytes(rows))
    assert (changed.updated, changed.skipped) == (1, 0)
    (order,) = orders(account)
    assert order.customer_id == bob.pk
    assert order.amount == Decimal("54.98")
    assert [i.quantity for i in order.stored_items] == [2, 2]
    assert aggregates(account, ann)[:2] == (Decimal("0.00"), 0)
    assert aggregates(account, bob)[:2] == (Decimal("54.98"), 1)


def test_orders_take_points_of_sale_by_code_and_choices_leniently(account, ann, shirt):
    store = PointOfSaleFactory(account=account, code="PAR1")
    content = csv_bytes(
        [
            ["order_id", "compte", "pos", "origin", "mode_paiement", "devise", "sku", "qty"],
            ["O-1", "C1", "PAR1", "e-commerce", "CB", "eur", "TS-1", "3"],
        ]
    )
    job = run_import(account, "orders", content)

    (order,) = orders(account)
    assert job.created == 1
    assert (order.channel, order.payment_method, order.currency) == ("ecommerce", "card", "EUR")
    assert order.pos_id == store.pk


def test_a_dry_run_of_orders_writes_nothing(account, ann, shirt):
    content = csv_bytes([HEADER, ["O-1", "C1", "2024-05-01", "", "TS-1", "", "1", "", ""]])
    job = run_import(account, "orders", content, dry_run=True)

    assert job.created == 1
    assert orders(account) == []
    assert aggregates(account, ann)[1] == 0


def test_an_orders_file_needs_the_order_and_customer_columns(account):
    job = run_import(account, "orders", csv_bytes([["sku", "quantity"], ["TS-1", "1"]]))

    assert job.status == "failed"
    assert "external_id" in job.message
    assert "customer" in job.message


def test_aggregates_stay_exact_with_orders_written_elsewhere(account, ann, shirt):
    content = csv_bytes([HEADER, ["O-1", "C1", "2024-05-01", "", "TS-1", "", "1", "", ""]])
    run_import(account, "orders", content)
    with account_scope(account):
        customer_aggregates_refresh(account_id=account.pk, customer_ids=[ann.pk])
    assert aggregates(account, ann)[:2] == (Decimal("19.99"), 1)


def test_products_upsert_by_sku(account, shirt):
    content = csv_bytes(
        [
            ["SKU", "Nom", "Marque", "Prix", "Actif"],
            ["TS-1", "T-shirt", "Acme", "21,00", "oui"],
            ["MUG-1", "Mug", "Globex", "7.50", "non"],
            ["BAD-1", "", "", "", ""],
            ["BAD-2", "Bad", "", "-1", ""],
        ]
    )
    job = run_import(account, "products", content)

    assert (job.created, job.updated, job.failed) == (1, 1, 2)
    by_sku = {p.sku: p for p in products(account)}
    assert by_sku["TS-1"].price == Decimal("21.00")
    assert (by_sku["MUG-1"].active, by_sku["MUG-1"].brand) == (False, "Globex")
    messages = sorted(e["message"] for e in job.errors)
    assert messages == [
        "A new product needs a name.",
        "Ensure this value is greater than or equal to 0.",
    ]

    again = run_import(account, "products", content)
    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 2, 2)


def test_order_datetimes_out_of_range_fail_their_order(account, ann, api_client):
    account.timezone = "America/New_York"
    account.save()
    rows = [
        ["order_id", "customer_external_id", "ordered_at", "amount"],
        ["O-1", "C1", "0001-01-01 02:00", "10.00"],  # 0001-01-01 06:56 UTC, fine
        ["O-2", "C1", "9999-12-31 23:00", "10.00"],  # in 10000 once in UTC
        ["O-3", "C1", "0001-01-01T01:00:00Z", "10.00"],  # in year 0 in New York
    ]
    job = run_import(account, "orders", csv_bytes(rows))

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 2)
    assert [(e["line"], e["column"], e["value"]) for e in job.errors] == [
        (3, "ordered_at", "9999-12-31 23:00"),
        (4, "ordered_at", "0001-01-01T01:00:00Z"),
    ]
    assert all("outside the years 1 to 9999" in e["message"] for e in job.errors)
    assert [o.external_id for o in orders(account)] == ["O-1"]
    assert api_client.get("/api/v1/orders/").status_code == 200
    assert api_client.get(f"/api/v1/customers/{ann.pk}/").json()["total_orders"] == 1
