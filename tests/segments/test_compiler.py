"""What each operator and criterion selects, on small hand-made examples at their edges
(segments.compiler). Customers are named after what makes them interesting; rules are
validated first, as the API does."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_project.tenancy import account_scope
from customers.models import Customer
from orders.services import order_create
from segments.compiler import count, matching_customers
from segments.rules import validate_rule
from tests.factories import (
    AccountFactory,
    AgentFactory,
    CustomerFactory,
    PointOfSaleFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2024, 3, 15)
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def shop(db):
    """An account in Los Angeles: its days start at 07:00 or 08:00 UTC."""
    return AccountFactory(slug="shop", timezone="America/Los_Angeles")


def customer(account, name, **fields):
    created_at = fields.pop("created_at", None)
    row = CustomerFactory(account=account, first_name=name, **fields)
    if created_at is not None:
        with account_scope(account):
            Customer.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def buy(account, who, *, at=None, amount="10.00", status="completed", pos=None, items=None):
    """An order through the orders service (which keeps the spend aggregates)."""
    with account_scope(account):
        return order_create(
            account=account,
            customer=who,
            amount=None if items else Decimal(amount),
            items=items,
            ordered_at=at or datetime(2024, 3, 1, 18, tzinfo=UTC),
            status=status,
            pos=pos,
        )


def names(account, rule, today=TODAY):
    """First names of the customers the validated rule selects."""
    with account_scope(account):
        query = matching_customers(account, validate_rule(rule), today=today)
        return sorted(query.values_list("first_name", flat=True))


def cond(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


def local(day, hour=0, minute=0, second=0):
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=LA)


# --- Text ---------------------------------------------------------------------------------


@pytest.fixture
def cities(account):
    for name, city in [
        ("upper", "PARIS"),
        ("title", "Paris"),
        ("padded", " Paris"),
        ("other", "Lyon"),
        ("empty", ""),
        ("blank", " \t "),
        ("percent", "50%_off"),
    ]:
        customer(account, name, city=city)
    return account


def test_equality_ignores_case_and_never_matches_empty(cities):
    assert names(cities, cond("city", "=", "paris")) == ["title", "upper"]


def test_not_equal_matches_empty_and_blank_values(cities):
    assert names(cities, cond("city", "!=", "PARIS")) == [
        "blank",
        "empty",
        "other",
        "padded",
        "percent",
    ]


def test_contains_takes_percent_and_underscore_literally(cities):
    assert names(cities, cond("city", "contains", "%_")) == ["percent"]
    assert names(cities, cond("city", "contains", "AR")) == ["padded", "title", "upper"]


def test_not_contains_matches_empty_values(cities):
    assert names(cities, cond("city", "not_contains", "ar")) == [
        "blank",
        "empty",
        "other",
        "percent",
    ]


def test_starts_and_ends_with_ignore_case(cities):
    assert names(cities, cond("city", "starts_with", "pa")) == ["title", "upper"]
    assert names(cities, cond("city", "ends_with", "RIS")) == ["padded", "title", "upper"]


def test_in_and_not_in_ignore_case(cities):
    assert names(cities, cond("city", "in", ["lyon", "PARIS"])) == ["other", "title", "upper"]
    assert names(cities, cond("city", "not_in", ["lyon", "PARIS"])) == [
        "blank",
        "empty",
        "padded",
        "percent",
    ]


def test_is_empty_means_blank_after_trimming(cities):
    assert names(cities, cond("city", "is_empty")) == ["blank", "empty"]
    assert len(names(cities, cond("city", "is_not_empty"))) == 5


def test_choice_fields_are_text_fields(account):
    customer(account, "shouting", status="ACTIVE", country="fr", gender="female")
    customer(account, "quiet", status="inactive", country="FR", gender="")
    assert names(account, cond("status", "=", "active")) == ["shouting"]
    assert names(account, cond("country", "in", ["Fr"])) == ["quiet", "shouting"]
    assert names(account, cond("gender", "is_empty")) == ["quiet"]


def test_values_are_query_parameters_never_sql(account):
    customer(account, "obrien", last_name="O'Brien")
    rule = validate_rule(cond("last_name", "=", "o'brien"))
    with account_scope(account):
        query = matching_customers(account, rule, today=TODAY)
        sql, params = query.query.sql_with_params()
        assert "brien" not in sql.lower()
        assert "o'brien" in params
        assert list(query.values_list("first_name", flat=True)) == ["obrien"]


# --- Numbers ------------------------------------------------------------------------------


def test_money_ranges_are_inclusive_and_take_decimal_strings(account):
    for name, amount in [("low", "9.99"), ("edge", "10.00"), ("top", "20.00"), ("over", "20.01")]:
        buy(account, customer(account, name), amount=amount)
    customer(account, "none")
    assert names(account, cond("lifetime_spend", "between", ["10", 20])) == ["edge", "top"]
    assert names(account, cond("lifetimeSpend", "<", "10")) == ["low", "none"]


def test_the_average_is_exact_not_the_rounded_column(account):
    thirds = customer(account, "thirds")
    for amount in ("10.00", "10.00", "10.01"):
        buy(account, thirds, amount=amount)  # average 10.00333...
    customer(account, "none")
    assert names(account, cond("average_order_value", "=", "10.003333")) == []
    assert names(account, cond("average_order_value", ">", "10.003333")) == ["thirds"]
    assert names(account, cond("average_order_value", "<", "10.003334")) == ["thirds"]


def test_without_orders_the_average_is_empty(account):
    buy(account, customer(account, "buyer"), amount="50.00")
    customer(account, "none")
    assert names(account, cond("average_order_value", "is_empty")) == ["none"]
    assert names(account, cond("average_order_value", "!=", 50)) == ["none"]
    assert names(account, cond("average_order_value", "<", 50)) == []


def test_cancelled_and_refunded_orders_do_not_count(account):
    mixed = customer(account, "mixed")
    for status in ("pending", "processing", "cancelled", "refunded"):
        buy(account, mixed, status=status, amount="10.00")
    assert names(account, cond("total_orders", "=", 2)) == ["mixed"]
    assert names(account, cond("lifetime_spend", "=", "20")) == ["mixed"]


# --- Dates --------------------------------------------------------------------------------


def test_datetimes_are_compared_as_dates_in_the_account_timezone(shop):
    # 07:30 UTC on the 10th is 23:30 on the 9th in Los Angeles.
    customer(shop, "late", created_at=datetime(2024, 3, 10, 7, 30, tzinfo=UTC))
    customer(shop, "next", created_at=datetime(2024, 3, 10, 8, 0, tzinfo=UTC))
    assert names(shop, cond("created_at", "=", "2024-03-09")) == ["late"]
    assert names(shop, cond("created_at", ">", "2024-03-09")) == ["next"]
    assert names(shop, cond("created_at", "<=", "2024-03-09")) == ["late"]
    assert names(shop, cond("created_at", "between", ["2024-03-10", "2024-03-10"])) == ["next"]


def test_within_last_days_includes_the_day_n_days_ago(shop):
    start = local(TODAY - timedelta(days=7))
    customer(shop, "first second", created_at=start)
    customer(shop, "last second before", created_at=start - timedelta(seconds=1))
    customer(shop, "today", created_at=local(TODAY, 23, 59, 59))
    assert names(shop, cond("created_at", "within_last_days", 7)) == ["first second", "today"]
    assert names(shop, cond("created_at", "more_than_days_ago", 7)) == ["last second before"]
    assert names(shop, cond("created_at", "within_last_days", 0)) == ["today"]


def test_today_is_the_account_today_by_default(shop):
    customer(shop, "now")
    assert names(shop, cond("created_at", "within_last_days", 0), today=None) == ["now"]


def test_plain_dates_and_empty_dates(account):
    customer(account, "leap", date_of_birth=date(2000, 2, 29))
    customer(account, "unknown", date_of_birth=None)
    assert names(account, cond("date_of_birth", ">=", "2000-02-29")) == ["leap"]
    assert names(account, cond("date_of_birth", "is_empty")) == ["unknown"]
    assert names(account, cond("dateOfBirth", "more_than_days_ago", 0)) == ["leap"]


def test_order_dates_come_from_counted_orders(shop):
    both = customer(shop, "both")
    buy(shop, both, at=local(date(2024, 3, 1), 12))
    buy(shop, both, at=local(date(2024, 3, 12), 12), status="refunded")
    customer(shop, "none")
    assert names(shop, cond("last_order_date", "=", "2024-03-01")) == ["both"]
    assert names(shop, cond("first_order_date", "is_empty")) == ["none"]
    assert names(shop, cond("lastOrderDate", "within_last_days", 13)) == []


# --- Booleans, tags, agents ---------------------------------------------------------------


def test_booleans(account):
    customer(account, "in", email_opt_in=True)
    customer(account, "out", email_opt_in=False)
    assert names(account, cond("email_opt_in", "=", False)) == ["out"]


def test_tags_ignore_case(account):
    customer(account, "vip", tags=["VIP", "promo"])
    customer(account, "plain", tags=["newsletter"])
    customer(account, "untagged", tags=[])
    assert names(account, cond("tags", "contains", "vip")) == ["vip"]
    assert names(account, cond("tags", "not_contains", "Vip")) == ["plain", "untagged"]
    assert names(account, cond("tags", "in", ["PROMO", "Newsletter"])) == ["plain", "vip"]


def test_assigned_to(account):
    ann, bob = AgentFactory(account=account), AgentFactory(account=account)
    customer(account, "ann's", assigned_to=ann)
    customer(account, "bob's", assigned_to=bob)
    customer(account, "nobody's")
    assert names(account, cond("assigned_to", "=", str(ann.pk))) == ["ann's"]
    assert names(account, cond("assigned_to", "!=", str(ann.pk))) == ["bob's", "nobody's"]
    assert names(account, cond("assigned_to", "in", [str(ann.pk), str(bob.pk)])) == [
        "ann's",
        "bob's",
    ]
    assert names(account, cond("assigned_to", "not_in", [str(bob.pk)])) == ["ann's", "nobody's"]
    assert names(account, cond("assigned_to", "is_empty")) == ["nobody's"]


# --- Custom fields (metadata) -------------------------------------------------------------


@pytest.fixture
def scores(account):
    for name, value in [
        ("int", 42),
        ("float", 3.5),
        ("text 42", "42"),
        ("negative text", "-3.50"),
        ("exponent", "1e3"),
        ("nan", "NaN"),
        ("word", "abc"),
        ("blank", "  "),
        ("null", None),
        ("true", True),
    ]:
        customer(account, name, metadata={"score": value})
    customer(account, "missing", metadata={"other": 1})
    return account


def test_number_operators_see_json_numbers_and_plain_decimal_strings(scores):
    assert names(scores, cond("metadata.score", ">", 3)) == ["float", "int", "text 42"]
    assert names(scores, cond("metadata.score", "<", 0)) == ["negative text"]
    assert names(scores, cond("metadata.score", "=", 42)) == ["int", "text 42"]
    assert names(scores, cond("metadata.score", "between", [-4, 4])) == ["float", "negative text"]


def test_number_not_equal_matches_empty_values_but_no_other_non_numbers(scores):
    assert names(scores, cond("metadata.score", "!=", 42)) == [
        "blank",
        "float",
        "missing",
        "negative text",
        "null",
    ]


def test_empty_is_null_missing_or_blank(scores):
    assert names(scores, cond("metadata.score", "is_empty")) == ["blank", "missing", "null"]


def test_text_operators_see_a_stored_number_as_its_text(scores):
    assert names(scores, cond("metadata.score", "contains", "4")) == ["int", "text 42"]
    assert names(scores, cond("metadata.score", "=", "42")) == ["int", "text 42"]
    assert names(scores, cond("metadata.score", "=", True)) == ["true"]
    assert names(scores, cond("metadata.score", "in", ["NAN", "ABC"])) == ["nan", "word"]


def test_metadata_keys_are_taken_as_sent(account):
    customer(account, "tiered", metadata={"Loyalty Tier": "Gold"})
    customer(account, "snake", metadata={"loyalty_tier": "Gold"})
    assert names(account, cond("metadata.Loyalty Tier", "=", "gold")) == ["tiered"]


# --- Criteria -----------------------------------------------------------------------------


@pytest.fixture
def buyers(shop):
    """Three customers with orders at two shops, and one without orders."""
    paris = PointOfSaleFactory(account=shop, code="PAR1")
    lyon = PointOfSaleFactory(account=shop, code="LYO1")
    shirt = ProductFactory(account=shop, sku="TS-1", brand="Acme", price=Decimal("10.00"))
    mug = ProductFactory(account=shop, sku="mug-1", brand="", price=Decimal("5.00"))
    loyal = customer(shop, "loyal")
    buy(shop, loyal, pos=paris, amount="30.00")
    buy(shop, loyal, pos=paris, amount="30.00")
    buy(shop, loyal, pos=lyon, amount="30.00", status="pending")
    buy(shop, loyal, pos=lyon, amount="500.00", status="cancelled")
    half = customer(shop, "half")
    buy(shop, half, pos=paris, items=[{"product": shirt, "quantity": 1}])
    buy(shop, half, pos=lyon, items=[{"product": mug, "quantity": 1, "brand": "Globex"}])
    online = customer(shop, "online")
    buy(
        shop,
        online,
        items=[
            {
                "name": "Gift card",
                "unit_price": Decimal("25"),
                "quantity": 1,
                "brand": "ACME",
                "sku": "GIFT",
            }
        ],
    )
    cancelled = customer(shop, "cancelled")
    buy(shop, cancelled, pos=paris, status="cancelled", items=[{"product": shirt, "quantity": 1}])
    customer(shop, "none")
    return {"paris": paris, "lyon": lyon, "shirt": shirt, "mug": mug}


def test_transaction_count_counts_every_status_but_cancelled_and_refunded(shop, buyers):
    assert names(shop, {"type": "transaction_count", "min": 3}) == ["loyal"]
    assert names(shop, {"type": "transaction_count", "max": 0}) == ["cancelled", "none"]


def test_amounts_of_thirty_digits_compare_exactly(shop, buyers):
    huge = "9" * 28 + ".99"
    everyone = names(shop, {"type": "transaction_count", "min": 0})
    assert len(everyone) == 5
    assert names(shop, cond("lifetime_spend", "<", huge)) == everyone
    assert names(shop, {"type": "transaction_amount", "fromAmount": huge}) == []
    tiny = "0.00" + "9" * 30  # just below one cent
    assert names(shop, cond("lifetime_spend", "=", tiny)) == []


def test_transaction_amount_is_zero_without_orders(shop, buyers):
    assert names(shop, {"type": "transaction_amount", "toAmount": "0"}) == ["cancelled", "none"]
    assert names(shop, {"type": "transaction_amount", "fromAmount": 90, "toAmount": 90}) == [
        "loyal"
    ]


def test_average_transaction_amount_needs_orders(shop, buyers):
    assert names(shop, {"type": "average_transaction_amount", "to_amount": "7.50"}) == ["half"]
    assert names(shop, {"type": "average_transaction_amount", "from_amount": 0}) == [
        "half",
        "loyal",
        "online",
    ]


def test_bought_in_pos_by_id_or_code(shop, buyers):
    assert names(shop, {"type": "bought_in_pos", "posIds": [str(buyers["lyon"].pk)]}) == [
        "half",
        "loyal",
    ]
    assert names(shop, {"type": "bought_in_pos", "pos_ids": ["PAR1"]}) == ["half", "loyal"]


def test_bought_makers_ignores_case_and_reads_the_item_brand_first(shop, buyers):
    # half's mug line says Globex (the product has no brand); online's line says ACME.
    assert names(shop, {"type": "bought_makers", "makers": ["acme"]}) == ["half", "online"]
    assert names(shop, {"type": "bought_makers", "makers": ["GLOBEX"]}) == ["half"]


def test_an_item_without_a_brand_takes_its_products(shop, buyers):
    with account_scope(shop):
        from orders.models import OrderItem

        OrderItem.objects.filter(sku="TS-1").update(brand="")
    assert names(shop, {"type": "bought_makers", "makers": ["acme"]}) == ["half", "online"]


def test_bought_skus_is_exact(shop, buyers):
    assert names(shop, {"type": "bought_skus", "skuIds": ["TS-1"]}) == ["half"]
    assert names(shop, {"type": "bought_skus", "skus": ["ts-1", "MUG-1"]}) == []


def test_transaction_percent_in_pos_is_by_count_of_counted_orders(shop, buyers):
    paris = str(buyers["paris"].pk)
    # loyal: 2 of 3 counted orders at Paris; half: 1 of 2.
    assert names(shop, {"type": "transaction_percent_in_pos", "posId": paris, "percent": 50}) == [
        "half",
        "loyal",
    ]
    assert (
        names(shop, {"type": "transaction_percent_in_pos", "pos_id": "PAR1", "percent": "66.67"})
        == []
    )
    assert names(
        shop, {"type": "transaction_percent_in_pos", "pos_id": "PAR1", "percent": "66.66"}
    ) == ["loyal"]
    assert names(shop, {"type": "transaction_percent_in_pos", "posId": "LYO1", "percent": 0}) == [
        "half",
        "loyal",
        "online",
    ]


def test_last_purchase_n_days_before_starts_at_midnight_in_the_account_timezone(shop):
    start = local(TODAY - timedelta(days=3))
    buy(shop, customer(shop, "at midnight"), at=start)
    buy(shop, customer(shop, "a second before"), at=start - timedelta(seconds=1))
    refunded = customer(shop, "refunded")
    buy(shop, refunded, at=local(TODAY), status="refunded")
    assert names(shop, {"type": "last_purchase_n_days_before", "days": 3}) == ["at midnight"]


def test_purchase_period_includes_both_days(shop):
    buy(shop, customer(shop, "first day"), at=local(date(2024, 1, 1)))
    buy(shop, customer(shop, "last day"), at=local(date(2024, 1, 31), 23, 59, 59))
    buy(shop, customer(shop, "after"), at=local(date(2024, 2, 1)))
    # 2024-01-01 00:30 UTC is still 31 December in Los Angeles.
    buy(shop, customer(shop, "before"), at=datetime(2024, 1, 1, 0, 30, tzinfo=UTC))
    rule = {"type": "purchase_period", "fromDate": "2024-01-01", "toDate": "2024-01-31"}
    assert names(shop, rule) == ["first day", "last day"]


def test_anniversaries_count_29_february_as_28_february_in_common_years(account):
    customer(account, "leapling", date_of_birth=date(2000, 2, 29))
    customer(account, "first of march", date_of_birth=date(1990, 3, 1))
    rule = {"type": "anniversary", "anniversaryType": "birthday", "days": 0}
    assert names(account, rule, today=date(2023, 2, 28)) == ["leapling"]
    assert names(account, rule, today=date(2024, 2, 28)) == []
    assert names(account, rule, today=date(2024, 2, 29)) == ["leapling"]
    assert names(account, rule, today=date(2024, 3, 1)) == ["first of march"]


def test_anniversaries_run_across_the_year_end(account):
    customer(account, "new year", date_of_birth=date(1980, 1, 2))
    customer(account, "christmas", date_of_birth=date(1980, 12, 25))
    rule = {"type": "anniversary", "anniversary_type": "birthday", "days": 4}
    assert names(account, rule, today=date(2024, 12, 29)) == ["new year"]


def test_a_customer_registered_today_has_an_anniversary_today(shop):
    customer(shop, "new", created_at=local(TODAY, 23, 30))
    customer(shop, "tomorrow", created_at=local(TODAY + timedelta(days=1), 0, 0))
    rule = {"type": "anniversary", "anniversaryType": "registration", "days": 0}
    assert names(shop, rule) == ["new"]


# --- Groups, parts, tenancy, one query ----------------------------------------------------


def test_groups_combine_with_and_and_or(account):
    customer(account, "paris vip", city="Paris", tags=["vip"])
    customer(account, "paris", city="Paris")
    customer(account, "lyon vip", city="Lyon", tags=["vip"])
    rule = {
        "logic": "OR",
        "rules": [
            {
                "logic": "AND",
                "rules": [cond("city", "=", "paris"), cond("tags", "contains", "vip")],
            },
            cond("city", "=", "lyon"),
        ],
    }
    assert names(account, rule) == ["lyon vip", "paris vip"]


def test_open_loyalty_parts_are_and_over_parts_or_within(shop, buyers):
    parts = {
        "parts": [
            {
                "criteria": [
                    {"type": "bought_in_pos", "posIds": ["PAR1"]},
                    {"type": "transaction_count", "max": 0},
                ]
            },
            {"criteria": [{"type": "transaction_amount", "toAmount": 50}]},
        ]
    }
    assert names(shop, parts) == ["cancelled", "half", "none"]


def test_other_accounts_customers_never_match(account, other_account):
    customer(account, "mine")
    customer(other_account, "theirs")
    assert names(account, cond("first_name", "is_not_empty")) == ["mine"]


def test_a_rule_is_one_query(shop, buyers):
    rule = validate_rule(
        {
            "logic": "AND",
            "rules": [
                cond("email", "is_not_empty"),
                {
                    "logic": "OR",
                    "rules": [
                        {"type": "bought_skus", "skus": ["TS-1"]},
                        {"type": "bought_in_pos", "posIds": ["PAR1"]},
                    ],
                },
                {"type": "transaction_percent_in_pos", "posId": "LYO1", "percent": 10},
            ],
        }
    )
    with account_scope(shop), CaptureQueriesContext(connection) as queries:
        assert matching_customers(shop, rule, today=TODAY).count() == 2
    assert len(queries) == 1
    assert count(shop, rule, today=TODAY) == 2
