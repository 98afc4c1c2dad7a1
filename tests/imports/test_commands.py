"""The commands run the same engine in-process: a progress bar, the summary line, the
error report's path; exit status 1 only when the file cannot be processed at all."""

import io
import re

import pytest
from django.core.management import call_command

from tests.factories import CustomerFactory, ProductFactory
from tests.imports.conftest import csv_bytes, customers, orders, products

pytestmark = pytest.mark.django_db


def run(command, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_customers_prints_the_summary_and_the_report_path(account, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes([["Mail", "Nom"], ["a@example.com", "A"], ["bad", "B"]]))

    out, err = run("import_customers", str(path), "--account", "acme")

    assert "created=1 updated=0 skipped=0 failed=1" in out
    report = re.search(r"error report: (\S+)", out).group(1)
    with open(report, encoding="utf-8") as f:
        assert f.read().splitlines()[-1] == "bad,B,3,email: Enter a valid email address."
    assert "customers:" in err  # the progress bar (on stderr)
    assert [c.email for c in customers(account)] == ["a@example.com"]


def test_options_reach_the_engine(account, tmp_path):
    CustomerFactory(account=account, email="a@example.com", city="Lyon")
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes([["email", "city"], ["a@example.com", "Paris"]]))

    out, _ = run("import_customers", str(path), "--account", "acme", "--on-conflict", "skip")
    assert "created=0 updated=0 skipped=1 failed=0" in out
    out, _ = run("import_customers", str(path), "--account", "acme", "--dry-run", "--no-progress")
    assert "created=0 updated=1 skipped=0 failed=0" in out
    assert customers(account)[0].city == "Lyon"


def test_import_products_and_orders(account, tmp_path):
    CustomerFactory(account=account, external_id="C1")
    catalog = tmp_path / "products.csv"
    catalog.write_bytes(csv_bytes([["sku", "name", "price"], ["TS-1", "T-shirt", "10"]]))
    sales = tmp_path / "orders.csv"
    sales.write_bytes(
        csv_bytes([["order_id", "compte", "sku", "quantity"], ["O-1", "C1", "TS-1", "3"]])
    )

    assert "created=1" in run("import_products", str(catalog), "--account", "acme")[0]
    assert "created=1" in run("import_orders", str(sales), "--account", "acme")[0]
    assert [p.sku for p in products(account)] == ["TS-1"]
    assert orders(account)[0].amount == 30


@pytest.mark.parametrize("content", [None, b"", b"\x00\x01binary", b"sku,quantity\nX,1\n"])
def test_a_file_that_cannot_be_processed_exits_1(account, tmp_path, content):
    path = tmp_path / "broken.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exited:
        run("import_orders", str(path), "--account", "acme")
    assert exited.value.code == 1


def test_failed_rows_do_not_change_the_exit_status(account, tmp_path):
    ProductFactory(account=account, sku="TS-1")
    path = tmp_path / "products.csv"
    path.write_bytes(csv_bytes([["sku", "price"], ["NEW", "1"]]))

    out, _ = run("import_products", str(path), "--account", "acme")
    assert "failed=1" in out  # a new product needs a name: reported, not fatal
