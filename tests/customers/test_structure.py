"""How the customers and orders apps depend on each other: orders on customers (its
orders point at customers and it keeps their spend aggregates), never the other way
round; no import hides a cycle inside a function; loyalty's columns have one writer."""

import ast
from pathlib import Path

import pytest

from crm_project.tenancy import account_scope
from customers import services
from tests.customers.conftest import stored
from tests.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]


def modules(app):
    return [path for path in sorted((ROOT / app).rglob("*.py")) if "migrations" not in path.parts]


def imported(path):
    """(module name, inside a function?) of every import of the file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def test_the_customers_app_never_imports_the_orders_app():
    offenders = [
        (str(path.relative_to(ROOT)), module)
        for path in modules("customers")
        for module, _inside in imported(path)
        if module == "orders" or module.startswith("orders.")
    ]
    assert offenders == []


@pytest.mark.parametrize("app", ["customers", "orders"])
def test_no_import_hides_inside_a_function(app):
    offenders = [
        (str(path.relative_to(ROOT)), module)
        for path in modules(app)
        if path.name != "apps.py"  # AppConfig.ready() registers, as Django intends
        for module, inside in imported(path)
        if inside
    ]
    assert offenders == []


@pytest.mark.django_db
def test_credit_refusals_are_counted_through_the_customers_service(account):
    customer = CustomerFactory(account=account)
    with account_scope(account):
        services.customer_refusals_add(customer=customer)
        changed = services.customer_refusals_add(customer=customer, refusals=2)
    assert changed.refusals_count == 3
    assert stored(account, customer).refusals_count == 3
