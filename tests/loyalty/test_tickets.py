"""GET /api/v1/loyalty/tickets/: orders in seed 001's ticket shape (SPEC: Loyalty), with
the net points each earned, their lines as articles, the customer and date filters,
cursor pages and tenancy."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from orders.models import Order
from tests.factories import CustomerFactory
from tests.loyalty.conftest import REDEEM, issue_card

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/loyalty/tickets/"
ORDERS = "/api/v1/orders/"


def post_order(client, customer, **fields):
    body = {"customer": str(customer.pk), "status": "completed", **fields}
    response = client.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def tickets(client, **params):
    response = client.get(TICKETS, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def by_number(rows):
    return {row["id"]: row for row in rows}


@pytest.fixture
def ann(account):
    customer = CustomerFactory(account=account, email="ann@example.com")
    issue_card(account, "33", customer)
    return customer


def test_a_ticket_is_the_order_in_seed_001s_shape(api_client, account, ann):
    order = post_order(
        api_client,
        ann,
        ordered_at="2019-10-09T17:01:29Z",
        payment_method="CASH",
        channel="e-commerce",
        items=[
            {
                "sku": "X1-0",
                "name": "Shirt",
                "unit_price": "400",
                "quantity": 2,
                "discount_percent": 50,
            },
            {"sku": "X1-9", "name": "Sock", "unit_price": "24.00", "quantity": 1},
        ],
    )
    (ticket,) = tickets(api_client)
    assert ticket["id"] == order["number"]
    assert ticket["order"] == order["id"]
    assert ticket["date"].startswith("2019-10-09T17:01:29")
    assert ticket["price"] == "424.00"
    assert ticket["customer"] == str(ann.pk)
    assert ticket["loyalty_points"] == "212.00"
    assert ticket["payment_method"] == "cash"
    assert ticket["origin"] == "ecommerce"
    assert ticket["articles"] == [
        {
            "sku": "X1-0",
            "price_before": "800.00",
            "price_after": "400.00",
            "promo": "50.00",
            "quantity": 2,
        },
        {
            "sku": "X1-9",
            "price_before": "24.00",
            "price_after": "24.00",
            "promo": "0.00",
            "quantity": 1,
        },
    ]


def test_loyalty_points_are_net_of_a_reversal_and_zero_without_earning(api_client, account, ann):
    earned = post_order(api_client, ann, amount="26.00")
    reversed_ = post_order(api_client, ann, amount="10.00")
    pending = post_order(api_client, ann, amount="8.00", status="pending")
    cardless = post_order(api_client, CustomerFactory(account=account), amount="50.00")
    response = api_client.post(f"{ORDERS}{reversed_['id']}/cancel/", format="json")
    assert response.status_code == 200, response.content
    rows = by_number(tickets(api_client))
    assert rows[earned["number"]]["loyalty_points"] == "13.00"
    assert rows[reversed_["number"]]["loyalty_points"] == "0.00"
    assert rows[pending["number"]]["loyalty_points"] == "0.00"
    assert rows[cardless["number"]]["loyalty_points"] == "0.00"
    assert rows[cardless["number"]]["articles"] == []


def test_a_reversal_short_of_the_balance_still_nets_the_order_to_zero(api_client, account, ann):
    order = post_order(api_client, ann, amount="26.00")  # earns 13
    spent = api_client.post(REDEEM, {"card_number": "33", "points": "10"}, format="json")
    assert spent.status_code == 201, spent.content
    assert api_client.post(f"{ORDERS}{order['id']}/cancel/").status_code == 200
    (row,) = tickets(api_client)
    assert row["loyalty_points"] == "0.00"


def test_filters_by_customer_and_date_range(api_client, account, ann):
    bob = CustomerFactory(account=account)
    first = post_order(api_client, ann, amount="1.00", ordered_at="2024-05-01T10:00:00Z")
    second = post_order(api_client, ann, amount="2.00", ordered_at="2024-05-02T23:30:00Z")
    third = post_order(api_client, bob, amount="3.00", ordered_at="2024-05-03T10:00:00Z")

    def numbers(**params):
        return [row["id"] for row in tickets(api_client, **params)]

    assert numbers() == [third["number"], second["number"], first["number"]]
    assert numbers(customer=str(ann.pk)) == [second["number"], first["number"]]
    assert numbers(customer=str(ann.number)) == [second["number"], first["number"]]
    assert numbers(customer=str(bob.pk)) == [third["number"]]
    assert numbers(date_from="2024-05-02") == [third["number"], second["number"]]
    assert numbers(date_to="2024-05-02") == [second["number"], first["number"]]  # whole day
    assert numbers(date_from="2024-05-02", date_to="2024-05-02") == [second["number"]]
    assert numbers(ordered_after="2024-05-02T00:00:00Z", ordered_before="2024-05-02") == [
        second["number"]
    ]
    assert numbers(ordered_after="2024-05-03T10:00:01Z") == []
    assert api_client.get(TICKETS, {"date_from": "not a date"}).status_code == 400


def test_the_date_range_is_read_in_the_accounts_timezone(api_client, account, ann):
    account.timezone = "Pacific/Auckland"
    account.save()
    # 2024-05-02 11:30 UTC is 2024-05-02 23:30 in Auckland (UTC+12); 12:30 UTC is the 3rd.
    late = post_order(api_client, ann, amount="1.00", ordered_at="2024-05-02T11:30:00Z")
    next_day = post_order(api_client, ann, amount="2.00", ordered_at="2024-05-02T12:30:00Z")
    on_the_2nd = tickets(api_client, date_from="2024-05-02", date_to="2024-05-02")
    assert [row["id"] for row in on_the_2nd] == [late["number"]]
    on_the_3rd = tickets(api_client, date_from="2024-05-03")
    assert [row["id"] for row in on_the_3rd] == [next_day["number"]]


def test_cursor_pages_walk_every_ticket_once(api_client, account, ann):
    made = [
        post_order(api_client, ann, amount=f"{n}.00", ordered_at="2024-05-01T10:00:00Z")
        for n in range(1, 8)
    ]
    seen = []
    url = f"{TICKETS}?cursor=&page_size=3"
    pages = 0
    while url:
        response = api_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body
        assert len(body["results"]) <= 3
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert sorted(seen) == sorted(order["number"] for order in made)
    paged = api_client.get(TICKETS).json()
    assert paged["count"] == 7
    assert [row["id"] for row in paged["results"]] == seen


def test_another_account_sees_none_of_the_tickets(api_client, other_api_client, account, ann):
    post_order(api_client, ann, amount="26.00")
    assert other_api_client.get(TICKETS).json()["results"] == []
    assert other_api_client.get(TICKETS, {"customer": str(ann.pk)}).json()["results"] == []
    with account_scope(account):
        assert Order.objects.count() == 1
    (row,) = tickets(api_client)
    assert row["loyalty_points"] == "13.00"
    assert Decimal(row["price"]) == Decimal("26.00")
