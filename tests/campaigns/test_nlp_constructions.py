"""Each construction of the segment grammar, on its own: what it reads and the rule it
gives. Expected rules are written as a client would and normalized by the validator,
so they compare with what the parser answers."""

from datetime import date

import pytest

from campaigns.nlp import offline_parse
from segments.rules import validate_rule
from tests.campaigns.rules import AND, FRANCE, OR, UK, c, k

TODAY = date(2025, 6, 15)


def parse(prompt, **kwargs):
    return offline_parse(prompt, today=TODAY, **kwargs)


def expected_rule(expected):
    if isinstance(expected, list):
        expected = AND(*expected)
    return validate_rule(expected)


def check(prompt, expected):
    result = parse(prompt)
    assert result.rules == expected_rule(expected), result.explanation
    assert result.unparsed == []


NUMBERS = [
    ("spent over 1.5k", [c("lifetime_spend", ">", 1500)]),
    ("spent over €200", [c("lifetime_spend", ">", 200)]),
    ("spent more than 2,500€", [c("lifetime_spend", ">", 2500)]),
    ("spent 300 EUR or more", [c("lifetime_spend", ">=", 300)]),
    ("spent at least $1,000.50", [c("lifetime_spend", ">=", "1000.50")]),
    ("spent over five hundred", [c("lifetime_spend", ">", 500)]),
    ("spent over 2 grand", [c("lifetime_spend", ">", 2000)]),
    ("spent over 1m", [c("lifetime_spend", ">", 1000000)]),
    ("spent more than 500 dollars", [c("lifetime_spend", ">", 500)]),
    ("spent £50", [c("lifetime_spend", ">=", 50)]),
]
COMPARATORS = [
    ("spent less than 50", [c("lifetime_spend", "<", 50)]),
    ("spent under $100 in total", [c("lifetime_spend", "<", 100)]),
    ("spent at most 200 euros", [c("lifetime_spend", "<=", 200)]),
    ("spent no more than 200", [c("lifetime_spend", "<=", 200)]),
    ("spent > 500", [c("lifetime_spend", ">", 500)]),
    ("spent between 100 and 500 euros", [c("lifetime_spend", "between", [100, 500])]),
    ("spent from 100 to 200", [c("lifetime_spend", "between", [100, 200])]),
    ("spent 1k-2k", [c("lifetime_spend", "between", [1000, 2000])]),
    ("spent 1.5k+", [c("lifetime_spend", ">=", 1500)]),
    ("with exactly 2 orders", [c("total_orders", "=", 2)]),
    ("with fewer than 2 orders", [c("total_orders", "<", 2)]),
]
WINDOWS = [
    ("ordered in the last 90 days", [c("last_order_date", "within_last_days", 90)]),
    ("ordered in the last 2 weeks", [c("last_order_date", "within_last_days", 14)]),
    ("ordered in the past 6 months", [c("last_order_date", "within_last_days", 180)]),
    ("ordered in the last year", [c("last_order_date", "within_last_days", 365)]),
    ("ordered in the last 12 months", [c("last_order_date", "within_last_days", 365)]),
    ("ordered within 30 days", [c("last_order_date", "within_last_days", 30)]),
    ("bought last month", [c("last_order_date", "within_last_days", 30)]),
    ("shopped recently", [c("last_order_date", "within_last_days", 30)]),
    ("placed an order in the last week", [c("last_order_date", "within_last_days", 7)]),
    ("ordered this year", [c("last_order_date", ">=", "2025-01-01")]),
    ("last ordered more than 90 days ago", [c("last_order_date", "more_than_days_ago", 90)]),
    ("ordered since March 2024", [c("last_order_date", ">=", "2024-03-01")]),
    ("ordered since 2024-03-01", [c("last_order_date", ">=", "2024-03-01")]),
    ("ordered after 15 March 2024", [c("last_order_date", ">", "2024-03-15")]),
    ("ordered before 2023", [c("first_order_date", "<", "2023-01-01")]),
    ("bought in 2023", [k("purchase_period", from_date="2023-01-01", to_date="2023-12-31")]),
    (
        "ordered between January 2024 and March 2024",
        [k("purchase_period", from_date="2024-01-01", to_date="2024-03-31")],
    ),
    ("ordered on 2024-03-01", [k("purchase_period", from_date="2024-03-01", to_date="2024-03-01")]),
    ("ordered in March", [k("purchase_period", from_date="2025-03-01", to_date="2025-03-31")]),
]
NEGATIONS = [
    ("customers not in London", [c("city", "!=", "London")]),
    ("customers who are not tagged vip", [c("tags", "not_contains", "vip")]),
    (
        "customers who haven't ordered in 6 months",
        [c("last_order_date", "more_than_days_ago", 180)],
    ),
    (
        "customers who haven't ordered for more than 90 days",
        [c("last_order_date", "more_than_days_ago", 90)],
    ),
    ("customers who haven't purchased since 2023-12-01", [c("last_order_date", "<", "2023-12-01")]),
    ("customers who never ordered", [c("total_orders", "=", 0)]),
    ("customers with no orders", [c("total_orders", "=", 0)]),
    ("customers who have not spent more than 100", [c("lifetime_spend", "<=", 100)]),
    ("customers in Lyon who are not women", [c("city", "=", "Lyon"), c("gender", "!=", "female")]),
    ("customers not opted in to email", [c("email_opt_in", "=", False)]),
    ("customers outside France", [c("country", "not_in", FRANCE)]),
    ("customers not from the UK", [c("country", "not_in", UK)]),
    ("excluding blocked customers", [c("status", "!=", "blocked")]),
    (
        "customers in France but not in Paris",
        [c("country", "in", FRANCE), c("city", "!=", "Paris")],
    ),
    (
        "customers not aged 25 to 34",
        OR(c("date_of_birth", "<", "1990-06-16"), c("date_of_birth", ">", "2000-06-15")),
    ),
    (
        "spent over 1000 but not in the last 6 months",
        [c("lifetime_spend", ">", 1000), c("last_order_date", "more_than_days_ago", 180)],
    ),
]
CONNECTORS = [
    (
        "spent over 500 or ordered more than 5 times",
        OR(c("lifetime_spend", ">", 500), c("total_orders", ">", 5)),
    ),
    (
        "spent over 500 and ordered at least 3 times or tagged vip",
        [
            c("lifetime_spend", ">", 500),
            OR(c("total_orders", ">=", 3), c("tags", "contains", "vip")),
        ],
    ),
    (
        "spent over 500, ordered at least twice, or are tagged vip",
        OR(c("lifetime_spend", ">", 500), c("total_orders", ">=", 2), c("tags", "contains", "vip")),
    ),
    (
        "customers in Paris, or customers who spent more than 1000",
        OR(c("city", "=", "Paris"), c("lifetime_spend", ">", 1000)),
    ),
    (
        "women in Paris or men in Lyon",
        OR(
            AND(c("gender", "=", "female"), c("city", "=", "Paris")),
            AND(c("gender", "=", "male"), c("city", "=", "Lyon")),
        ),
    ),
    (
        "in Paris who spent over 500 or ordered 3 times in the last year",
        [
            c("city", "=", "Paris"),
            OR(
                c("lifetime_spend", ">", 500),
                AND(c("total_orders", "=", 3), c("last_order_date", "within_last_days", 365)),
            ),
        ],
    ),
    (
        "tagged vip and spent over 500",
        [c("tags", "contains", "vip"), c("lifetime_spend", ">", 500)],
    ),
]
PLACES = [
    ("customers in Paris", [c("city", "=", "Paris")]),
    ("customers in paris", [c("city", "=", "Paris")]),
    ("customers from France", [c("country", "in", FRANCE)]),
    ("customers in the UK", [c("country", "in", UK)]),
    ("customers in Paris or Lyon", [c("city", "in", ["Paris", "Lyon"])]),
    ("customers in Paris and Lyon", [c("city", "in", ["Paris", "Lyon"])]),
    (
        "customers in Germany, Austria or Switzerland",
        [
            c(
                "country",
                "in",
                [
                    "DE",
                    "Germany",
                    "Deutschland",
                    "AT",
                    "Austria",
                    "Österreich",
                    "CH",
                    "Switzerland",
                    "Suisse",
                    "Schweiz",
                ],
            )
        ],
    ),
    ("customers living in new york", [c("city", "in", ["New York", "New York City", "NYC"])]),
    ("customers in Rio de Janeiro", [c("city", "=", "Rio de Janeiro")]),
    ("customers located in Springfield", [c("city", "=", "Springfield")]),
    ("customers living in smalltown", [c("city", "=", "smalltown")]),
    ('customers in "Saint-Denis"', [c("city", "=", "Saint-Denis")]),
    ("customers from Montréal or Toronto", [c("city", "in", ["Montréal", "Montreal", "Toronto"])]),
    ("customers based in california", [c("state", "in", ["CA", "California"])]),
    ("French customers", [c("country", "in", FRANCE)]),
    ("customers whose country is Spain", [c("country", "in", ["ES", "Spain", "España"])]),
    ("customers whose city is Paris or Lyon", [c("city", "in", ["Paris", "Lyon"])]),
]
GENDERS = [
    ("women", [c("gender", "=", "female")]),
    ("female customers", [c("gender", "=", "female")]),
    ("ladies in Paris", [c("gender", "=", "female"), c("city", "=", "Paris")]),
    ("men", [c("gender", "=", "male")]),
    ("women or men", [c("gender", "in", ["female", "male"])]),
    ("non-binary customers", [c("gender", "=", "other")]),
    ("customers whose gender is female", [c("gender", "=", "female")]),
]
AGES = [
    ("customers aged 25 to 34", [c("date_of_birth", "between", ["1990-06-16", "2000-06-15"])]),
    (
        "customers aged between 18 and 24",
        [c("date_of_birth", "between", ["2000-06-16", "2007-06-15"])],
    ),
    ("customers aged 30", [c("date_of_birth", "between", ["1994-06-16", "1995-06-15"])]),
    ("25-34 year olds", [c("date_of_birth", "between", ["1990-06-16", "2000-06-15"])]),
    (
        "between the ages of 30 and 40",
        [c("date_of_birth", "between", ["1984-06-16", "1995-06-15"])],
    ),
    ("customers over 40", [c("date_of_birth", "<=", "1984-06-15")]),
    ("customers aged over 40", [c("date_of_birth", "<=", "1984-06-15")]),
    ("customers older than 50", [c("date_of_birth", "<=", "1974-06-15")]),
    ("aged 65+", [c("date_of_birth", "<=", "1960-06-15")]),
    ("customers 40 years old and over", [c("date_of_birth", "<=", "1985-06-15")]),
    ("customers under 30", [c("date_of_birth", ">", "1995-06-15")]),
    ("customers younger than 25", [c("date_of_birth", ">", "2000-06-15")]),
    ("people in their 30s", [c("date_of_birth", "between", ["1985-06-16", "1995-06-15"])]),
    ("teenagers", [c("date_of_birth", "between", ["2005-06-16", "2012-06-15"])]),
    ("seniors", [c("date_of_birth", "<=", "1960-06-15")]),
    ("millennials", [c("date_of_birth", "between", ["1981-01-01", "1996-12-31"])]),
]
TAGS = [
    ("tagged vip", [c("tags", "contains", "vip")]),
    ("tagged vip or gold", [c("tags", "in", ["vip", "gold"])]),
    ("tagged wholesale, b2b or promo", [c("tags", "in", ["wholesale", "b2b", "promo"])]),
    ("tagged vip and gold", [c("tags", "contains", "vip"), c("tags", "contains", "gold")]),
    ('customers tagged "early adopter"', [c("tags", "contains", "early adopter")]),
    ("customers with the tag student", [c("tags", "contains", "student")]),
    ("#vip customers", [c("tags", "contains", "vip")]),
    ("vip customers", [c("tags", "contains", "vip")]),
    ("non-vip customers", [c("tags", "not_contains", "vip")]),
    ("customers whose tags include vip", [c("tags", "contains", "vip")]),
]
OPT_INS = [
    ("customers opted in to sms", [c("sms_opt_in", "=", True)]),
    ("customers who opted in", [c("email_opt_in", "=", True)]),
    (
        "customers subscribed to emails and sms",
        [c("email_opt_in", "=", True), c("sms_opt_in", "=", True)],
    ),
    ("customers who opted out of sms", [c("sms_opt_in", "=", False)]),
    ("customers who unsubscribed from email", [c("email_opt_in", "=", False)]),
    ("customers who accept text messages", [c("sms_opt_in", "=", True)]),
    ("email subscribers", [c("email_opt_in", "=", True)]),
    ("customers with sms opt-in", [c("sms_opt_in", "=", True)]),
    ("customers who signed up for the newsletter", [c("email_opt_in", "=", True)]),
    ("customers reachable by email", [c("email_opt_in", "=", True), c("email", "is_not_empty")]),
    ("customers whose sms opt-in is no", [c("sms_opt_in", "=", False)]),
]
STATUSES = [
    ("inactive customers", [c("status", "=", "inactive")]),
    ("active customers", [c("status", "=", "active")]),
    ("blocked or inactive customers", [c("status", "in", ["blocked", "inactive"])]),
    ("business customers", [c("type", "=", "business")]),
    ("B2B customers", [c("type", "=", "business")]),
    ("individual customers", [c("type", "=", "individual")]),
    ("customers active in the last 30 days", [c("last_order_date", "within_last_days", 30)]),
    ("customers inactive for 90 days", [c("last_order_date", "more_than_days_ago", 90)]),
    ("churned customers", [c("last_order_date", "more_than_days_ago", 365)]),
    ("lapsed customers", [c("last_order_date", "more_than_days_ago", 90)]),
    ("unassigned customers", [c("assigned_to", "is_empty")]),
    ("customers assigned to an agent", [c("assigned_to", "is_not_empty")]),
]
FIELDS = [
    ("customers whose tier is gold", [c("metadata.tier", "=", "gold")]),
    ("customers whose tier is not gold", [c("metadata.tier", "!=", "gold")]),
    (
        "customers whose loyalty tier is gold or silver",
        [c("metadata.loyalty_tier", "in", ["gold", "silver"])],
    ),
    ("customers whose score is over 50", [c("metadata.score", ">", 50)]),
    ("where segment_code = A1", [c("metadata.segment_code", "=", "A1")]),
    ("tier=gold", [c("metadata.tier", "=", "gold")]),
    ("customers whose email ends with @acme.com", [c("email", "ends_with", "@acme.com")]),
    ("customers whose zip starts with 75", [c("zip", "starts_with", "75")]),
    ("customers whose phone starts with +33", [c("phone", "starts_with", "+33")]),
    ("customers whose first name is John", [c("first_name", "=", "John")]),
    ("customers whose company contains Acme", [c("company", "contains", "Acme")]),
    ("customers with lifetime_spend >= 1000", [c("lifetime_spend", ">=", 1000)]),
    ("customers with status active", [c("status", "=", "active")]),
    ("customers with loyalty tier gold", [c("metadata.loyalty_tier", "=", "gold")]),
    ("customers whose vip level is 3", [c("metadata.vip_level", "=", 3)]),
    ("customers whose metadata tier is gold", [c("metadata.tier", "=", "gold")]),
    ("customers where metadata.tier = gold", [c("metadata.tier", "=", "gold")]),
]
COUNTS = [
    ("ordered at least 3 times", [c("total_orders", ">=", 3)]),
    ("ordered once", [c("total_orders", "=", 1)]),
    ("ordered twice", [c("total_orders", "=", 2)]),
    ("ordered more than once", [c("total_orders", ">", 1)]),
    ("ordered 3 to 5 times", [c("total_orders", "between", [3, 5])]),
    ("customers with more than 3 orders", [c("total_orders", ">", 3)]),
    ("customers who placed 5+ orders", [c("total_orders", ">=", 5)]),
    ("customers with 2-4 orders", [c("total_orders", "between", [2, 4])]),
    ("customers with between 2 and 4 purchases", [c("total_orders", "between", [2, 4])]),
    ("total orders over 5", [c("total_orders", ">", 5)]),
    ("customers with 0 orders", [c("total_orders", "=", 0)]),
    ("repeat customers", [c("total_orders", ">=", 2)]),
    ("one-time buyers", [c("total_orders", "=", 1)]),
    ("customers who ordered", [c("total_orders", ">=", 1)]),
]
MONEY = [
    ("spent over 500", [c("lifetime_spend", ">", 500)]),
    ("customers with LTV over 5000", [c("lifetime_spend", ">", 5000)]),
    ("customers with lifetime value above €10k", [c("lifetime_spend", ">", 10000)]),
    ("customers with over €500 spent", [c("lifetime_spend", ">", 500)]),
    ("customers who spent more than 500 per order", [c("average_order_value", ">", 500)]),
    ("customers spending on average over 100 per order", [c("average_order_value", ">", 100)]),
    ("average order above 80", [c("average_order_value", ">", 80)]),
    ("AOV > 100", [c("average_order_value", ">", 100)]),
    ("customers whose average basket is at least 50", [c("average_order_value", ">=", 50)]),
    ("aov between 50 and 100", [c("average_order_value", "between", [50, 100])]),
    ("customers with at least 100 loyalty points", [c("loyalty_points", ">=", 100)]),
    ("customers with points over 500", [c("loyalty_points", ">", 500)]),
]
ORDERS = [
    (
        "customers whose last order was over 6 months ago",
        [c("last_order_date", "more_than_days_ago", 180)],
    ),
    ("customers who first ordered before 2020", [c("first_order_date", "<", "2020-01-01")]),
    (
        "customers whose first purchase was in 2022",
        [c("first_order_date", "between", ["2022-01-01", "2022-12-31"])],
    ),
    ("customers who bought Nike", [k("bought_makers", makers=["Nike"])]),
    (
        "customers who purchased from Adidas or Puma",
        [k("bought_makers", makers=["Adidas", "Puma"])],
    ),
    ("customers who bought products from Acme", [k("bought_makers", makers=["Acme"])]),
    ("customers who bought sku ABC-123", [k("bought_skus", skus=["ABC-123"])]),
    (
        "customers who bought Nike in the last 30 days",
        [k("bought_makers", makers=["Nike"]), c("last_order_date", "within_last_days", 30)],
    ),
]
SIGN_UPS = [
    ("customers who joined in the last 30 days", [c("created_at", "within_last_days", 30)]),
    ("new customers", [c("created_at", "within_last_days", 30)]),
    ("customers who registered before 2023", [c("created_at", "<", "2023-01-01")]),
    ("customers who signed up this year", [c("created_at", ">=", "2025-01-01")]),
    (
        "customers who registered between 2020 and 2022",
        [c("created_at", "between", ["2020-01-01", "2022-12-31"])],
    ),
    (
        "customers who have been with us for over 2 years",
        [c("created_at", "more_than_days_ago", 730)],
    ),
    ("customers created more than a year ago", [c("created_at", "more_than_days_ago", 365)]),
    ("customers since 2020", [c("created_at", ">=", "2020-01-01")]),
]
BIRTHDAYS = [
    (
        "customers with a birthday in the next 7 days",
        [k("anniversary", anniversary_type="birthday", days=7)],
    ),
    ("customers whose birthday is today", [k("anniversary", anniversary_type="birthday", days=0)]),
    (
        "customers with a birthday this month",
        [k("anniversary", anniversary_type="birthday", days=15)],
    ),
    ("upcoming birthdays", [k("anniversary", anniversary_type="birthday", days=30)]),
    (
        "customers with a registration anniversary in the next 30 days",
        [k("anniversary", anniversary_type="registration", days=30)],
    ),
    ("customers born in the 80s", [c("date_of_birth", "between", ["1980-01-01", "1989-12-31"])]),
    ("customers born in 1990", [c("date_of_birth", "between", ["1990-01-01", "1990-12-31"])]),
    ("customers born before 1980", [c("date_of_birth", "<", "1980-01-01")]),
    ("customers born after 1990", [c("date_of_birth", ">", "1990-12-31")]),
]
CONTACTS = [
    ("customers with a phone number", [c("phone", "is_not_empty")]),
    ("customers without email", [c("email", "is_empty")]),
    ("customers without a company", [c("company", "is_empty")]),
    ("customers with email and phone", [c("email", "is_not_empty"), c("phone", "is_not_empty")]),
    (
        "customers who have a phone number but no email",
        [c("phone", "is_not_empty"), c("email", "is_empty")],
    ),
    ("customers with a gmail address", [c("email", "ends_with", "@gmail.com")]),
    ("yahoo users", [c("email", "ends_with", "@yahoo.com")]),
]


def _cases(cases):
    return pytest.mark.parametrize(("prompt", "expected"), cases, ids=[p for p, _ in cases])


@_cases(NUMBERS)
def test_numbers_with_currency_signs_suffixes_and_words(prompt, expected):
    check(prompt, expected)


@_cases(COMPARATORS)
def test_comparators_before_and_after_numbers_and_ranges(prompt, expected):
    check(prompt, expected)


@_cases(WINDOWS)
def test_time_windows_durations_and_dates(prompt, expected):
    check(prompt, expected)


@_cases(NEGATIONS)
def test_negation_of_the_construction_that_follows(prompt, expected):
    check(prompt, expected)


@_cases(CONNECTORS)
def test_and_or_between_conditions(prompt, expected):
    check(prompt, expected)


@_cases(PLACES)
def test_cities_countries_and_states_as_phrases(prompt, expected):
    check(prompt, expected)


@_cases(GENDERS)
def test_genders(prompt, expected):
    check(prompt, expected)


@_cases(AGES)
def test_ages_compile_to_date_of_birth_ranges(prompt, expected):
    check(prompt, expected)


@_cases(TAGS)
def test_tags(prompt, expected):
    check(prompt, expected)


@_cases(OPT_INS)
def test_opt_ins(prompt, expected):
    check(prompt, expected)


@_cases(STATUSES)
def test_statuses_types_lifecycle_and_assignment(prompt, expected):
    check(prompt, expected)


@_cases(FIELDS)
def test_named_fields_and_custom_fields(prompt, expected):
    check(prompt, expected)


@_cases(COUNTS)
def test_order_counts(prompt, expected):
    check(prompt, expected)


@_cases(MONEY)
def test_spend_average_order_and_points(prompt, expected):
    check(prompt, expected)


@_cases(ORDERS)
def test_order_recency_brands_and_skus(prompt, expected):
    check(prompt, expected)


@_cases(SIGN_UPS)
def test_sign_ups(prompt, expected):
    check(prompt, expected)


@_cases(BIRTHDAYS)
def test_birthdays_anniversaries_and_births(prompt, expected):
    check(prompt, expected)


@_cases(CONTACTS)
def test_contact_details(prompt, expected):
    check(prompt, expected)


def test_seed_000_example_gives_spend_count_and_recency_in_that_order():
    result = parse(
        "Customers who spent more than 5000 in the last year and ordered at least 3 times"
    )

    assert result.rules == {
        "logic": "AND",
        "rules": [
            {"field": "lifetime_spend", "operator": ">", "value": "5000.00"},
            {"field": "total_orders", "operator": ">=", "value": 3},
            {"field": "last_order_date", "operator": "within_last_days", "value": 365},
        ],
    }
    assert result.explanation == (
        "Lifetime spend is more than 5000 and total orders is at least 3 and last ordered "
        "within the last 365 days."
    )
    assert result.unparsed == []


def test_issue_example_is_understood_whole():
    result = parse("customers in Paris who spent over 500 and ordered in the last 90 days")

    assert result.rules == expected_rule(
        [
            c("city", "=", "Paris"),
            c("lifetime_spend", ">", 500),
            c("last_order_date", "within_last_days", 90),
        ]
    )
    assert result.explanation == (
        "City is Paris and lifetime spend is more than 500 and last ordered within the last "
        "90 days."
    )


def test_fragments_not_understood_are_quoted_verbatim():
    result = parse("customers in Paris who LOVE  cats and spent over 500")

    assert result.rules == expected_rule([c("city", "=", "Paris"), c("lifetime_spend", ">", 500)])
    assert result.unparsed == ["LOVE  cats"]


def test_nothing_understood_gives_no_rule_and_the_whole_prompt_unparsed():
    result = parse("  hello world  ")

    assert result.rules is None
    assert result.unparsed == ["hello world"]
    assert result.explanation == "No condition could be understood."


def test_a_negation_the_rule_language_cannot_say_is_not_understood():
    result = parse("customers in Paris who didn't buy Nike")

    assert result.rules == expected_rule([c("city", "=", "Paris")])
    assert result.unparsed == ["didn't buy Nike"]


def test_a_condition_the_validator_refuses_is_dropped_and_reported():
    result = parse("customers who ordered in the last 200000 days and live in Paris")

    assert result.rules == expected_rule([c("city", "=", "Paris")])
    assert result.unparsed == ["ordered in the last 200000 days"]


def test_a_month_without_a_year_is_no_birth_date():
    result = parse("customers born in March")

    assert result.rules is None


def test_ages_count_from_29_february_as_28_february_in_common_years():
    result = offline_parse("customers aged 30 or over", today=date(2024, 2, 29))

    assert result.rules == expected_rule([c("date_of_birth", "<=", "1994-02-28")])


def test_point_of_sale_named_in_a_prompt_is_resolved_by_the_callback():
    stores = {"Paris": ["0190a000-0000-7000-8000-000000000001"]}

    result = parse("customers who bought at the Paris store", pos_resolver=stores.get)

    assert result.rules == expected_rule(
        [k("bought_in_pos", pos_ids=["0190a000-0000-7000-8000-000000000001"])]
    )
    assert result.explanation == "Bought at Paris."


def test_point_of_sale_that_cannot_be_resolved_is_not_understood():
    result = parse("customers in Lyon who bought at the Paris store", pos_resolver={}.get)

    assert result.rules == expected_rule([c("city", "=", "Lyon")])
    assert result.unparsed == ["bought at the Paris store"]


def test_explanation_has_one_phrase_per_condition_and_groups_in_parentheses():
    result = parse("women aged 25 to 34 in Paris who spent over 500 or are tagged vip")

    assert result.explanation == (
        "Gender is female and aged 25 to 34 (date of birth between 1990-06-16 and "
        "2000-06-15) and city is Paris and (lifetime spend is more than 500 or tagged vip)."
    )
