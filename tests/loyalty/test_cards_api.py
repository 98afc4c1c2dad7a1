"""Cards: issue, read, list, block and unblock, by number."""

import pytest

from tests.factories import CustomerFactory
from tests.loyalty.conftest import CARDS, issue_card

pytestmark = pytest.mark.django_db


def test_issuing_a_card_answers_it_with_zero_balances(api_client, customer):
    response = api_client.post(CARDS, {"number": "A-1", "customer": str(customer.pk)})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["customer"], body["status"]) == ("A-1", str(customer.pk), "active")
    assert (body["points_balance"], body["points_earned"]) == ("0.00", "0.00")
    assert api_client.get(f"{CARDS}A-1/").json()["id"] == body["id"]


def test_a_card_number_given_as_a_json_number_is_taken_as_its_text(api_client, customer):
    response = api_client.post(CARDS, {"number": 33, "customer": customer.number}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["number"] == "33"
    assert api_client.get(f"{CARDS}33/").status_code == 200


def test_a_card_number_is_unique_per_account(api_client, other_api_client, customer, other_account):
    issue_card(customer.account, "33", customer)
    response = api_client.post(CARDS, {"number": "33", "customer": str(customer.pk)})
    assert response.status_code == 409
    assert response.json()["errors"][0]["attr"] == "number"
    theirs = CustomerFactory(account=other_account)
    response = other_api_client.post(CARDS, {"number": "33", "customer": str(theirs.pk)})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"customer": "ME"}, "number"),
        ({"number": "1"}, "customer"),
        ({"number": True, "customer": "ME"}, "number"),
        ({"number": " ", "customer": "ME"}, "number"),
        ({"number": "1", "customer": "00000000-0000-0000-0000-000000000000"}, "customer"),
        ({"number": "1", "customer": "ME", "status": "lost"}, "status"),
    ],
)
def test_bad_card_input_is_a_400_naming_the_field(api_client, customer, body, attr):
    body = {key: str(customer.pk) if value == "ME" else value for key, value in body.items()}
    response = api_client.post(CARDS, body, format="json")
    assert response.status_code == 400, response.content
    assert attr in {error["attr"] for error in response.json()["errors"]}


def test_block_and_unblock_by_action_and_by_status(api_client, card):
    assert api_client.post(f"{CARDS}33/block/").json()["status"] == "blocked"
    assert api_client.get(f"{CARDS}33/").json()["status"] == "blocked"
    assert api_client.post(f"{CARDS}33/unblock/").json()["status"] == "active"
    assert api_client.patch(f"{CARDS}33/", {"status": "BLOCKED"}).json()["status"] == "blocked"
    assert api_client.put(f"{CARDS}33/", {"status": "active"}).json()["status"] == "active"


def test_a_cards_number_and_holder_cannot_change(api_client, card, account):
    other = CustomerFactory(account=account)
    response = api_client.patch(f"{CARDS}33/", {"number": "34", "customer": str(other.pk)})
    assert response.status_code == 400
    assert {e["attr"] for e in response.json()["errors"]} == {"number", "customer"}
    assert api_client.get(f"{CARDS}33/").json()["customer"] == str(card.customer_id)


def test_balances_cannot_be_written_through_the_card(api_client, card):
    api_client.patch(f"{CARDS}33/", {"points_balance": "999.00"})
    assert api_client.get(f"{CARDS}33/").json()["points_balance"] == "0.00"


def test_cards_are_never_deleted(api_client, card):
    assert api_client.delete(f"{CARDS}33/").status_code == 405


def test_list_filters_by_customer_status_and_number(api_client, account, customer, card):
    issue_card(account, "34", status="blocked")
    numbers = lambda **q: [c["number"] for c in api_client.get(CARDS, q).json()["results"]]  # noqa: E731
    assert numbers() == ["33", "34"]
    assert numbers(customer=str(customer.pk)) == ["33"]
    assert numbers(customer=customer.number) == ["33"]
    assert numbers(status="blocked") == ["34"]
    assert numbers(number="34") == ["34"]


def test_read_only_keys_read_but_cannot_issue(read_only_client, customer, card):
    assert read_only_client.get(f"{CARDS}33/").status_code == 200
    response = read_only_client.post(CARDS, {"number": "9", "customer": str(customer.pk)})
    assert response.status_code == 403


def test_another_accounts_card_is_a_404_and_untouched(other_api_client, api_client, card):
    assert other_api_client.get(f"{CARDS}33/").status_code == 404
    assert other_api_client.patch(f"{CARDS}33/", {"status": "blocked"}).status_code == 404
    assert other_api_client.post(f"{CARDS}33/block/").status_code == 404
    assert other_api_client.get(CARDS).json()["results"] == []
    assert api_client.get(f"{CARDS}33/").json()["status"] == "active"


def test_another_accounts_customer_cannot_get_a_card(other_api_client, customer, api_client):
    response = other_api_client.post(CARDS, {"number": "9", "customer": str(customer.pk)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "customer"
    assert api_client.get(CARDS).json()["results"] == []
