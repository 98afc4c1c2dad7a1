"""The segment builder in a real browser: build a two-level rule, watch the live count
follow each condition, save it, read it back through the API, deactivate it."""

import re
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm_project.tenancy import account_scope
from segments import services
from segments.models import Segment
from tests.browser.test_login import sign_in
from tests.factories import CustomerFactory

SCREENSHOT = Path(tempfile.gettempdir()) / "segments.png"  # looked at by people

pytestmark = pytest.mark.browser


@pytest.fixture
def customers(account, other_account):
    CustomerFactory(account=account, first_name="Ann", last_name="Martin", city="Lyon")
    CustomerFactory(
        account=account,
        first_name="Bob",
        last_name="Durand",
        city="Paris",
        lifetime_spend=Decimal("150.00"),
        tags=["vip"],
    )
    CustomerFactory(
        account=account,
        first_name="Cyd",
        last_name="Bernard",
        city="Paris",
        lifetime_spend=Decimal("150.00"),
    )
    CustomerFactory(
        account=account,
        first_name="Dan",
        last_name="Petit",
        city="Nice",
        lifetime_spend=Decimal("50.00"),
        tags=["vip"],
    )
    # Matches everything, in another account: never counted here.
    CustomerFactory(
        account=other_account, city="Lyon", lifetime_spend=Decimal("900.00"), tags=["vip"]
    )
    with account_scope(other_account):
        services.segment_create(
            account=other_account,
            name="Globex secret",
            rules={"field": "city", "operator": "=", "value": "Lyon"},
        )


def expect_count(page, count):
    figure = page.locator("#segment-count .count-figure")
    expect(figure).to_have_attribute("data-count", str(count))
    return figure


def fill_condition(row, field, operator, value):
    row.get_by_label("Field").select_option(field)
    row.get_by_label("Operator").select_option(operator)
    row.get_by_label("Value").fill(value)


def test_build_count_save_and_deactivate_a_two_level_segment(page, user, account, customers):
    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    expect(page).to_have_url(re.compile(r"/segments/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Segments")
    expect(page.get_by_role("heading", name="New segment")).to_be_visible()
    expect(page.locator("#segment-count")).to_contain_text("Add a condition")
    expect(page.locator("#segment-rows")).to_contain_text("No segments yet.")
    assert "Globex secret" not in page.content()

    page.get_by_label("Name").fill("Lyon or big VIPs")
    root = page.locator("#rule-root > .rule-group")
    root_actions = root.locator("> .rule-actions")

    # city = Lyon
    root_actions.get_by_role("button", name="+ Condition").click()
    fill_condition(page.locator(".rule-condition").nth(0), "city", "=", "Lyon")
    expect_count(page, 1)
    expect(page.locator("#segment-count")).to_contain_text("1 customer matches")
    expect(page.locator("#segment-sample")).to_contain_text("Ann Martin")

    # ... OR (lifetime spend > 100 ...
    root.locator("> .rule-group-head").get_by_label("Combine the group with").select_option("OR")
    root_actions.get_by_role("button", name="+ Group").click()
    inner = root.locator(".rule-group")
    expect(inner).to_have_count(1)
    expect(inner.get_by_label(re.compile("Combine the group"))).to_have_value("AND")
    fill_condition(inner.locator(".rule-condition").nth(0), "lifetime_spend", ">", "100")
    expect_count(page, 3)  # Ann, Bob, Cyd

    # ... AND tag contains vip)
    inner.locator("> .rule-actions").get_by_role("button", name="+ Condition").click()
    fill_condition(inner.locator(".rule-condition").nth(1), "tags", "contains", "vip")
    expect_count(page, 2)  # Ann, Bob
    expect(page.locator("#segment-count")).to_contain_text("2 customers match")

    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("#segment-saved")).to_have_text("Saved: 2 customers.")
    expect(page.get_by_role("heading", name="Edit “Lyon or big VIPs”")).to_be_visible()
    row = page.locator("#segment-rows tr", has_text="Lyon or big VIPs")
    expect(row).to_contain_text("2")
    expect(row).to_contain_text("Active")
    page.screenshot(path=SCREENSHOT, full_page=True)

    answer = page.request.get("/api/v1/segments/")
    assert answer.status == 200
    [saved] = answer.json()["results"]
    assert saved["name"] == "Lyon or big VIPs"
    assert saved["active"] is True
    assert saved["customers_count"] == 2
    rule = saved["rules"]
    assert rule["logic"] == "OR"
    assert rule["rules"][0]["field"] == "city"
    assert rule["rules"][0]["operator"] == "="
    assert rule["rules"][1]["logic"] == "AND"
    assert [r["field"] for r in rule["rules"][1]["rules"]] == ["lifetime_spend", "tags"]
    customers_answer = page.request.get(f"/api/v1/segments/{saved['id']}/customers/")
    assert [c["first_name"] for c in customers_answer.json()["results"]] == ["Bob", "Ann"]

    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#segment-state")).to_have_text("Inactive")
    expect(row).to_contain_text("Inactive")
    with account_scope(account):
        assert Segment.objects.get(pk=saved["id"]).active is False

    page.get_by_role("button", name="Activate", exact=True).click()
    expect(page.locator("#segment-state")).to_have_text("Active")
    with account_scope(account):
        assert Segment.objects.get(pk=saved["id"]).active is True


def test_an_invalid_value_is_shown_on_its_condition(page, user, account, customers):
    sign_in(page, user)
    page.goto("/segments/")
    page.get_by_label("Name").fill("Broken")
    page.get_by_role("button", name="+ Condition").click()
    condition = page.locator(".rule-condition").nth(0)
    condition.get_by_label("Field").select_option("date_of_birth")
    condition.get_by_label("Operator").select_option("between")
    condition.get_by_label("From", exact=True).fill("2000-01-01")
    condition.get_by_label("To", exact=True).fill("1990-01-01")  # between needs low <= high

    page.get_by_role("button", name="Save segment").click()

    expect(page.locator("#segment-errors")).to_be_visible()
    expect(condition).to_have_class(re.compile("is-invalid"))
    with account_scope(account):
        assert not Segment.objects.exists()


def test_an_existing_segment_opens_in_the_builder(page, user, account, customers):
    sign_in(page, user)
    page.request.post(
        "/api/v1/segments/",
        data={"name": "Lyon", "rules": {"field": "city", "operator": "=", "value": "Lyon"}},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    page.goto("/segments/")

    page.get_by_role("button", name="Open segment Lyon").click()

    expect(page.get_by_label("Name")).to_have_value("Lyon")
    expect(page.locator(".rule-condition").nth(0).get_by_label("Value")).to_have_value("Lyon")
    expect_count(page, 1)


def csrf_token(page):
    page.goto("/segments/")
    return page.locator("#segment-form [name=csrfmiddlewaretoken]").input_value()


def test_an_order_criterion_with_its_parameters(page, user, account, customers):
    CustomerFactory(account=account, first_name="Olga", total_orders=3, lifetime_spend="90.00")
    sign_in(page, user)
    page.goto("/segments/")

    page.get_by_role("button", name="+ Order criterion").click()
    criterion = page.locator(".rule-criterion").nth(0)
    criterion.get_by_label("Criterion", exact=True).select_option("transaction_count")
    expect(page.locator("#segment-count")).to_contain_text("Complete the rule")
    criterion.get_by_label("At least").fill("2")
    expect_count(page, 1)
    expect(page.locator("#segment-sample")).to_contain_text("Olga")

    criterion.get_by_label("Criterion", exact=True).select_option("anniversary")
    expect(criterion.get_by_label("Anniversary of")).to_have_value("birthday")
    page.screenshot(path=Path(tempfile.gettempdir()) / "segments-criteria.png", full_page=True)
