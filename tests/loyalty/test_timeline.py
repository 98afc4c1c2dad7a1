"""A customer's timeline shows their points (every ledger row of their cards), and
their loyalty history keeps them from deletion."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from loyalty import services
from tests.loyalty.conftest import CREDIT, give_points, issue_card

pytestmark = pytest.mark.django_db


def timeline(client, customer):
    response = client.get(f"/api/v1/customers/{customer.pk}/timeline/")
    assert response.status_code == 200, response.content
    return response.json()


def test_points_rows_of_every_card_are_in_the_timeline(api_client, account, customer, card):
    second = issue_card(account, "34", customer)
    api_client.post(CREDIT, {"tickets": [{"card_number": "33", "amount": "26"}]}, format="json")
    give_points(account, second, "5.00")
    with account_scope(account):
        services.card_redeem(account=account, card_number="33", points=Decimal("3"))
    entries = [e for e in timeline(api_client, customer)["results"] if e["kind"] == "points"]
    assert [(e["data"]["card"], e["data"]["kind"], e["data"]["points"]) for e in entries] == [
        ("33", "redeem", "-3.00"),
        ("34", "adjust", "5.00"),
        ("33", "credit", "13.00"),
    ]
    assert entries[0]["summary"] == "Redeem -3.00 points on card 33: balance 10.00"
    assert entries[2]["data"]["balance_after"] == "13.00"


def test_another_customers_points_are_not_in_the_timeline(api_client, account, customer, card):
    other = issue_card(account, "99")
    give_points(account, other, "7.00")
    assert [e for e in timeline(api_client, customer)["results"] if e["kind"] == "points"] == []


def test_a_customer_holding_a_card_is_kept_from_deletion_with_its_reason(
    api_client, account, customer, card
):
    response = api_client.delete(f"/api/v1/customers/{customer.pk}/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "has_loyalty_history"
    assert api_client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200
