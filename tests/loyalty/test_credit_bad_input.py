"""POST /api/v1/loyalty/credit/ with bad tickets among good ones (SPEC: Loyalty): every
bad ticket fails on its own with its error, the good ones of the same call are credited,
the answer is 200 with one outcome per ticket in the order sent, and the balances and
ledger are exactly the good tickets'."""

from decimal import Decimal

import pytest

from tests.factories import CustomerFactory
from tests.loyalty.conftest import CREDIT, assert_chains, balance, give_points, issue_card, ledger

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/loyalty/levels/"


def D(value):
    return Decimal(value)


def credit(client, *tickets, key="tickets"):
    response = client.post(CREDIT, {key: list(tickets)}, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert len(answer) == len(tickets)
    return answer


def failure(outcome):
    assert outcome["status"] == "failed", outcome
    assert (outcome["credited"], outcome["balance"]) == ("0.00", None)
    return outcome["error"]["attr"], outcome["error"]["code"]


@pytest.fixture
def cards(account, customer, card):
    """33 (Ann's, active), 42 (blocked), 55 (Bob's, active)."""
    issue_card(account, "42", status="blocked")
    issue_card(account, "55", CustomerFactory(account=account))
    return card


def test_one_call_fails_each_bad_ticket_and_credits_the_good_ones(api_client, account, cards):
    answer = credit(
        api_client,
        {"card_number": "33", "amount": 0, "ticket_id": "t0"},
        {"card_number": "33", "amount": -5},
        {"card_number": "33", "amount": 1e30},
        {"card_number": "33", "amount": "abc"},
        {"card_number": "404", "amount": 10},
        {"card_number": "42", "amount": 10},
        {"card_number": 33, "amount": 26},
        {"card_number": "33", "amount": "10.00", "ticket_id": "t7"},
        {"card_number": "33", "amount": "10.00", "ticket_id": "t7"},
        {"card_number": "55", "amount": "3"},
        {"card_number": True, "amount": 10},
        {"card_number": "33"},
    )
    assert failure(answer[0]) == ("amount", "non_positive_amount")
    assert answer[0]["ticket_id"] == "t0"
    assert failure(answer[1]) == ("amount", "non_positive_amount")
    assert failure(answer[2]) == ("amount", "max_digits")
    assert failure(answer[3]) == ("amount", "invalid")
    assert failure(answer[4]) == ("card_number", "unknown_card")
    assert failure(answer[5]) == ("card_number", "card_blocked")
    assert answer[6] == {
        "card_number": "33",
        "ticket_id": None,
        "credited": "13.00",
        "balance": "13.00",
        "status": "credited",
        "error": None,
    }
    assert (answer[7]["status"], answer[7]["credited"], answer[7]["balance"]) == (
        "credited",
        "5.00",
        "18.00",
    )
    assert (answer[8]["status"], answer[8]["credited"], answer[8]["ticket_id"]) == (
        "duplicate",
        "0.00",
        "t7",
    )
    assert answer[8]["balance"] == "18.00"
    assert (answer[9]["status"], answer[9]["credited"]) == ("credited", "1.50")
    assert failure(answer[10])[0] == "card_number"
    assert failure(answer[11]) == ("amount", "required")

    assert balance(account, "33") == D("18.00")
    assert balance(account, "42") == D("0.00")
    assert balance(account, "55") == D("1.50")
    assert ledger(account, "33") == [
        ("credit", D("13.00"), D("13.00")),
        ("credit", D("5.00"), D("18.00")),
    ]
    assert ledger(account, "42") == []
    assert api_client.get(f"{CREDIT}33/").json() == {"card_number": "33", "credit": "18.00"}
    assert_chains(account)


def test_seed_001s_body_credits_half_and_a_float_card_number_is_its_integer(
    api_client, account, cards
):
    answer = credit(
        api_client,
        {"carteFid": 33, "Montant": 26},
        {"carteFid": 55.0, "Montant": "26"},
        {"carteFid": 33.5, "Montant": 26},
        key="Tickets",
    )
    assert [(row["card_number"], row["status"], row["credited"]) for row in answer] == [
        ("33", "credited", "13.00"),
        ("55", "credited", "13.00"),
        ("33.5", "failed", "0.00"),
    ]
    assert answer[2]["error"]["code"] == "unknown_card"
    assert balance(account, "33") == D("13.00")
    assert balance(account, "55") == D("13.00")


def test_a_ticket_id_a_failed_ticket_carried_stays_free(api_client, account, cards):
    answer = credit(
        api_client,
        {"card_number": "33", "amount": 0, "ticket_id": "T"},
        {"card_number": "404", "amount": 10, "ticket_id": "T"},
        {"card_number": "33", "amount": 10, "ticket_id": "T"},
        {"card_number": "55", "amount": 10, "ticket_id": "T"},
    )
    assert [row["status"] for row in answer] == ["failed", "failed", "credited", "duplicate"]
    assert answer[3]["balance"] == "0.00"  # card 55's, untouched
    again = credit(api_client, {"card_number": "33", "amount": 10, "ticket_id": "T"})
    assert (again[0]["status"], again[0]["credited"], again[0]["balance"]) == (
        "duplicate",
        "0.00",
        "5.00",
    )
    assert balance(account, "33") == D("5.00")
    assert balance(account, "55") == D("0.00")
    assert len(ledger(account)) == 1


def test_another_accounts_card_number_fails_and_nothing_is_written_there(
    api_client, other_api_client, account, other_account, cards
):
    issue_card(other_account, "77")
    issue_card(other_account, "33")  # the same number in the other account
    answer = credit(
        api_client,
        {"card_number": "77", "amount": 10, "ticket_id": "X1"},
        {"card_number": "33", "amount": 10, "ticket_id": "X2"},
    )
    assert failure(answer[0]) == ("card_number", "unknown_card")
    assert (answer[1]["status"], answer[1]["credited"]) == ("credited", "5.00")
    assert balance(other_account, "77") == D("0.00")
    assert balance(other_account, "33") == D("0.00")
    assert ledger(other_account) == []
    assert ledger(account) == [("credit", D("5.00"), D("5.00"))]
    # The other account's own ticket ids are its own: X2 is free there.
    theirs = credit(other_api_client, {"card_number": "33", "amount": 10, "ticket_id": "X2"})
    assert (theirs[0]["status"], theirs[0]["balance"]) == ("credited", "5.00")
    assert balance(account, "33") == D("5.00")


def test_an_overflowing_ticket_fails_alone_and_the_others_are_credited_once(
    api_client, account, cards
):
    give_points(account, cards, "999999999990.00")
    response = api_client.post(
        LEVELS, {"name": "Double", "min_points": 0, "earn_multiplier": 2}, format="json"
    )
    assert response.status_code == 201, response.content
    answer = credit(
        api_client,
        {"card_number": "55", "amount": 10, "ticket_id": "A"},
        {"card_number": "33", "amount": 40, "ticket_id": "B"},  # 40 points: past the column
        {"card_number": "55", "amount": 10, "ticket_id": "A"},
        {"card_number": "55", "amount": 0},
        {"card_number": "55", "amount": "2.50"},
    )
    assert [row["status"] for row in answer] == [
        "credited",
        "failed",
        "duplicate",
        "failed",
        "credited",
    ]
    assert answer[1]["error"]["code"] == "out_of_range"
    assert (answer[0]["credited"], answer[4]["credited"]) == ("10.00", "2.50")  # x2
    assert answer[4]["balance"] == "12.50"
    assert balance(account, "55") == D("12.50")
    assert balance(account, "33") == D("999999999990.00")
    assert [kind for kind, _, _ in ledger(account, "55")] == ["credit", "credit"]
    assert_chains(account)
