"""A table of varied prompts, as a user would type them, with the rule each gives
(normalized, as the validator answers it). Each is understood whole: nothing is left
unparsed."""

from datetime import date

import pytest

from campaigns.nlp import offline_parse
from segments.rules import validate_rule

TODAY = date(2025, 6, 15)

PROMPTS = [
    (
        "Customers in Paris who spent over 500 and ordered in the last 90 days",
        {
            "logic": "AND",
            "rules": [
                {"field": "city", "operator": "=", "value": "Paris"},
                {"field": "lifetime_spend", "operator": ">", "value": "500.00"},
                {"field": "last_order_date", "operator": "within_last_days", "value": 90},
            ],
        },
    ),
    (
        "customers who spent over 1.5k in the last 6 months",
        {
            "logic": "AND",
            "rules": [
                {"field": "lifetime_spend", "operator": ">", "value": "1500.00"},
                {"field": "last_order_date", "operator": "within_last_days", "value": 180},
            ],
        },
    ),
    (
        "customers that spent €200 or more on orders",
        {
            "logic": "AND",
            "rules": [{"field": "lifetime_spend", "operator": ">=", "value": "200.00"}],
        },
    ),
    (
        "spent between 100 and 500 euros and live in Lyon",
        {
            "logic": "AND",
            "rules": [
                {"field": "lifetime_spend", "operator": "between", "value": ["100.00", "500.00"]},
                {"field": "city", "operator": "=", "value": "Lyon"},
            ],
        },
    ),
    (
        "customers who ordered in the last 2 weeks",
        {
            "logic": "AND",
            "rules": [{"field": "last_order_date", "operator": "within_last_days", "value": 14}],
        },
    ),
    (
        "everyone who has ordered since March 2024",
        {
            "logic": "AND",
            "rules": [{"field": "last_order_date", "operator": ">=", "value": "2024-03-01"}],
        },
    ),
    (
        "all customers not in London",
        {"logic": "AND", "rules": [{"field": "city", "operator": "!=", "value": "London"}]},
    ),
    (
        "women aged 25 to 34 in Paris",
        {
            "logic": "AND",
            "rules": [
                {"field": "gender", "operator": "=", "value": "female"},
                {
                    "field": "date_of_birth",
                    "operator": "between",
                    "value": ["1990-06-16", "2000-06-15"],
                },
                {"field": "city", "operator": "=", "value": "Paris"},
            ],
        },
    ),
    (
        "customers tagged vip or gold",
        {"logic": "AND", "rules": [{"field": "tags", "operator": "in", "value": ["vip", "gold"]}]},
    ),
    (
        "customers who opted in to sms",
        {"logic": "AND", "rules": [{"field": "sms_opt_in", "operator": "=", "value": True}]},
    ),
    (
        "inactive customers",
        {"logic": "AND", "rules": [{"field": "status", "operator": "=", "value": "inactive"}]},
    ),
    (
        "customers whose tier is gold",
        {"logic": "AND", "rules": [{"field": "metadata.tier", "operator": "=", "value": "gold"}]},
    ),
    (
        "customers who haven't ordered in 6 months",
        {
            "logic": "AND",
            "rules": [{"field": "last_order_date", "operator": "more_than_days_ago", "value": 180}],
        },
    ),
    (
        "customers with more than 3 orders",
        {"logic": "AND", "rules": [{"field": "total_orders", "operator": ">", "value": 3}]},
    ),
    (
        "customers with an average order above 80",
        {
            "logic": "AND",
            "rules": [{"field": "average_order_value", "operator": ">", "value": "80.00"}],
        },
    ),
    (
        "men over 40 from Germany",
        {
            "logic": "AND",
            "rules": [
                {"field": "gender", "operator": "=", "value": "male"},
                {"field": "date_of_birth", "operator": "<=", "value": "1984-06-15"},
                {"field": "country", "operator": "in", "value": ["DE", "Germany", "Deutschland"]},
            ],
        },
    ),
    (
        "clients from Belgium or the Netherlands who spent at least €2,000",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "country",
                    "operator": "in",
                    "value": [
                        "BE",
                        "Belgium",
                        "Belgique",
                        "België",
                        "NL",
                        "Netherlands",
                        "The Netherlands",
                        "Holland",
                    ],
                },
                {"field": "lifetime_spend", "operator": ">=", "value": "2000.00"},
            ],
        },
    ),
    (
        "customers in Madrid who haven't bought anything in the last 3 months",
        {
            "logic": "AND",
            "rules": [
                {"field": "city", "operator": "=", "value": "Madrid"},
                {"field": "last_order_date", "operator": "more_than_days_ago", "value": 90},
            ],
        },
    ),
    (
        "female customers under 30 who opted in to email",
        {
            "logic": "AND",
            "rules": [
                {"field": "gender", "operator": "=", "value": "female"},
                {"field": "date_of_birth", "operator": ">", "value": "1995-06-15"},
                {"field": "email_opt_in", "operator": "=", "value": True},
            ],
        },
    ),
    (
        "VIP customers in New York who spent over $10k",
        {
            "logic": "AND",
            "rules": [
                {"field": "tags", "operator": "contains", "value": "vip"},
                {"field": "city", "operator": "in", "value": ["New York", "New York City", "NYC"]},
                {"field": "lifetime_spend", "operator": ">", "value": "10000.00"},
            ],
        },
    ),
    (
        "customers who bought twice or more in the last 60 days",
        {
            "logic": "AND",
            "rules": [
                {"field": "total_orders", "operator": ">=", "value": 2},
                {"field": "last_order_date", "operator": "within_last_days", "value": 60},
            ],
        },
    ),
    (
        "customers who made at least one purchase this year",
        {
            "logic": "AND",
            "rules": [
                {"field": "total_orders", "operator": ">=", "value": 1},
                {"field": "last_order_date", "operator": ">=", "value": "2025-01-01"},
            ],
        },
    ),
    (
        "customers whose last purchase was more than a year ago and who spent over 1000",
        {
            "logic": "AND",
            "rules": [
                {"field": "last_order_date", "operator": "more_than_days_ago", "value": 365},
                {"field": "lifetime_spend", "operator": ">", "value": "1000.00"},
            ],
        },
    ),
    (
        "customers who joined in the last 7 days and haven't ordered yet",
        {
            "logic": "AND",
            "rules": [
                {"field": "created_at", "operator": "within_last_days", "value": 7},
                {"field": "total_orders", "operator": "=", "value": 0},
            ],
        },
    ),
    (
        "customers with a birthday this week",
        {
            "logic": "AND",
            "rules": [{"type": "anniversary", "anniversary_type": "birthday", "days": 7}],
        },
    ),
    (
        "customers born in the 90s living in Berlin",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "date_of_birth",
                    "operator": "between",
                    "value": ["1990-01-01", "1999-12-31"],
                },
                {"field": "city", "operator": "=", "value": "Berlin"},
            ],
        },
    ),
    (
        "business customers with more than 10 orders",
        {
            "logic": "AND",
            "rules": [
                {"field": "type", "operator": "=", "value": "business"},
                {"field": "total_orders", "operator": ">", "value": 10},
            ],
        },
    ),
    (
        "customers who are not subscribed to sms",
        {"logic": "AND", "rules": [{"field": "sms_opt_in", "operator": "=", "value": False}]},
    ),
    (
        "customers that never purchased",
        {"logic": "AND", "rules": [{"field": "total_orders", "operator": "=", "value": 0}]},
    ),
    (
        "customers whose loyalty tier is platinum and who have over 1000 points",
        {
            "logic": "AND",
            "rules": [
                {"field": "metadata.loyalty_tier", "operator": "=", "value": "platinum"},
                {"field": "loyalty_points", "operator": ">", "value": "1000.00"},
            ],
        },
    ),
    (
        "customers tagged newsletter but not tagged promo",
        {
            "logic": "AND",
            "rules": [
                {"field": "tags", "operator": "contains", "value": "newsletter"},
                {"field": "tags", "operator": "not_contains", "value": "promo"},
            ],
        },
    ),
    (
        "customers with no email address",
        {"logic": "AND", "rules": [{"field": "email", "operator": "is_empty", "value": None}]},
    ),
    (
        "customers in Toulouse, Lille or Marseille",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "city",
                    "operator": "in",
                    "value": ["Toulouse", "Lille", "Marseille", "Marseilles"],
                }
            ],
        },
    ),
    (
        "customers outside the US who spent under 100",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "country",
                    "operator": "not_in",
                    "value": ["US", "United States", "USA", "United States of America"],
                },
                {"field": "lifetime_spend", "operator": "<", "value": "100.00"},
            ],
        },
    ),
    (
        "customers who spent more than 5000 in the last year and ordered at least 3 times",
        {
            "logic": "AND",
            "rules": [
                {"field": "lifetime_spend", "operator": ">", "value": "5000.00"},
                {"field": "total_orders", "operator": ">=", "value": 3},
                {"field": "last_order_date", "operator": "within_last_days", "value": 365},
            ],
        },
    ),
    (
        "repeat buyers with an average basket over €60",
        {
            "logic": "AND",
            "rules": [
                {"field": "total_orders", "operator": ">=", "value": 2},
                {"field": "average_order_value", "operator": ">", "value": "60.00"},
            ],
        },
    ),
    (
        "customers aged 18 to 25 who signed up in the last month",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "date_of_birth",
                    "operator": "between",
                    "value": ["1999-06-16", "2007-06-15"],
                },
                {"field": "created_at", "operator": "within_last_days", "value": 30},
            ],
        },
    ),
    (
        "customers who ordered between 2 and 5 times",
        {
            "logic": "AND",
            "rules": [{"field": "total_orders", "operator": "between", "value": [2, 5]}],
        },
    ),
    (
        "customers who bought from Acme in 2024",
        {
            "logic": "AND",
            "rules": [
                {"type": "bought_makers", "makers": ["Acme"]},
                {"type": "purchase_period", "from_date": "2024-01-01", "to_date": "2024-12-31"},
            ],
        },
    ),
    (
        "customers whose email ends with @example.com",
        {
            "logic": "AND",
            "rules": [{"field": "email", "operator": "ends_with", "value": "@example.com"}],
        },
    ),
    (
        "customers whose city is Chicago or Austin",
        {
            "logic": "AND",
            "rules": [{"field": "city", "operator": "in", "value": ["Chicago", "Austin"]}],
        },
    ),
    (
        "customers in Casablanca",
        {"logic": "AND", "rules": [{"field": "city", "operator": "=", "value": "Casablanca"}]},
    ),
    (
        "lapsed VIP customers",
        {
            "logic": "AND",
            "rules": [
                {"field": "last_order_date", "operator": "more_than_days_ago", "value": 90},
                {"field": "tags", "operator": "contains", "value": "vip"},
            ],
        },
    ),
    (
        "customers who have been customers for more than 3 years",
        {
            "logic": "AND",
            "rules": [{"field": "created_at", "operator": "more_than_days_ago", "value": 1095}],
        },
    ),
    (
        "customers who registered since January 2024",
        {
            "logic": "AND",
            "rules": [{"field": "created_at", "operator": ">=", "value": "2024-01-01"}],
        },
    ),
    (
        "customers with a phone number who opted in to sms",
        {
            "logic": "AND",
            "rules": [
                {"field": "phone", "operator": "is_not_empty", "value": None},
                {"field": "sms_opt_in", "operator": "=", "value": True},
            ],
        },
    ),
    (
        "blocked customers in Spain",
        {
            "logic": "AND",
            "rules": [
                {"field": "status", "operator": "=", "value": "blocked"},
                {"field": "country", "operator": "in", "value": ["ES", "Spain", "España"]},
            ],
        },
    ),
    (
        "customers who spent over 300 or are tagged loyal",
        {
            "logic": "OR",
            "rules": [
                {"field": "lifetime_spend", "operator": ">", "value": "300.00"},
                {"field": "tags", "operator": "contains", "value": "loyal"},
            ],
        },
    ),
    (
        "customers in Milan or Rome who are over 50",
        {
            "logic": "AND",
            "rules": [
                {"field": "city", "operator": "in", "value": ["Milan", "Milano", "Rome", "Roma"]},
                {"field": "date_of_birth", "operator": "<=", "value": "1974-06-15"},
            ],
        },
    ),
    (
        "customers who have spent less than €50 in total",
        {"logic": "AND", "rules": [{"field": "lifetime_spend", "operator": "<", "value": "50.00"}]},
    ),
    (
        "customers who last ordered before 2024-01-01",
        {
            "logic": "AND",
            "rules": [{"field": "last_order_date", "operator": "<", "value": "2024-01-01"}],
        },
    ),
    (
        "customers with at least 5 orders and a lifetime spend over 2000",
        {
            "logic": "AND",
            "rules": [
                {"field": "total_orders", "operator": ">=", "value": 5},
                {"field": "lifetime_spend", "operator": ">", "value": "2000.00"},
            ],
        },
    ),
    (
        "customers who ordered in the last 30 days but are not tagged student",
        {
            "logic": "AND",
            "rules": [
                {"field": "last_order_date", "operator": "within_last_days", "value": 30},
                {"field": "tags", "operator": "not_contains", "value": "student"},
            ],
        },
    ),
    (
        "customers from the United Kingdom",
        {
            "logic": "AND",
            "rules": [
                {
                    "field": "country",
                    "operator": "in",
                    "value": [
                        "GB",
                        "United Kingdom",
                        "UK",
                        "Great Britain",
                        "England",
                        "Scotland",
                        "Wales",
                        "Northern Ireland",
                    ],
                }
            ],
        },
    ),
    (
        "customers in Montreal",
        {
            "logic": "AND",
            "rules": [{"field": "city", "operator": "in", "value": ["Montréal", "Montreal"]}],
        },
    ),
    (
        "customers whose favourite color is blue",
        {
            "logic": "AND",
            "rules": [{"field": "metadata.favourite_color", "operator": "=", "value": "blue"}],
        },
    ),
    (
        "customers with 500+ loyalty points",
        {
            "logic": "AND",
            "rules": [{"field": "loyalty_points", "operator": ">=", "value": "500.00"}],
        },
    ),
    (
        "customers who are women or live in Paris",
        {
            "logic": "OR",
            "rules": [
                {"field": "gender", "operator": "=", "value": "female"},
                {"field": "city", "operator": "=", "value": "Paris"},
            ],
        },
    ),
    (
        "men and women in their 40s",
        {
            "logic": "AND",
            "rules": [
                {"field": "gender", "operator": "in", "value": ["male", "female"]},
                {
                    "field": "date_of_birth",
                    "operator": "between",
                    "value": ["1975-06-16", "1985-06-15"],
                },
            ],
        },
    ),
    (
        "customers not opted in to email who live in Amsterdam",
        {
            "logic": "AND",
            "rules": [
                {"field": "email_opt_in", "operator": "=", "value": False},
                {"field": "city", "operator": "=", "value": "Amsterdam"},
            ],
        },
    ),
]


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS, ids=[p for p, _ in PROMPTS])
def test_prompt_gives_its_rule_and_leaves_nothing_unparsed(prompt, expected):
    result = offline_parse(prompt, today=TODAY)

    assert result.rules == expected
    assert result.unparsed == []
    assert validate_rule(result.rules) == result.rules
