"""The client table and a client's page in a real browser: sign in on a populated
account, search the table for a customer, open them, and find their orders in the
timeline."""

import re
import tempfile
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.browser.test_login import sign_in
from tests.customers.conftest import add_interaction, place_order
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

# Looked at by people.
TABLE_SCREENSHOT = Path(tempfile.gettempdir()) / "clients.png"
DETAIL_SCREENSHOT = Path(tempfile.gettempdir()) / "customer.png"


@pytest.fixture
def populated(account, other_account):
    """The demo data set (as `make run` has it), one customer we know by name with two
    orders and a call, and a namesake in another account who must never show."""
    call_command(
        "seed_demo", account=account.slug, customers=120, orders=600, products=30, stdout=StringIO()
    )
    ada = CustomerFactory(
        account=account,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@analytical.example",
        phone="+447700900123",
        city="London",
        country="GB",
        tags=["vip", "engine"],
        metadata={"loyalty_tier": "gold"},
    )
    now = timezone.now()
    first = place_order(account, ada, "120.00", ordered_at=now - timedelta(days=12))
    second = place_order(account, ada, "80.50", ordered_at=now - timedelta(days=2))
    add_interaction(
        account, ada, type="call", subject="Asked about the engine", date=now - timedelta(days=5)
    )
    CustomerFactory(account=other_account, first_name="Ada", last_name="Imposter")
    return {"ada": ada, "orders": [second, first]}


def test_search_the_table_open_a_client_and_see_their_orders(page, user, account, populated):
    sign_in(page, user)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    expect(page.get_by_role("link", name="Import customers")).to_have_attribute("href", "/import/")
    table = page.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(page.locator("#client-count")).to_contain_text("121 clients")
    expect(page.get_by_role("link", name="Next")).to_be_visible()

    # Sort by lifetime spend, largest first: the first row spends the most.
    page.get_by_role("link", name="Lifetime spend").click()
    expect(page.get_by_role("columnheader", name="Lifetime spend")).to_have_attribute(
        "aria-sort", "descending"
    )
    with account_scope(account):
        top = Customer.objects.order_by("-lifetime_spend", "-id").first()
    expect(table.locator("tbody tr").first).to_contain_text(f"{top.lifetime_spend:,.2f}")

    page.goto("/")
    page.get_by_role("searchbox", name="Search clients").fill("lovelace")
    page.get_by_role("button", name="Search").click()

    expect(page.locator("#client-count")).to_have_text("1 match")
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("ada@analytical.example")
    expect(row).to_contain_text("200.50")
    expect(page.get_by_text("Imposter")).to_have_count(0)
    page.goto("/")  # the screenshot shows the whole table, sorted newest first
    page.screenshot(path=TABLE_SCREENSHOT, full_page=True)
    page.go_back()

    page.get_by_role("link", name="Ada Lovelace").click()

    expect(page).to_have_url(re.compile(rf"/customers/{populated['ada'].number}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    spend = page.get_by_role("region", name="Spend")
    expect(spend).to_contain_text("200.50")
    expect(spend).to_contain_text("100.25")
    health = page.get_by_role("region", name="Health")
    expect(health).to_contain_text("Grade")
    timeline = page.get_by_role("region", name="Timeline")
    entries = timeline.locator(".timeline-entry")
    expect(entries).to_have_count(3)
    newest, second = populated["orders"]
    expect(entries.nth(0)).to_contain_text(f"Order #{newest.number}")
    expect(entries.nth(0)).to_contain_text("80.50 USD")
    expect(entries.nth(1)).to_contain_text("Asked about the engine")
    expect(entries.nth(2)).to_contain_text(f"Order #{second.number}")
    expect(entries.nth(2)).to_contain_text("120.00 USD")
    page.screenshot(path=DETAIL_SCREENSHOT, full_page=True)

    # A tag leads back to the table, filtered by it.
    page.get_by_role("link", name="engine").click()
    expect(page.locator("#client-count")).to_have_text("1 match")


def rows_on(page):
    """The links of the rows shown, which name each customer by number."""
    return page.locator("tbody .cell-name a").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )


def follow(page, name):
    """Click the pager's link and wait for the page it leads to (a click alone returns
    before the next page has loaded, and the rows read would be the old or none)."""
    link = page.get_by_role("link", name=name, exact=True)
    target = link.evaluate("a => a.href")  # resolved against the page, as followed
    link.click()
    page.wait_for_url(target)


def test_pages_walk_forward_and_back(page, user, account, populated):
    sign_in(page, user)
    first_page = rows_on(page)

    follow(page, "Next")
    second_page = rows_on(page)
    follow(page, "Next")
    expect(page.locator("tbody tr")).to_have_count(21)
    expect(page.get_by_text("Next", exact=True)).to_have_attribute("aria-disabled", "true")

    last_page = rows_on(page)

    follow(page, "Previous")
    assert rows_on(page) == second_page
    follow(page, "First")
    assert rows_on(page) == first_page
    assert len(set(first_page) | set(second_page) | set(last_page)) == 121
