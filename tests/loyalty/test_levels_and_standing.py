"""/api/v1/loyalty/levels/ and a customer's standing (SPEC: Loyalty): admins write the
levels; a customer answers `loyalty_points` (all their cards' balances summed) and
`loyalty_level` (the highest level their lifetime earned points reach), and credit and
order earning apply the level's multiplier."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from loyalty.models import LoyaltyLevel
from tests.factories import CustomerFactory
from tests.loyalty.conftest import (
    CREDIT,
    REDEEM,
    assert_chains,
    balance,
    give_points,
    issue_card,
    ledger,
)

pytestmark = pytest.mark.django_db

LEVELS = "/api/v1/loyalty/levels/"
CUSTOMERS = "/api/v1/customers/"
ORDERS = "/api/v1/orders/"


def make_level(client, name, min_points, multiplier, expected=201):
    response = client.post(
        LEVELS,
        {"name": name, "min_points": min_points, "earn_multiplier": multiplier},
        format="json",
    )
    assert response.status_code == expected, response.content
    return response.json()


def stored_levels(account):
    with account_scope(account):
        return [
            (level.name, level.min_points, level.earn_multiplier)
            for level in LoyaltyLevel.objects.order_by("min_points")
        ]


def credit(client, *tickets):
    response = client.post(CREDIT, {"tickets": list(tickets)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def standing(client, customer):
    response = client.get(f"{CUSTOMERS}{customer.pk}/")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["loyalty_points"], body["loyalty_level"]


def listed_standing(client, customer):
    response = client.get(CUSTOMERS, {"page_size": 500})
    assert response.status_code == 200, response.content
    (row,) = [row for row in response.json()["results"] if row["id"] == str(customer.pk)]
    return row["loyalty_points"], row["loyalty_level"]


# --- The levels resource ---------------------------------------------------------------


def test_an_admin_creates_updates_and_deletes_levels(api_client, account):
    silver = make_level(api_client, "Silver", "100", "1.5")
    assert (silver["name"], silver["min_points"], silver["earn_multiplier"]) == (
        "Silver",
        "100.00",
        "1.50",
    )
    gold = make_level(api_client, "Gold", 500, 2)
    assert [row["name"] for row in api_client.get(LEVELS).json()] == ["Silver", "Gold"]
    assert api_client.get(f"{LEVELS}{gold['id']}/").json()["min_points"] == "500.00"

    updated = api_client.patch(f"{LEVELS}{silver['id']}/", {"earn_multiplier": "1.25"})
    assert updated.status_code == 200, updated.content
    assert updated.json()["earn_multiplier"] == "1.25"
    assert updated.json()["name"] == "Silver"  # partial
    assert stored_levels(account) == [
        ("Silver", Decimal("100.00"), Decimal("1.25")),
        ("Gold", Decimal("500.00"), Decimal("2.00")),
    ]
    assert api_client.delete(f"{LEVELS}{gold['id']}/").status_code == 204
    assert stored_levels(account) == [("Silver", Decimal("100.00"), Decimal("1.25"))]
    assert api_client.get(f"{LEVELS}{gold['id']}/").status_code == 404


def test_levels_list_lowest_first(api_client):
    make_level(api_client, "Gold", 500, 2)
    make_level(api_client, "Bronze", 0, 1)
    make_level(api_client, "Silver", 100, "1.5")
    assert [row["name"] for row in api_client.get(LEVELS).json()] == ["Bronze", "Silver", "Gold"]


@pytest.mark.parametrize("client_name", ["member_client", "read_only_client"])
def test_non_admin_keys_read_levels_but_cannot_write_them(
    request, api_client, account, client_name
):
    level = make_level(api_client, "Silver", 100, 2)
    client = request.getfixturevalue(client_name)
    assert [row["id"] for row in client.get(LEVELS).json()] == [level["id"]]
    assert client.get(f"{LEVELS}{level['id']}/").status_code == 200
    body = {"name": "Gold", "min_points": 500, "earn_multiplier": 3}
    assert client.post(LEVELS, body, format="json").status_code == 403
    assert client.patch(f"{LEVELS}{level['id']}/", {"earn_multiplier": 9}).status_code == 403
    assert client.delete(f"{LEVELS}{level['id']}/").status_code == 403
    assert stored_levels(account) == [("Silver", Decimal("100.00"), Decimal("2.00"))]


def test_a_duplicate_name_or_threshold_is_a_409(api_client, account):
    silver = make_level(api_client, "Silver", 100, 2)
    gold = make_level(api_client, "Gold", 500, 3)
    name = make_level(api_client, "Silver", 200, 2, expected=409)
    assert name["errors"][0]["attr"] == "name"
    threshold = make_level(api_client, "Platinum", "100.00", 4, expected=409)
    assert threshold["errors"][0]["attr"] == "min_points"
    renamed = api_client.patch(f"{LEVELS}{gold['id']}/", {"name": "Silver"}, format="json")
    assert renamed.status_code == 409
    moved = api_client.patch(f"{LEVELS}{gold['id']}/", {"min_points": 100}, format="json")
    assert moved.status_code == 409
    assert stored_levels(account) == [
        ("Silver", Decimal("100.00"), Decimal("2.00")),
        ("Gold", Decimal("500.00"), Decimal("3.00")),
    ]
    assert silver["id"] != gold["id"]


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"name": "X", "min_points": 10, "earn_multiplier": 0}, "earn_multiplier"),
        ({"name": "X", "min_points": 10, "earn_multiplier": "100.01"}, "earn_multiplier"),
        ({"name": "X", "min_points": 10, "earn_multiplier": 101}, "earn_multiplier"),
        ({"name": "X", "min_points": 10, "earn_multiplier": -1}, "earn_multiplier"),
        ({"name": "X", "min_points": -1, "earn_multiplier": 2}, "min_points"),
        ({"name": "X", "min_points": "abc", "earn_multiplier": 2}, "min_points"),
        ({"name": "", "min_points": 10, "earn_multiplier": 2}, "name"),
    ],
)
def test_bad_level_input_is_a_400_naming_the_field(api_client, account, body, attr):
    response = api_client.post(LEVELS, body, format="json")
    assert response.status_code == 400, response.content
    assert attr in [error["attr"] for error in response.json()["errors"]]
    assert stored_levels(account) == []


def test_a_multiplier_of_100_is_the_maximum_allowed(api_client, account):
    make_level(api_client, "Top", 10, 100)
    assert stored_levels(account) == [("Top", Decimal("10.00"), Decimal("100.00"))]


def test_another_account_can_neither_see_nor_change_the_levels(
    api_client, other_api_client, account
):
    level = make_level(api_client, "Silver", 100, 2)
    assert other_api_client.get(LEVELS).json() == []
    assert other_api_client.get(f"{LEVELS}{level['id']}/").status_code == 404
    patched = other_api_client.patch(f"{LEVELS}{level['id']}/", {"earn_multiplier": 9})
    assert patched.status_code == 404
    assert other_api_client.delete(f"{LEVELS}{level['id']}/").status_code == 404
    assert stored_levels(account) == [("Silver", Decimal("100.00"), Decimal("2.00"))]
    # The same name and threshold are free in the other account.
    make_level(other_api_client, "Silver", 100, 3)


# --- A customer's standing ---------------------------------------------------------------


def test_loyalty_points_sum_all_the_customers_cards_and_the_level_follows_earned(
    api_client, account
):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    issue_card(account, "34", ann)
    blocked = issue_card(account, "35", ann, status="blocked")
    give_points(account, blocked, "2")  # an adjustment: on the balance, not earned
    bob = CustomerFactory(account=account)
    issue_card(account, "90", bob)
    silver = make_level(api_client, "Silver", 12, 1)  # neither card alone reaches it
    make_level(api_client, "Gold", 20, 1)

    assert standing(api_client, ann) == ("2.00", None)
    credit(
        api_client,
        {"card_number": "33", "amount": 20},
        {"card_number": "34", "amount": 10},
        {"card_number": "90", "amount": 100},
    )
    # Ann: 10 + 5 = 15 earned over two cards, Silver (Gold needs 20); 17 with the 2.
    expected = ("17.00", {"id": silver["id"], "name": "Silver"})
    assert standing(api_client, ann) == expected
    assert listed_standing(api_client, ann) == expected
    # Spending lowers the points, not the lifetime earned points nor the level.
    response = api_client.post(REDEEM, {"card_number": "33", "points": "7"}, format="json")
    assert response.status_code == 201, response.content
    expected = ("10.00", {"id": silver["id"], "name": "Silver"})
    assert standing(api_client, ann) == expected
    assert listed_standing(api_client, ann) == expected
    # Bob's cards are his own.
    assert standing(api_client, bob)[0] == "50.00"
    assert standing(api_client, bob)[1]["name"] == "Gold"


def test_a_level_change_applies_at_once(api_client, account):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    credit(api_client, {"card_number": "33", "amount": 30})  # 15 earned
    level = make_level(api_client, "Silver", 20, 2)
    assert standing(api_client, ann) == ("15.00", None)
    api_client.patch(f"{LEVELS}{level['id']}/", {"min_points": 15}, format="json")
    assert standing(api_client, ann) == ("15.00", {"id": level["id"], "name": "Silver"})
    api_client.delete(f"{LEVELS}{level['id']}/")
    assert standing(api_client, ann) == ("15.00", None)


def test_a_reversed_order_lowers_the_earned_points_and_the_level(api_client, account):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    silver = make_level(api_client, "Silver", 10, 1)
    order = api_client.post(
        ORDERS,
        {"customer": str(ann.pk), "amount": "30.00", "status": "completed"},
        format="json",
    )
    assert order.status_code == 201, order.content
    assert standing(api_client, ann) == ("15.00", {"id": silver["id"], "name": "Silver"})
    cancelled = api_client.post(f"{ORDERS}{order.json()['id']}/cancel/", format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert standing(api_client, ann) == ("0.00", None)
    assert listed_standing(api_client, ann) == ("0.00", None)
    with account_scope(account):
        card = ann.loyalty_cards.get()
        assert (card.points_balance, card.points_earned) == (Decimal("0.00"), Decimal("0.00"))


def test_a_customer_without_a_card_has_no_points_and_no_level_above_zero(api_client, account):
    ann = CustomerFactory(account=account)
    make_level(api_client, "Silver", 10, 2)
    assert standing(api_client, ann) == ("0.00", None)
    assert listed_standing(api_client, ann) == ("0.00", None)


def test_a_level_at_zero_points_is_every_customers_level(api_client, account):
    with_card = CustomerFactory(account=account)
    issue_card(account, "33", with_card)
    without = CustomerFactory(account=account)
    base = make_level(api_client, "Base", 0, 1)
    assert standing(api_client, with_card) == ("0.00", {"id": base["id"], "name": "Base"})
    assert standing(api_client, without) == ("0.00", {"id": base["id"], "name": "Base"})


def test_the_level_multiplier_applies_to_credits(api_client, account):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    make_level(api_client, "Double", 0, 2)
    answer = credit(api_client, {"carteFid": 33, "Montant": 26})
    assert (answer[0]["status"], answer[0]["credited"], answer[0]["balance"]) == (
        "credited",
        "26.00",
        "26.00",
    )
    assert balance(account) == Decimal("26.00")


def test_credits_move_to_a_higher_level_for_the_next_call(api_client, account):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    make_level(api_client, "Gold", 10, 3)
    first = credit(api_client, {"card_number": "33", "amount": 20})  # 10 points, x1
    assert first[0]["credited"] == "10.00"
    second = credit(api_client, {"card_number": "33", "amount": 20})  # now Gold: x3
    assert second[0]["credited"] == "30.00"
    assert ledger(account, "33") == [
        ("credit", Decimal("10.00"), Decimal("10.00")),
        ("credit", Decimal("30.00"), Decimal("40.00")),
    ]
    assert_chains(account)


def test_the_level_multiplier_applies_to_order_earning_half_up(api_client, account):
    ann = CustomerFactory(account=account)
    issue_card(account, "33", ann)
    make_level(api_client, "Boost", 0, "1.5")
    order = api_client.post(
        ORDERS,
        {"customer": str(ann.pk), "amount": "0.05", "status": "completed"},
        format="json",
    )
    assert order.status_code == 201, order.content
    # 0.05 x 0.50 x 1.5 = 0.0375 -> 0.04
    assert ledger(account, "33") == [("earn", Decimal("0.04"), Decimal("0.04"))]
    order = api_client.post(
        ORDERS,
        {"customer": str(ann.pk), "amount": "26.00", "status": "delivered"},
        format="json",
    )
    assert order.status_code == 201, order.content
    assert ledger(account, "33")[-1] == ("earn", Decimal("19.50"), Decimal("19.54"))
    assert standing(api_client, ann)[0] == "19.54"
