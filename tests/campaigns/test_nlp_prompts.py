"""A table of varied prompts, as a user would type them, with the rule each gives
(normalized, as the validator answers it). Each is understood whole: nothing is left
unparsed."""

from datetime import date

import pytest

from campaigns.nlp import offline_parse
from segments.rules import validate_rule
from tests.campaigns.rules import AND, OR, UK, c, k

TODAY = date(2025, 6, 15)

PROMPTS = [
    (
        "Customers in Paris who spent over 500 and ordered in the last 90 days",
        AND(
            c("city", "=", "Paris"),
            c("lifetime_spend", ">", "500.00"),
            c("last_order_date", "within_last_days", 90),
        ),
    ),
    (
        "customers who spent over 1.5k in the last 6 months",
        AND(c("lifetime_spend", ">", "1500.00"), c("last_order_date", "within_last_days", 180)),
    ),
    ("customers that spent €200 or more on orders", AND(c("lifetime_spend", ">=", "200.00"))),
    (
        "spent between 100 and 500 euros and live in Lyon",
        AND(c("lifetime_spend", "between", ["100.00", "500.00"]), c("city", "=", "Lyon")),
    ),
    (
        "customers who ordered in the last 2 weeks",
        AND(c("last_order_date", "within_last_days", 14)),
    ),
    ("everyone who has ordered since March 2024", AND(c("last_order_date", ">=", "2024-03-01"))),
    ("all customers not in London", AND(c("city", "!=", "London"))),
    (
        "women aged 25 to 34 in Paris",
        AND(
            c("gender", "=", "female"),
            c("date_of_birth", "between", ["1990-06-16", "2000-06-15"]),
            c("city", "=", "Paris"),
        ),
    ),
    ("customers tagged vip or gold", AND(c("tags", "in", ["vip", "gold"]))),
    ("customers who opted in to sms", AND(c("sms_opt_in", "=", True))),
    ("inactive customers", AND(c("status", "=", "inactive"))),
    ("customers whose tier is gold", AND(c("metadata.tier", "=", "gold"))),
    (
        "customers who haven't ordered in 6 months",
        AND(c("last_order_date", "more_than_days_ago", 180)),
    ),
    ("customers with more than 3 orders", AND(c("total_orders", ">", 3))),
    ("customers with an average order above 80", AND(c("average_order_value", ">", "80.00"))),
    (
        "men over 40 from Germany",
        AND(
            c("gender", "=", "male"),
            c("date_of_birth", "<=", "1984-06-15"),
            c("country", "in", ["DE", "Germany", "Deutschland"]),
        ),
    ),
    (
        "clients from Belgium or the Netherlands who spent at least €2,000",
        AND(
            c(
                "country",
                "in",
                [
                    "BE",
                    "Belgium",
                    "Belgique",
                    "België",
                    "NL",
                    "Netherlands",
                    "The Netherlands",
                    "Holland",
                ],
            ),
            c("lifetime_spend", ">=", "2000.00"),
        ),
    ),
    (
        "customers in Madrid who haven't bought anything in the last 3 months",
        AND(c("city", "=", "Madrid"), c("last_order_date", "more_than_days_ago", 90)),
    ),
    (
        "female customers under 30 who opted in to email",
        AND(
            c("gender", "=", "female"),
            c("date_of_birth", ">", "1995-06-15"),
            c("email_opt_in", "=", True),
        ),
    ),
    (
        "VIP customers in New York who spent over $10k",
        AND(
            c("tags", "contains", "vip"),
            c("city", "in", ["New York", "New York City", "NYC"]),
            c("lifetime_spend", ">", "10000.00"),
        ),
    ),
    (
        "customers who bought twice or more in the last 60 days",
        AND(c("total_orders", ">=", 2), c("last_order_date", "within_last_days", 60)),
    ),
    (
        "customers who made at least one purchase this year",
        AND(c("total_orders", ">=", 1), c("last_order_date", ">=", "2025-01-01")),
    ),
    (
        "customers whose last purchase was more than a year ago and who spent over 1000",
        AND(c("last_order_date", "more_than_days_ago", 365), c("lifetime_spend", ">", "1000.00")),
    ),
    (
        "customers who joined in the last 7 days and haven't ordered yet",
        AND(c("created_at", "within_last_days", 7), c("total_orders", "=", 0)),
    ),
    (
        "customers with a birthday this week",
        AND(k("anniversary", anniversary_type="birthday", days=7)),
    ),
    (
        "customers born in the 90s living in Berlin",
        AND(c("date_of_birth", "between", ["1990-01-01", "1999-12-31"]), c("city", "=", "Berlin")),
    ),
    (
        "business customers with more than 10 orders",
        AND(c("type", "=", "business"), c("total_orders", ">", 10)),
    ),
    ("customers who are not subscribed to sms", AND(c("sms_opt_in", "=", False))),
    ("customers that never purchased", AND(c("total_orders", "=", 0))),
    (
        "customers whose loyalty tier is platinum and who have over 1000 points",
        AND(c("metadata.loyalty_tier", "=", "platinum"), c("loyalty_points", ">", "1000.00")),
    ),
    (
        "customers tagged newsletter but not tagged promo",
        AND(c("tags", "contains", "newsletter"), c("tags", "not_contains", "promo")),
    ),
    ("customers with no email address", AND(c("email", "is_empty"))),
    (
        "customers in Toulouse, Lille or Marseille",
        AND(c("city", "in", ["Toulouse", "Lille", "Marseille", "Marseilles"])),
    ),
    (
        "customers outside the US who spent under 100",
        AND(
            c("country", "not_in", ["US", "United States", "USA", "United States of America"]),
            c("lifetime_spend", "<", "100.00"),
        ),
    ),
    (
        "customers who spent more than 5000 in the last year and ordered at least 3 times",
        AND(
            c("lifetime_spend", ">", "5000.00"),
            c("total_orders", ">=", 3),
            c("last_order_date", "within_last_days", 365),
        ),
    ),
    (
        "repeat buyers with an average basket over €60",
        AND(c("total_orders", ">=", 2), c("average_order_value", ">", "60.00")),
    ),
    (
        "customers aged 18 to 25 who signed up in the last month",
        AND(
            c("date_of_birth", "between", ["1999-06-16", "2007-06-15"]),
            c("created_at", "within_last_days", 30),
        ),
    ),
    ("customers who ordered between 2 and 5 times", AND(c("total_orders", "between", [2, 5]))),
    (
        "customers who bought from Acme in 2024",
        AND(
            k("bought_makers", makers=["Acme"]),
            k("purchase_period", from_date="2024-01-01", to_date="2024-12-31"),
        ),
    ),
    ("customers whose email ends with @example.com", AND(c("email", "ends_with", "@example.com"))),
    ("customers whose city is Chicago or Austin", AND(c("city", "in", ["Chicago", "Austin"]))),
    ("customers in Casablanca", AND(c("city", "=", "Casablanca"))),
    (
        "lapsed VIP customers",
        AND(c("last_order_date", "more_than_days_ago", 90), c("tags", "contains", "vip")),
    ),
    (
        "customers who have been customers for more than 3 years",
        AND(c("created_at", "more_than_days_ago", 1095)),
    ),
    ("customers who registered since January 2024", AND(c("created_at", ">=", "2024-01-01"))),
    (
        "customers with a phone number who opted in to sms",
        AND(c("phone", "is_not_empty"), c("sms_opt_in", "=", True)),
    ),
    (
        "blocked customers in Spain",
        AND(c("status", "=", "blocked"), c("country", "in", ["ES", "Spain", "España"])),
    ),
    (
        "customers who spent over 300 or are tagged loyal",
        OR(c("lifetime_spend", ">", "300.00"), c("tags", "contains", "loyal")),
    ),
    (
        "customers in Milan or Rome who are over 50",
        AND(
            c("city", "in", ["Milan", "Milano", "Rome", "Roma"]),
            c("date_of_birth", "<=", "1974-06-15"),
        ),
    ),
    ("customers who have spent less than €50 in total", AND(c("lifetime_spend", "<", "50.00"))),
    ("customers who last ordered before 2024-01-01", AND(c("last_order_date", "<", "2024-01-01"))),
    (
        "customers with at least 5 orders and a lifetime spend over 2000",
        AND(c("total_orders", ">=", 5), c("lifetime_spend", ">", "2000.00")),
    ),
    (
        "customers who ordered in the last 30 days but are not tagged student",
        AND(c("last_order_date", "within_last_days", 30), c("tags", "not_contains", "student")),
    ),
    ("customers from the United Kingdom", AND(c("country", "in", UK))),
    ("customers in Montreal", AND(c("city", "in", ["Montréal", "Montreal"]))),
    ("customers whose favourite color is blue", AND(c("metadata.favourite_color", "=", "blue"))),
    ("customers with 500+ loyalty points", AND(c("loyalty_points", ">=", "500.00"))),
    (
        "customers who are women or live in Paris",
        OR(c("gender", "=", "female"), c("city", "=", "Paris")),
    ),
    (
        "men and women in their 40s",
        AND(
            c("gender", "in", ["male", "female"]),
            c("date_of_birth", "between", ["1975-06-16", "1985-06-15"]),
        ),
    ),
    (
        "customers not opted in to email who live in Amsterdam",
        AND(c("email_opt_in", "=", False), c("city", "=", "Amsterdam")),
    ),
]


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS, ids=[p for p, _ in PROMPTS])
def test_prompt_gives_its_rule_and_leaves_nothing_unparsed(prompt, expected):
    result = offline_parse(prompt, today=TODAY)

    assert result.rules == expected
    assert result.unparsed == []
    assert validate_rule(result.rules) == result.rules
