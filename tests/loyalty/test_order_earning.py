"""Orders earn loyalty points once when they first reach completed or delivered, and
cancelling or refunding reverses what they earned, never below zero (SPEC: Loyalty).
Through the orders API with real credentials, and through orders' services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from loyalty import services
from loyalty.models import LoyaltyTransaction
from orders import services as order_services
from orders.models import Order
from tests.factories import CustomerFactory
from tests.loyalty.conftest import REDEEM, assert_chains, balance, give_points, issue_card, ledger

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
LEDGER = "/api/v1/loyalty/transactions/"


def post_order(client, customer, amount="26.00", status="pending", **fields):
    response = client.post(
        ORDERS,
        {"customer": str(customer.pk), "amount": amount, "status": status, **fields},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def act(client, order_id, action, expected=200):
    response = client.post(f"{ORDERS}{order_id}/{action}/", format="json")
    assert response.status_code == expected, response.content
    return response


def order_rows(account, order_id):
    """The order's ledger rows, oldest first, as (kind, points, balance_after, shortfall)."""
    with account_scope(account):
        rows = LoyaltyTransaction.objects.filter(order=order_id).order_by("created_at", "id")
        return [(r.kind, r.points, r.balance_after, r.shortfall) for r in rows]


def D(value):
    return Decimal(value)


def test_an_order_earns_once_on_completed_and_nothing_more_on_delivered(
    api_client, account, customer, card
):
    order = post_order(api_client, customer, amount="26.00")
    assert order_rows(account, order["id"]) == []  # pending earns nothing
    act(api_client, order["id"], "complete")
    assert order_rows(account, order["id"]) == [("earn", D("13.00"), D("13.00"), D("0.00"))]
    response = api_client.patch(f"{ORDERS}{order['id']}/", {"status": "delivered"}, format="json")
    assert response.status_code == 200, response.content
    assert order_rows(account, order["id"]) == [("earn", D("13.00"), D("13.00"), D("0.00"))]
    assert balance(account) == D("13.00")
    assert_chains(account)


def test_an_order_created_completed_earns_at_the_accounts_rate_half_up(
    api_client, account, customer, card
):
    account.loyalty_earn_rate = Decimal("0.25")
    account.save()
    order = post_order(api_client, customer, amount="0.10", status="completed")
    assert order_rows(account, order["id"]) == [("earn", D("0.03"), D("0.03"), D("0.00"))]


def test_delivered_first_earns_too(api_client, account, customer, card):
    order = post_order(api_client, customer, amount="10.00", status="delivered")
    assert order_rows(account, order["id"]) == [("earn", D("5.00"), D("5.00"), D("0.00"))]


def test_cancelling_reverses_and_reversing_twice_does_nothing(api_client, account, customer, card):
    order = post_order(api_client, customer, amount="26.00", status="completed")
    act(api_client, order["id"], "cancel")
    assert order_rows(account, order["id"]) == [
        ("earn", D("13.00"), D("13.00"), D("0.00")),
        ("reverse", D("-13.00"), D("0.00"), D("0.00")),
    ]
    act(api_client, order["id"], "cancel", expected=409)
    response = api_client.patch(f"{ORDERS}{order['id']}/", {"status": "refunded"}, format="json")
    assert response.status_code == 200, response.content
    assert len(order_rows(account, order["id"])) == 2
    assert balance(account) == D("0.00")
    assert_chains(account)


def test_refunding_reverses(api_client, account, customer, card):
    give_points(account, card, "5")
    order = post_order(api_client, customer, amount="20.00", status="completed")
    act(api_client, order["id"], "refund")
    assert order_rows(account, order["id"])[-1] == ("reverse", D("-10.00"), D("5.00"), D("0.00"))
    assert balance(account) == D("5.00")


def test_a_reversal_after_the_points_were_redeemed_stops_at_zero_with_the_shortfall(
    api_client, account, customer, card
):
    order = post_order(api_client, customer, amount="26.00", status="completed")
    response = api_client.post(REDEEM, {"card_number": "33", "points": "10"}, format="json")
    assert response.status_code == 201, response.content
    act(api_client, order["id"], "cancel")
    assert order_rows(account, order["id"])[-1] == (
        "reverse",
        D("-3.00"),
        D("0.00"),
        D("10.00"),
    )
    assert balance(account) == D("0.00")
    assert_chains(account)


def test_completed_cancelled_completed_again_earns_once_net_of_the_reversal(
    api_client, account, customer, card
):
    order = post_order(api_client, customer, amount="26.00", status="completed")
    act(api_client, order["id"], "cancel")
    response = api_client.patch(f"{ORDERS}{order['id']}/", {"status": "completed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    assert [row[:2] for row in order_rows(account, order["id"])] == [
        ("earn", D("13.00")),
        ("reverse", D("-13.00")),
    ]
    assert balance(account) == D("0.00")
    assert_chains(account)


def test_the_orders_own_card_wins_over_the_customers_oldest(api_client, account, customer, card):
    issue_card(account, "77", customer)
    post_order(api_client, customer, amount="4.00", status="completed", loyalty_card="77")
    assert ledger(account, "77") == [("earn", D("2.00"), D("2.00"))]
    assert ledger(account, "33") == []


def test_without_a_given_card_the_customers_oldest_active_card_earns(account, customer):
    old = issue_card(account, "1", customer)
    issue_card(account, "2", customer)
    issue_card(account, "0", customer)
    with account_scope(account):
        card_model = type(old)
        card_model.objects.filter(number="0").update(issued_at=timezone.now() - timedelta(1))
        services.card_block(card=card_model.objects.get(number="0"))
        order_services.order_create(
            account=account, customer=customer, amount=Decimal("8"), status="completed"
        )
    assert ledger(account, "1") == [("earn", D("4.00"), D("4.00"))]
    assert ledger(account, "0") == ledger(account, "2") == []


def test_a_customer_without_a_card_earns_nothing_and_that_is_no_error(api_client, account):
    customer = CustomerFactory(account=account)
    order = post_order(api_client, customer, amount="26.00", status="completed")
    act(api_client, order["id"], "cancel")
    assert order_rows(account, order["id"]) == []
    response = api_client.delete(f"{ORDERS}{order['id']}/")
    assert response.status_code == 204, response.content


def test_another_accounts_order_and_card_are_untouched(
    api_client, other_api_client, account, other_account, customer, card
):
    other_customer = CustomerFactory(account=other_account)
    issue_card(other_account, "33", other_customer)
    order = post_order(api_client, customer, amount="26.00", status="completed")
    # Another account's credentials neither see nor change the order.
    act(other_api_client, order["id"], "cancel", expected=404)
    assert other_api_client.delete(f"{ORDERS}{order['id']}/").status_code == 404
    assert balance(account) == D("13.00")
    assert balance(other_account) == D("0.00")
    assert ledger(other_account) == []
    # An order given the other account's card number earns on this account's card only.
    post_order(
        other_api_client, other_customer, amount="2.00", status="completed", loyalty_card="33"
    )
    assert ledger(other_account) == [("earn", D("1.00"), D("1.00"))]
    assert balance(account) == D("13.00")


def test_deleting_an_order_that_earned_reverses_it_and_the_ledger_keeps_its_id(
    api_client, account, customer, card
):
    order = post_order(api_client, customer, amount="26.00", status="completed")
    give_points(account, card, "-10.00")  # 3.00 left of the 13.00 it earned
    assert api_client.delete(f"{ORDERS}{order['id']}/").status_code == 204
    with account_scope(account):
        assert not Order.objects.filter(pk=order["id"]).exists()
    assert order_rows(account, order["id"]) == [
        ("earn", D("13.00"), D("13.00"), D("0.00")),
        ("reverse", D("-3.00"), D("0.00"), D("10.00")),
    ]
    with account_scope(account):
        assert "deleted" in LoyaltyTransaction.objects.get(kind="reverse").reason
    assert balance(account) == D("0.00")
    assert_chains(account)
    listed = api_client.get(LEDGER, {"kind": "reverse"}).json()["results"]
    assert [row["order"] for row in listed] == [order["id"]]


def test_deleting_a_cancelled_order_reverses_nothing_more(api_client, account, customer, card):
    order = post_order(api_client, customer, amount="26.00", status="completed")
    act(api_client, order["id"], "cancel")
    assert api_client.delete(f"{ORDERS}{order['id']}/").status_code == 204
    assert [row[0] for row in order_rows(account, order["id"])] == ["earn", "reverse"]
    assert balance(account) == D("0.00")


def test_a_reversal_reaches_a_blocked_card(account, customer, card):
    with account_scope(account):
        order = order_services.order_create(
            account=account, customer=customer, amount=Decimal("6"), status="completed"
        )
        services.card_block(card=card)
        order_services.order_refund(order=order)
    assert ledger(account) == [("earn", D("3.00"), D("3.00")), ("reverse", D("-3.00"), D("0.00"))]


def test_the_services_earn_and_reverse_once(account, customer, card):
    with account_scope(account):
        order = order_services.order_create(
            account=account, customer=customer, amount=Decimal("26"), status="pending"
        )
        assert services.order_reverse(account=account, order=order) is None  # not earned
        earned = services.order_earn(account=account, order=order)
        assert earned is not None
        assert earned.points == D("13.00")
        assert services.order_earn(account=account, order=order) is None
        reversed_ = services.order_reverse(account=account, order=order)
        assert reversed_ is not None
        assert reversed_.points == D("-13.00")
        assert services.order_reverse(account=account, order=order) is None
        assert services.order_earn(account=account, order=order) is None
    assert_chains(account)
