"""Streamed exports: the filtered list as CSV with the API's field names, cells escaped
against formula injection, and an export that imports back changing nothing."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from crm_project.tenancy import account_scope
from tests.conftest import basic_auth  # noqa: F401  (the suite's shared helpers)
from tests.factories import AgentFactory, CustomerFactory, PointOfSaleFactory, ProductFactory
from tests.imports.conftest import orders, run_import, snapshot

pytestmark = pytest.mark.django_db


def read_csv(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text))), text


@pytest.fixture
def people(account):
    agent = AgentFactory(account=account)
    return [
        CustomerFactory(
            account=account,
            external_id="C1",
            first_name="Ann",
            last_name="Lee",
            email="ann@example.com",
            phone="+33612345678",
            city="Lyon",
            tags=["vip", "new"],
            metadata={"tier": "gold", "visits": 3},
            credit_limit=Decimal("500.00"),
            assigned_to=agent,
            unsubscribed_at=datetime(2024, 6, 1, 8, 0, 0, 250000, tzinfo=UTC),
        ),
        CustomerFactory(
            account=account,
            first_name='=HYPERLINK("http://evil")',
            last_name="@SUM(A1)",
            email="bob@example.com",
            city="Paris",
            notes="-2+3",
            tags=["a,b"],
            company="\tTabbed",
        ),
    ]


def test_customers_export_has_the_api_field_names_and_values(api_client, people):
    rows, _text = read_csv(api_client.get("/api/v1/customers/export/?ordering=number"))

    assert list(rows[0]) == [
        "id", "number", "external_id", "first_name", "last_name", "name", "email", "phone",
        "company", "type", "status", "gender", "date_of_birth", "street", "city", "state",
        "zip", "country", "billing_address", "shipping_address", "payment_terms",
        "credit_limit", "tax_id", "metadata", "tags", "email_opt_in", "sms_opt_in",
        "unsubscribed_at", "assigned_to", "source_lead", "notes", "created_at", "updated_at",
        "lifetime_spend", "total_orders", "average_order_value", "first_order_date",
        "last_order_date", "refusals_count", "loyalty_points",
    ]  # fmt: skip
    ann = rows[0]
    assert ann["id"] == str(people[0].pk)
    assert ann["name"] == "Ann Lee"
    assert ann["phone"] == "'+33612345678"  # starts with +: escaped
    assert ann["credit_limit"] == "500.00"
    assert ann["lifetime_spend"] == "0.00"
    assert ann["tags"] == "vip, new"
    assert ann["metadata"] == '{"tier": "gold", "visits": 3}'
    assert ann["email_opt_in"] == "true"
    assert ann["unsubscribed_at"] == "2024-06-01T08:00:00.250000Z"
    assert ann["created_at"].endswith("Z")


def test_cells_that_a_spreadsheet_would_run_are_escaped(api_client, people):
    rows, _ = read_csv(api_client.get("/api/v1/customers/export/?ordering=number"))

    bob = rows[1]
    assert bob["first_name"] == '\'=HYPERLINK("http://evil")'
    assert bob["last_name"] == "'@SUM(A1)"
    assert bob["notes"] == "'-2+3"
    assert bob["company"] == "'\tTabbed"
    assert bob["tags"] == '["a,b"]'  # a tag with a comma: a JSON list


def test_the_export_takes_the_lists_filters(api_client, people):
    rows, _ = read_csv(api_client.get("/api/v1/customers/export/?city=paris"))
    assert [r["email"] for r in rows] == ["bob@example.com"]

    rows, _ = read_csv(api_client.get("/api/v1/customers/export/?q=ann"))
    assert [r["email"] for r in rows] == ["ann@example.com"]

    bad = api_client.get("/api/v1/customers/export/?created_after=yesterday-ish")
    assert bad.status_code == 400


def test_the_export_shows_only_the_callers_account(other_api_client, people):
    rows, text = read_csv(other_api_client.get("/api/v1/customers/export/"))
    assert rows == []
    assert text.startswith("id,number,external_id")


def test_customers_export_then_import_changes_nothing(api_client, account, people):
    _rows, text = read_csv(api_client.get("/api/v1/customers/export/"))
    before = snapshot(account)

    job = run_import(account, "customers", text.encode())

    assert (job.created, job.updated, job.failed) == (0, 0, 0)
    assert job.skipped == len(people)
    assert snapshot(account) == before


def test_an_export_imports_into_another_account_as_new_customers(api_client, other_account, people):
    _rows, text = read_csv(api_client.get("/api/v1/customers/export/"))

    job = run_import(other_account, "customers", text.encode())

    assert (job.created, job.failed) == (1, 1)  # the agent is this account's
    assert job.errors[0]["column"] == "assigned_to"


def test_orders_export_is_one_line_per_item_and_imports_back_unchanged(api_client, account):
    ann = CustomerFactory(account=account, external_id="C1")
    ProductFactory(account=account, sku="TS-1", name="T-shirt", price=Decimal("19.99"))
    PointOfSaleFactory(account=account, code="PAR1")
    content = (
        "order_id,customer_external_id,pos,ordered_at,sku,name,quantity,unit_price,discount,amount\n"
        "O-1,C1,PAR1,2024-05-01 10:00,TS-1,,2,,,\n"
        "O-1,C1,PAR1,2024-05-01 10:00,,=Mug,1,7.5,10,\n"
        "O-2,C1,,2024-05-02,,,,,,12.00\n"
    )
    run_import(account, "orders", content)
    rows, text = read_csv(api_client.get("/api/v1/orders/export/?ordering=number"))

    assert [(r["external_id"], r["sku"], r["name"], r["line_total"]) for r in rows] == [
        ("O-2", "", "", ""),
        ("O-1", "TS-1", "T-shirt", "39.98"),
        ("O-1", "", "'=Mug", "6.75"),
    ]
    assert rows[1]["customer"] == str(ann.pk)
    assert rows[1]["amount"] == "46.73"
    before = [(o.pk, o.amount, o.updated_at, len(o.stored_items)) for o in orders(account)]

    job = run_import(account, "orders", text.encode())

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 2, 0)
    assert [(o.pk, o.amount, o.updated_at, len(o.stored_items)) for o in orders(account)] == before


def test_orders_export_takes_the_order_filters(api_client, account):
    CustomerFactory(account=account, external_id="C1")
    run_import(
        account,
        "orders",
        "order_id,compte,amount,status\nO-1,C1,5,completed\nO-2,C1,6,cancelled\n",
    )
    rows, _ = read_csv(api_client.get("/api/v1/orders/export/?status=cancelled"))
    assert [r["external_id"] for r in rows] == ["O-2"]


def test_export_customers_command_writes_the_same_csv(api_client, account, people, tmp_path):
    out = tmp_path / "customers.csv"
    call_command("export_customers", account="acme", out=str(out))

    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["email"] for r in rows) == ["ann@example.com", "bob@example.com"]
    with account_scope(account):
        assert rows[0]["id"]
