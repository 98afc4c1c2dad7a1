"""The back office's loyalty pages: `/loyalty/` (cards searched by number and paged,
the newest ledger rows, the levels) and the loyalty block of a customer's page, through
Django's test client, then in a real browser against the live server. Points are moved
by loyalty.services, as the API moves them, and every page shows the signed-in user's
account only."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from crm_project.tenancy import account_scope
from customers import views as customer_views
from loyalty import services, views
from tests.browser.conftest import browser, page  # noqa: F401  (Playwright fixtures)
from tests.browser.test_login import sign_in
from tests.factories import CustomerFactory, MembershipFactory
from tests.loyalty.conftest import give_points, issue_card


def signed_in(account, role=Role.READ_ONLY):
    client = Client()
    client.force_login(MembershipFactory(account=account, role=role).user)
    return client


@pytest.fixture
def client(account):
    return signed_in(account)


def credit(account, number, amount, ticket_id=None):
    """A ticket of `amount` credited on the card, as POST /loyalty/credit/ does."""
    with account_scope(account):
        (outcome,) = services.tickets_credit(
            account=account,
            tickets=[services.Ticket(number, Decimal(amount), ticket_id)],
        )
    assert outcome.status == "credited", outcome
    return outcome


def adjust(account, number, points, reason):
    with account_scope(account):
        return services.card_adjust(
            account=account, card_number=number, points=Decimal(points), reason=reason
        )


def level(account, name, min_points, multiplier):
    with account_scope(account):
        return services.level_create(
            account=account,
            name=name,
            min_points=Decimal(min_points),
            earn_multiplier=Decimal(multiplier),
        )


def text(fragment):
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def table_rows(html, table_id):
    """The body rows of the table with this id, each a list of its cells' texts."""
    table = re.search(rf'<table [^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, table_id
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S).group(1)
    return [
        [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def section(html, section_id):
    block = re.search(rf'<section class="card" id="{section_id}".*?</section>', html, re.S)
    assert block, section_id
    return block.group(0)


TIMES = "\u00d7"  # the multiplier's sign
NO_CARDS = (
    "No loyalty cards yet. Cards are issued to clients through the API "
    "(POST /api/v1/loyalty/cards/); they appear here with their balances."
)


@pytest.fixture
def ann(account):
    return CustomerFactory(account=account, first_name="Ann", last_name="Lee")


# --- Access -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(db):
    assert Client().get("/loyalty/")["Location"] == "/login/?next=/loyalty/"


def test_the_navigation_links_to_the_loyalty_page(client):
    html = client.get("/loyalty/").content.decode()

    assert '<a class="nav-link" href="/loyalty/" aria-current="page">Loyalty</a>' in html


def test_a_new_account_sees_empty_states(client):
    response = client.get("/loyalty/")
    html = response.content.decode()

    assert response.status_code == 200
    assert table_rows(html, "cards") == [[NO_CARDS]]
    assert "No points have moved yet." in html
    assert f"No levels yet: every client earns at {TIMES}1.00." in html
    assert 'id="ledger"' not in html
    assert 'id="levels"' not in html


def test_another_accounts_cards_and_ledger_never_show(account, other_account, ann):
    card = issue_card(account, "7001", ann)
    give_points(account, card, "40")
    level(account, "Acme Gold", "100", "2")
    outsider = signed_in(other_account, Role.ADMIN)

    html = outsider.get("/loyalty/").content.decode()
    assert "7001" not in html
    assert "Ann Lee" not in html
    assert "Acme Gold" not in html
    assert "No loyalty cards yet." in html
    assert "No points have moved yet." in html

    searched = outsider.get("/loyalty/?q=7001").content.decode()
    assert table_rows(searched, "cards") == [["No card number starts with “7001”."]]
    assert outsider.get(f"/customers/{ann.pk}/").status_code == 404


# --- Cards ------------------------------------------------------------------------------


def test_the_cards_table_shows_number_holder_status_balance_and_earned(account, client, ann):
    card = issue_card(account, "1001", ann)
    credit(account, "1001", "25.00", "T-1")  # 25 x 0.50 = 12.50 earned
    adjust(account, "1001", "-2.25", "Goodwill taken back")
    with account_scope(account):
        services.card_block(card=card)

    html = client.get("/loyalty/").content.decode()

    assert table_rows(html, "cards") == [
        ["1001", "Ann Lee", "Blocked", "10.25", "12.50", card.issued_at.strftime("%-d %b %Y")]
    ]
    assert f'href="/customers/{ann.number}/"' in html


def test_cards_are_newest_issued_first_and_paged(account, client, ann, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    now = timezone.now()
    for days, number in [(3, "A-old"), (2, "A-mid"), (1, "A-new")]:
        issue_card(account, number, ann, issued_at=now - timedelta(days=days))

    first = client.get("/loyalty/").content.decode()
    assert [row[0] for row in table_rows(first, "cards")] == ["A-new", "A-mid"]
    next_url = unescape(re.search(r'<a class="button" href="([^"]+)" rel="next">', first)[1])

    second = client.get(f"/loyalty/{next_url}").content.decode()
    assert [row[0] for row in table_rows(second, "cards")] == ["A-old"]
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second


def test_search_finds_cards_by_number_prefix_or_exact_number(account, client, ann):
    bob = CustomerFactory(account=account, first_name="Bob", last_name="Roy")
    issue_card(account, "1001", ann)
    issue_card(account, "1002", bob)
    issue_card(account, "2001", bob)
    give_points(account, issue_card(account, "100", ann), "8")

    by_prefix = client.get("/loyalty/?q=100").content.decode()
    assert sorted(row[0] for row in table_rows(by_prefix, "cards")) == ["100", "1001", "1002"]

    exact = client.get("/loyalty/?q=2001").content.decode()
    assert [row[:4] for row in table_rows(exact, "cards")] == [
        ["2001", "Bob Roy", "Active", "0.00"]
    ]
    assert 'value="2001"' in exact

    none = client.get("/loyalty/?q=9").content.decode()
    assert table_rows(none, "cards") == [["No card number starts with “9”."]]


def test_search_matches_the_number_not_a_substring_or_the_holder(account, client, ann):
    issue_card(account, "55123", ann)

    assert "No card number starts with" in client.get("/loyalty/?q=123").content.decode()
    assert "No card number starts with" in client.get("/loyalty/?q=Ann").content.decode()


# --- Ledger and levels ------------------------------------------------------------------


def test_the_ledger_shows_the_newest_rows_signed_with_their_balance_after(account, client, ann):
    issue_card(account, "1001", ann)
    credit(account, "1001", "25.00", "T-1")
    adjust(account, "1001", "-2.25", "Goodwill taken back")
    with account_scope(account):
        services.card_redeem(account=account, card_number="1001", points=Decimal("10"))

    rows = table_rows(client.get("/loyalty/").content.decode(), "ledger")

    assert [row[1:] for row in rows] == [
        ["1001", "Ann Lee", "Redeem", "-10.00", "0.25", "—"],
        ["1001", "Ann Lee", "Adjust", "-2.25", "10.25", "Goodwill taken back"],
        ["1001", "Ann Lee", "Credit", "+12.50", "12.50", "Ticket T-1"],
    ]


def test_the_ledger_keeps_its_newest_rows(account, client, ann, monkeypatch):
    monkeypatch.setattr(views, "LEDGER_LIMIT", 2)
    card = issue_card(account, "1001", ann)
    for points in ["1", "2", "3"]:
        give_points(account, card, points)

    html = client.get("/loyalty/").content.decode()

    assert [row[4] for row in table_rows(html, "ledger")] == ["+3.00", "+2.00"]
    assert "The 2 most recent rows" in html


def test_the_levels_table_lists_name_threshold_and_multiplier(account, client):
    level(account, "Gold", "500", "2")
    level(account, "Silver", "100.5", "1.25")

    rows = table_rows(client.get("/loyalty/").content.decode(), "levels")

    assert rows == [["Silver", "100.50", f"{TIMES}1.25"], ["Gold", "500.00", f"{TIMES}2.00"]]


# --- The customer's page ----------------------------------------------------------------


def test_the_customer_page_shows_points_level_cards_and_ledger(account, client, ann):
    level(account, "Silver", "10", "1.5")
    level(account, "Gold", "100", "2")
    issue_card(account, "5001", ann)
    issue_card(account, "5002", ann)
    credit(account, "5001", "40")  # 40 x 0.50 = 20.00; earned 20 reaches Silver
    credit(account, "5002", "20")  # at Silver: 20 x 0.50 x 1.5 = 15.00
    adjust(account, "5001", "-5", "Gift")
    other = CustomerFactory(account=account)
    give_points(account, issue_card(account, "9999", other), "70")

    html = client.get(f"/customers/{ann.number}/").content.decode()
    block = section(html, "loyalty")

    assert re.search(r'id="loyalty-points">30\.00<', block)
    assert re.search(r'id="loyalty-level">Silver<', block)
    assert re.search(r'id="loyalty-earned">35\.00<', block)
    assert table_rows(block, "loyalty-cards") == [
        ["5001", "Active", "15.00"],
        ["5002", "Active", "15.00"],
    ]
    assert [row[1:] for row in table_rows(block, "loyalty-ledger")] == [
        ["5001", "Adjust", "-5.00", "15.00", "Gift"],
        ["5002", "Credit", "+15.00", "15.00", "—"],
        ["5001", "Credit", "+20.00", "20.00", "—"],
    ]
    assert "9999" not in block


def test_a_customer_without_a_card_has_no_points_and_no_level(account, client, ann):
    level(account, "Bronze", "50", "1")

    block = section(client.get(f"/customers/{ann.number}/").content.decode(), "loyalty")

    assert re.search(r'id="loyalty-points">0\.00<', block)
    assert "No level" in block
    assert "No loyalty card: this client earns no points yet." in block


def test_the_customer_page_keeps_the_newest_ledger_rows(account, client, ann, monkeypatch):
    monkeypatch.setattr(customer_views, "LOYALTY_LEDGER_LIMIT", 2)
    card = issue_card(account, "5001", ann)
    for points in ["1", "2", "3"]:
        give_points(account, card, points)

    block = section(client.get(f"/customers/{ann.number}/").content.decode(), "loyalty")

    assert [row[3:5] for row in table_rows(block, "loyalty-ledger")] == [
        ["+3.00", "6.00"],
        ["+2.00", "3.00"],
    ]
    assert "The 2 most recent points movements." in block


# --- In a browser -----------------------------------------------------------------------


@pytest.mark.browser
def test_find_a_card_then_read_its_holders_points_in_a_browser(page, user, account):  # noqa: F811
    ann = CustomerFactory(account=account, first_name="Ann", last_name="Lee")
    level(account, "Silver", "10", "1.5")
    issue_card(account, "8800123", ann)
    issue_card(account, "8800999", CustomerFactory(account=account, first_name="Bob"))
    credit(account, "8800123", "40", "T-42")  # 20.00 points, Silver reached
    adjust(account, "8800123", "-2.5", "Welcome gift correction")

    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Loyalty").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Loyalty")

    page.get_by_label("Card number").fill("8800123")
    page.get_by_role("button", name="Search").click()

    cards = page.locator("#cards tbody tr")
    expect(cards).to_have_count(1)
    expect(cards.locator("td").nth(0)).to_have_text("8800123")
    expect(cards.locator("td").nth(3)).to_have_text("17.50")
    expect(cards.locator("td").nth(4)).to_have_text("20.00")

    cards.get_by_role("link", name="Ann Lee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    loyalty = page.locator("#loyalty")
    expect(loyalty.locator("#loyalty-points")).to_have_text("17.50")
    expect(loyalty.locator("#loyalty-level")).to_have_text("Silver")
    ledger = loyalty.locator("#loyalty-ledger tbody tr")
    expect(ledger).to_have_count(2)
    expect(ledger.nth(0)).to_contain_text("-2.50")
    expect(ledger.nth(0)).to_contain_text("Welcome gift correction")
    expect(ledger.nth(1)).to_contain_text("+20.00")
    expect(ledger.nth(1)).to_contain_text("T-42")
