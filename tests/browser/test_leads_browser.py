"""Leads in a real browser: drag a card across the pipeline board and see the columns'
counts follow without a reload, move one with its status menu (the keyboard's way), a
refused move putting the card back, and a lead's page: add an interaction, convert the
lead and land on its customer's page."""

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm_project.tenancy import account_scope
from customers.models import Customer, Interaction
from leads.models import Lead, LeadStatus
from tests.browser.test_login import sign_in
from tests.leads.conftest import LeadFactory, stored

# Looked at by people: the board after a drag.
SCREENSHOT = Path(tempfile.gettempdir()) / "leads-board.png"

pytestmark = pytest.mark.browser


@pytest.fixture
def pipeline(account):
    """Two new leads and a qualified one."""
    ann = LeadFactory(account=account, first_name="Ann", last_name="Lee", company="Lee & Co")
    bob = LeadFactory(account=account, first_name="Bob", last_name="Roy", score=55)
    LeadFactory(account=account, first_name="Cy", last_name="Ng", status="qualified")
    return ann, bob


def count(page, status):
    return page.locator(f'[data-count-for="{status}"]')


def cards(page, status):
    return page.locator(f'.board-cards[data-status="{status}"] .lead-card')


def test_drag_a_card_to_another_column(page, user, account, pipeline):
    ann, _bob = pipeline
    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    expect(page).to_have_url(re.compile(r"/leads/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads")
    expect(count(page, "new")).to_have_text("2")
    expect(count(page, "qualified")).to_have_text("1")

    page.locator(f"#lead-{ann.pk}").drag_to(page.locator('.board-cards[data-status="qualified"]'))

    expect(count(page, "new")).to_have_text("1")
    expect(count(page, "qualified")).to_have_text("2")
    expect(cards(page, "qualified").filter(has_text="Ann Lee")).to_have_count(1)
    expect(page.locator("#board-status")).to_have_text("Ann Lee moved to Qualified.")
    expect(page.locator("#board-message")).to_be_hidden()
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert stored(account, ann).status == LeadStatus.QUALIFIED

    page.reload()
    expect(count(page, "qualified")).to_have_text("2")
    expect(cards(page, "new")).to_have_text([re.compile("Bob Roy")])


def test_move_a_card_with_its_status_menu(page, user, account, pipeline):
    _ann, bob = pipeline
    sign_in(page, user)
    page.goto("/leads/?source=other")

    card = page.locator(f"#lead-{bob.pk}")
    card.get_by_label("Status of Bob Roy").select_option("contacted")
    card.get_by_role("button", name="Move").click()

    expect(count(page, "contacted")).to_have_text("1")
    expect(count(page, "new")).to_have_text("1")
    expect(cards(page, "contacted")).to_have_text([re.compile("Bob Roy")])
    expect(page).to_have_url(re.compile(r"/leads/\?source=other$"))  # no reload
    assert stored(account, bob).status == LeadStatus.CONTACTED


def test_a_refused_move_puts_the_card_back_and_says_why(page, user, account, pipeline):
    ann, _bob = pipeline
    sign_in(page, user)
    page.goto("/leads/")
    with account_scope(account):
        Lead.objects.filter(pk=ann.pk).delete()  # meanwhile, someone deletes it

    page.locator(f"#lead-{ann.pk}").drag_to(page.locator('.board-cards[data-status="lost"]'))

    expect(page.locator("#board-message")).to_have_text("This lead no longer exists.")
    expect(cards(page, "new").filter(has_text="Ann Lee")).to_have_count(1)
    expect(count(page, "new")).to_have_text("2")
    expect(count(page, "lost")).to_have_text("0")


def test_drag_to_converted_converts_and_links_the_customer(page, user, account, pipeline):
    _ann, bob = pipeline
    sign_in(page, user)
    page.goto("/leads/")

    page.locator(f"#lead-{bob.pk}").drag_to(page.locator('.board-cards[data-status="converted"]'))

    expect(count(page, "converted")).to_have_text("1")
    card = page.locator(f"#lead-{bob.pk}")
    expect(card.get_by_role("link", name="Customer →")).to_be_visible()
    expect(card).not_to_have_attribute("draggable", "true")
    card.get_by_role("link", name="Customer →").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob Roy")
    with account_scope(account):
        customer = Customer.objects.get()
    assert stored(account, bob).converted_customer_id == customer.pk


def test_convert_a_lead_from_its_page_and_see_the_customer(page, user, account, pipeline):
    ann, _bob = pipeline
    sign_in(page, user)
    page.goto("/leads/")
    page.get_by_role("link", name="Ann Lee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    expect(page.locator("#lead-status")).to_have_text("New")

    page.get_by_role("button", name="Convert to customer").click()

    expect(page).to_have_url(re.compile(r"/customers/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    expect(page.locator(".messages")).to_contain_text("Ann Lee converted into this new customer.")
    expect(page.get_by_text("Lee & Co").first).to_be_visible()
    with account_scope(account):
        customer = Customer.objects.get()
    assert page.url.endswith(f"/customers/{customer.number}/")
    assert customer.source_lead == ann.pk

    page.goto(f"/leads/{ann.pk}/")
    expect(page.locator("#lead-status")).to_have_text("Converted")
    expect(page.get_by_role("button", name="Convert to customer")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"^Customer #"))).to_be_visible()


def test_add_an_interaction_from_the_lead_page(page, user, account, pipeline):
    ann, _bob = pipeline
    sign_in(page, user)
    page.goto(f"/leads/{ann.pk}/")
    expect(page.locator("#interactions")).to_contain_text("No interactions with this lead yet.")

    page.get_by_label("Type").select_option("call")
    page.get_by_label("Notes").fill("Called about the quote")
    page.get_by_label("Outcome").fill("Wants a demo")
    page.get_by_label("Next action", exact=True).fill("Book the demo")
    page.get_by_role("button", name="Add interaction").click()

    expect(page.locator(".messages")).to_contain_text("Interaction added.")
    entries = page.locator("#interaction-list li")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Call")
    expect(entries.first).to_contain_text("Called about the quote")
    expect(entries.first).to_contain_text("Next: Book the demo")
    interactions = page.locator("#lead-statistics div").filter(has_text="Interactions")
    expect(interactions.locator("dd")).to_have_text("1")
    with account_scope(account):
        interaction = Interaction.objects.get(lead=ann.pk)
    assert interaction.type == "call"
    assert interaction.outcome == "Wants a demo"
    assert stored(account, ann).last_contact == interaction.date
