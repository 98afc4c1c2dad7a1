"""Redeem, adjust and the ledger: balances never go negative, every change is one
ledger row, and the rows chain."""

from decimal import Decimal

import pytest
from django.db import connection

from crm_project.tenancy import account_scope
from loyalty import selectors
from tests.factories import CustomerFactory
from tests.loyalty.conftest import (
    ADJUST,
    CREDIT,
    REDEEM,
    TRANSACTIONS,
    assert_chains,
    balance,
    give_points,
    issue_card,
    ledger,
)

pytestmark = pytest.mark.django_db


def test_redeem_answers_the_ledger_row(api_client, account, card):
    give_points(account, card, "30.00")
    response = api_client.post(REDEEM, {"card_number": 33, "points": "12.50", "reason": "gift"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["card"], body["kind"], body["points"], body["balance_after"]) == (
        "33",
        "redeem",
        "-12.50",
        "17.50",
    )
    assert (body["reason"], body["customer"]) == ("gift", str(card.customer_id))
    assert balance(account) == Decimal("17.50")
    assert_chains(account)


def test_redeeming_more_than_the_balance_is_a_409_and_writes_nothing(api_client, account, card):
    give_points(account, card, "10.00")
    response = api_client.post(REDEEM, {"card_number": "33", "points": "10.01"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "insufficient_points"
    assert balance(account) == Decimal("10.00")
    assert len(ledger(account)) == 1
    assert api_client.post(REDEEM, {"card_number": "33", "points": "10"}).status_code == 201
    assert balance(account) == Decimal("0.00")


def test_a_blocked_card_cannot_redeem(api_client, account, card):
    give_points(account, card, "10.00")
    api_client.post(f"/api/v1/loyalty/cards/{card.number}/block/")
    response = api_client.post(REDEEM, {"card_number": "33", "points": "1"})
    assert (response.status_code, response.json()["errors"][0]["code"]) == (409, "card_blocked")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"card_number": "404", "points": "1"}, "card_number"),
        ({"points": "1"}, "card_number"),
        ({"card_number": "33", "points": "0"}, "points"),
        ({"card_number": "33", "points": "-1"}, "points"),
        ({"card_number": "33", "points": "abc"}, "points"),
        ({"card_number": "33", "points": 1e30}, "points"),
    ],
)
def test_bad_redeem_input_is_a_400_naming_the_field(api_client, account, card, body, attr):
    give_points(account, card, "10.00")
    response = api_client.post(REDEEM, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == attr
    assert balance(account) == Decimal("10.00")


def test_adjust_is_signed_and_needs_a_reason(api_client, account, card):
    up = api_client.post(ADJUST, {"card_number": "33", "points": "5.25", "reason": "goodwill"})
    assert (up.status_code, up.json()["points"], up.json()["balance_after"]) == (
        201,
        "5.25",
        "5.25",
    )
    down = api_client.post(ADJUST, {"card_number": "33", "points": "-5.00", "reason": "error"})
    assert (down.status_code, down.json()["balance_after"]) == (201, "0.25")
    short = api_client.post(ADJUST, {"card_number": "33", "points": "-1", "reason": "x"})
    assert (short.status_code, short.json()["errors"][0]["code"]) == (409, "insufficient_points")
    no_reason = api_client.post(ADJUST, {"card_number": "33", "points": "1"})
    assert (no_reason.status_code, no_reason.json()["errors"][0]["attr"]) == (400, "reason")
    zero = api_client.post(ADJUST, {"card_number": "33", "points": "0", "reason": "x"})
    assert (zero.status_code, zero.json()["errors"][0]["attr"]) == (400, "points")
    assert balance(account) == Decimal("0.25")
    assert_chains(account)


def test_adjust_reaches_a_blocked_card(api_client, account, card):
    api_client.post(f"/api/v1/loyalty/cards/{card.number}/block/")
    response = api_client.post(ADJUST, {"card_number": "33", "points": "3", "reason": "x"})
    assert response.status_code == 201


def test_adjust_needs_the_admin_role(member_client, read_only_client, account, card):
    body = {"card_number": "33", "points": "3", "reason": "x"}
    assert member_client.post(ADJUST, body).status_code == 403
    assert read_only_client.post(ADJUST, body).status_code == 403
    assert read_only_client.post(REDEEM, {"card_number": "33", "points": "1"}).status_code == 403
    assert ledger(account) == []


def test_another_account_cannot_redeem_or_adjust_the_card(other_api_client, account, card):
    give_points(account, card, "10.00")
    redeem = other_api_client.post(REDEEM, {"card_number": "33", "points": "1"})
    adjust = other_api_client.post(ADJUST, {"card_number": "33", "points": "1", "reason": "x"})
    assert (redeem.status_code, redeem.json()["errors"][0]["attr"]) == (400, "card_number")
    assert (adjust.status_code, adjust.json()["errors"][0]["attr"]) == (400, "card_number")
    assert balance(account) == Decimal("10.00")
    assert len(ledger(account)) == 1


def test_earned_counts_credits_only(api_client, account, card):
    api_client.post(CREDIT, {"tickets": [{"card_number": "33", "amount": 40}]}, format="json")
    api_client.post(REDEEM, {"card_number": "33", "points": "5"})
    api_client.post(ADJUST, {"card_number": "33", "points": "7", "reason": "x"})
    body = api_client.get("/api/v1/loyalty/cards/33/").json()
    assert (body["points_balance"], body["points_earned"]) == ("22.00", "20.00")


# --- The ledger -----------------------------------------------------------------------


@pytest.fixture
def history(api_client, account, card, customer):
    other_card = issue_card(account, "42", CustomerFactory(account=account))
    api_client.post(
        CREDIT,
        {"tickets": [{"card_number": "33", "amount": 20, "ticket_id": "T1"},
                     {"card_number": "42", "amount": 40}]},
        format="json",
    )  # fmt: skip
    api_client.post(REDEEM, {"card_number": "33", "points": "4"})
    api_client.post(ADJUST, {"card_number": "42", "points": "-1", "reason": "fix"})
    return card, other_card


def test_the_ledger_lists_newest_first_with_every_field(api_client, history):
    rows = api_client.get(TRANSACTIONS).json()["results"]
    assert [(r["card"], r["kind"], r["points"], r["balance_after"]) for r in rows] == [
        ("42", "adjust", "-1.00", "19.00"),
        ("33", "redeem", "-4.00", "6.00"),
        ("42", "credit", "20.00", "20.00"),
        ("33", "credit", "10.00", "10.00"),
    ]
    assert rows[3]["ticket_id"] == "T1"
    assert set(rows[0]) == {
        "id", "card", "customer", "kind", "points", "balance_after", "shortfall", "ticket_id",
        "order", "reason", "created_at",
    }  # fmt: skip
    one = api_client.get(f"{TRANSACTIONS}{rows[0]['id']}/")
    assert one.json() == rows[0]


def test_the_ledger_filters(api_client, history, customer):
    def kinds(**query):
        response = api_client.get(TRANSACTIONS, query)
        assert response.status_code == 200, response.content
        return [(r["card"], r["kind"]) for r in response.json()["results"]]

    assert kinds(card="33") == [("33", "redeem"), ("33", "credit")]
    assert kinds(customer=str(customer.pk)) == [("33", "redeem"), ("33", "credit")]
    assert kinds(customer=customer.number) == [("33", "redeem"), ("33", "credit")]
    assert kinds(kind="CREDIT") == [("42", "credit"), ("33", "credit")]
    assert kinds(created_after="2000-01-01") == kinds()
    assert kinds(created_before="2000-01-01") == []
    assert api_client.get(TRANSACTIONS, {"kind": "nope"}).status_code == 400
    assert api_client.get(TRANSACTIONS, {"created_after": "nope"}).status_code == 400


def test_the_ledger_walks_by_cursor(api_client, history):
    seen = []
    url = f"{TRANSACTIONS}?cursor=&page_size=3"
    while url:
        body = api_client.get(url).json()
        assert "count" not in body
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    everything = api_client.get(TRANSACTIONS).json()
    assert everything["count"] == 4
    assert seen == [row["id"] for row in everything["results"]]


def test_the_ledger_is_read_only_through_the_api(api_client, history):
    row = api_client.get(TRANSACTIONS).json()["results"][0]
    assert api_client.post(TRANSACTIONS, {}).status_code == 405
    assert api_client.patch(f"{TRANSACTIONS}{row['id']}/", {"points": "1"}).status_code == 405
    assert api_client.delete(f"{TRANSACTIONS}{row['id']}/").status_code == 405


def test_another_account_sees_no_ledger_rows(other_api_client, api_client, history):
    row = api_client.get(TRANSACTIONS).json()["results"][0]
    assert other_api_client.get(TRANSACTIONS).json()["results"] == []
    assert other_api_client.get(f"{TRANSACTIONS}{row['id']}/").status_code == 404
    assert other_api_client.get(TRANSACTIONS, {"card": "33"}).json()["results"] == []


def test_a_redeem_replayed_with_its_idempotency_key_takes_the_points_once(
    api_client, account, card
):
    give_points(account, card, "10.00")
    body = {"card_number": "33", "points": "4"}
    first = api_client.post(REDEEM, body, HTTP_IDEMPOTENCY_KEY="r-1")
    again = api_client.post(REDEEM, body, HTTP_IDEMPOTENCY_KEY="r-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert balance(account) == Decimal("6.00")
    other = api_client.post(REDEEM, {**body, "points": "1"}, HTTP_IDEMPOTENCY_KEY="r-1")
    assert other.status_code == 409


def test_the_ledgers_first_page_reads_its_index_in_order(api_client, account, history):
    # A handful of rows: seq and bitmap scans off, so the plan shows what a big ledger
    # would use (a bitmap of a 2-row table is as cheap, and unordered).
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = selectors.transaction_list(account).order_by("-created_at", "-id")[:50].explain()
    assert "loyaltytx_account_created" in plan, plan
    assert "Sort" not in plan, plan
