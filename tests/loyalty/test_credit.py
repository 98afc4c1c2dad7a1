"""Crediting tickets (seed 001's fidelity credit): points = amount x the account's rate
x the level multiplier, half-up to cents; each ticket answered on its own, in order."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from loyalty import services
from tests.loyalty.conftest import CREDIT, balance, issue_card, ledger

pytestmark = pytest.mark.django_db


def credit(client, *tickets, key="tickets"):
    response = client.post(CREDIT, {key: list(tickets)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_seed_001s_tickets_are_credited_at_half_the_amount(api_client, account, card):
    issue_card(account, "42")
    answer = credit(
        api_client, {"carteFid": 33, "Montant": 26}, {"carteFid": 42, "Montant": 55}, key="Tickets"
    )
    assert answer == [
        {"card_number": "33", "ticket_id": None, "credited": "13.00", "balance": "13.00",
         "status": "credited", "error": None},
        {"card_number": "42", "ticket_id": None, "credited": "27.50", "balance": "27.50",
         "status": "credited", "error": None},
    ]  # fmt: skip
    assert balance(account, "33") == Decimal("13.00")
    assert api_client.get(f"{CREDIT}33/").json() == {"card_number": "33", "credit": "13.00"}


def test_points_are_rounded_half_up_to_cents_at_the_accounts_rate(api_client, account, card):
    account.loyalty_earn_rate = Decimal("0.25")
    account.save()
    answer = credit(api_client, {"card_number": "33", "amount": "0.10"})
    assert answer[0]["credited"] == "0.03"  # 0.025 -> 0.03
    assert answer[0]["balance"] == "0.03"


def test_points_for_uses_the_level_multiplier(account):
    points = services.points_for(account=account, amount=Decimal("10.01"), multiplier=Decimal(1))
    assert points == Decimal("5.01")  # 5.005 half-up
    assert services.points_for(
        account=account, amount=Decimal("10.01"), multiplier=Decimal("1.5")
    ) == Decimal("7.51")  # 7.5075 half-up


def test_a_replayed_ticket_id_credits_nothing(api_client, account, card):
    first = credit(api_client, {"card_number": "33", "amount": 100, "ticket_id": "T-1"})
    again = credit(api_client, {"card_number": "33", "amount": 100, "ticket_id": "T-1"})
    assert first[0]["status"] == "credited"
    assert (again[0]["status"], again[0]["credited"], again[0]["balance"]) == (
        "duplicate",
        "0.00",
        "50.00",
    )
    assert balance(account) == Decimal("50.00")
    assert len(ledger(account)) == 1


def test_a_ticket_id_is_unique_across_the_accounts_cards(api_client, account, card):
    issue_card(account, "42")
    answer = credit(
        api_client,
        {"card_number": "33", "amount": 10, "ticket_id": "T-1"},
        {"card_number": "42", "amount": 10, "ticket_id": "T-1"},
    )
    assert [row["status"] for row in answer] == ["credited", "duplicate"]
    assert balance(account, "42") == Decimal("0.00")


def test_a_numeric_ticket_id_is_read_as_text(api_client, account, card):
    credit(api_client, {"card_number": "33", "amount": 10, "ticket_id": 7})
    again = credit(api_client, {"card_number": "33", "amount": 10, "ticket_id": "7"})
    assert again[0]["status"] == "duplicate"


def test_tickets_without_an_id_are_never_deduplicated(api_client, account, card):
    credit(api_client, {"card_number": "33", "amount": 10}, {"card_number": "33", "amount": 10})
    assert balance(account) == Decimal("10.00")


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "non_positive_amount"),
        (-5, "non_positive_amount"),
        ("abc", "invalid"),
        (1e30, "max_digits"),
        ("1e30", "max_digits"),
        (None, "null"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
    ],
)
def test_a_bad_amount_fails_that_ticket_only(api_client, account, card, amount, code):
    answer = credit(
        api_client,
        {"card_number": "33", "amount": 10},
        {"card_number": "33", "amount": amount, "ticket_id": "bad"},
        {"card_number": "33", "amount": 20},
    )
    assert [row["status"] for row in answer] == ["credited", "failed", "credited"]
    failed = answer[1]
    assert (failed["credited"], failed["balance"], failed["ticket_id"]) == ("0.00", None, "bad")
    assert failed["error"]["attr"] == "amount"
    assert failed["error"]["code"] == code, failed
    assert balance(account) == Decimal("15.00")
    assert [kind for kind, _, _ in ledger(account)] == ["credit", "credit"]


def test_unknown_and_blocked_cards_fail_their_tickets_only(api_client, account, card):
    issue_card(account, "42", status="blocked")
    answer = credit(
        api_client,
        {"card_number": "404", "amount": 10},
        {"card_number": "42", "amount": 10},
        {"card_number": "33", "amount": 10},
        {"amount": 10},
    )
    assert [row["status"] for row in answer] == ["failed", "failed", "credited", "failed"]
    assert answer[0]["error"]["code"] == "unknown_card"
    assert answer[1]["error"]["code"] == "card_blocked"
    assert answer[3]["error"]["attr"] == "card_number"
    assert balance(account, "42") == Decimal("0.00")


def test_the_balance_cannot_pass_the_columns_range(api_client, account, card):
    with account_scope(account):
        services.card_adjust(
            account=account, card_number="33", points=Decimal("999999999999.00"), reason="x"
        )
    answer = credit(api_client, {"card_number": "33", "amount": 10})
    assert (answer[0]["status"], answer[0]["error"]["code"]) == ("failed", "out_of_range")


@pytest.mark.parametrize("body", [{}, {"tickets": []}, {"tickets": {}}, []])
def test_a_body_without_tickets_is_a_400(api_client, card, body):
    response = api_client.post(CREDIT, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] in ("tickets", "non_field_errors", None)


def test_a_ticket_that_is_not_an_object_is_a_400_naming_it(api_client, account, card):
    body = {"tickets": [{"card_number": "33", "amount": 10}, [1, 2]]}
    response = api_client.post(CREDIT, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "tickets.1"
    assert balance(account) == Decimal("0.00")


def test_more_than_1000_tickets_is_a_400(api_client, card):
    response = api_client.post(
        CREDIT, {"tickets": [{"card_number": "33", "amount": 1}] * 1001}, format="json"
    )
    assert response.status_code == 400
    assert balance(card.account) == Decimal("0.00")


def test_the_credit_of_an_unknown_card_is_a_404(api_client, card):
    assert api_client.get(f"{CREDIT}404/").status_code == 404


def test_another_account_cannot_credit_or_read_the_card(other_api_client, account, card):
    answer = credit(other_api_client, {"card_number": "33", "amount": 10, "ticket_id": "T"})
    assert answer[0]["error"]["code"] == "unknown_card"
    assert other_api_client.get(f"{CREDIT}33/").status_code == 404
    assert balance(account) == Decimal("0.00")
    assert ledger(account) == []


def test_read_only_keys_cannot_credit(read_only_client, account, card):
    response = read_only_client.post(CREDIT, {"tickets": [{"card_number": "33", "amount": 1}]})
    assert response.status_code == 403
    assert read_only_client.get(f"{CREDIT}33/").status_code == 200
