"""Validation and normalization of the rule language (segments.rules): each kind of
invalid rule is reported at the dotted path of the offending node, every problem at
once; valid rules come back in one canonical form."""

import uuid

import pytest
from rest_framework.exceptions import ValidationError

from segments.rules import (
    CRITERIA,
    FIELDS,
    MAX_CHILDREN,
    rule_to_parts,
    validate_rule,
)
from tests.factories import AgentFactory, PointOfSaleFactory


def errors_of(data, **kwargs):
    """{attr: [code, ...]} of the ValidationError validate_rule raises."""
    with pytest.raises(ValidationError) as caught:
        validate_rule(data, **kwargs)
    return {attr: [e.code for e in errors] for attr, errors in caught.value.detail.items()}


def group(*rules, logic="AND"):
    return {"logic": logic, "rules": list(rules)}


def cond(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


CITY = cond("city", "=", "Paris")


# --- Structure ------------------------------------------------------------------------------


def test_a_missing_rule_is_required():
    assert errors_of(None) == {"rules": ["required"]}


def test_a_rule_that_is_not_an_object():
    assert errors_of("city = Paris") == {"rules": ["invalid_rule"]}
    assert errors_of(group(CITY, 42)) == {"rules.rules.1": ["invalid_rule"]}


def test_an_object_that_is_no_kind_of_rule():
    assert errors_of(group({"name": "x"})) == {"rules.rules.0": ["invalid_rule"]}


def test_a_group_needs_a_known_logic():
    assert errors_of({"logic": "XOR", "rules": [CITY]}) == {"rules.logic": ["invalid_logic"]}
    assert errors_of({"rules": [CITY]}) == {"rules.logic": ["required"]}


def test_a_group_needs_a_list_of_rules():
    assert errors_of({"logic": "AND"}) == {"rules.rules": ["required"]}
    assert errors_of({"logic": "AND", "rules": CITY}) == {"rules.rules": ["invalid_rule"]}


def test_a_group_has_at_least_one_rule():
    assert errors_of(group(CITY, group())) == {"rules.rules.1.rules": ["group_size"]}


def test_a_group_has_at_most_fifty_rules():
    assert validate_rule(group(*[CITY] * MAX_CHILDREN))
    assert errors_of(group(*[CITY] * (MAX_CHILDREN + 1))) == {"rules.rules": ["group_size"]}


def test_groups_nest_at_most_five_deep():
    five = group(group(group(group(group(CITY)))))
    assert validate_rule(five)
    six = group(group(group(group(group(group(CITY))))))
    assert errors_of(six) == {"rules.rules.0.rules.0.rules.0.rules.0.rules.0": ["too_deep"]}


def test_unknown_keys_are_reported_where_they_are():
    assert errors_of(group({"field": "city", "operator": "=", "vaule": "Paris"})) == {
        "rules.rules.0.vaule": ["unknown_key"],
        "rules.rules.0.value": ["required"],
    }


def test_every_problem_is_reported_at_once():
    rule = group(
        cond("shoe_size", "=", "42"),
        cond("city", "between", ["a", "b"]),
        group(cond("lifetime_spend", ">", "lots"), logic="MAYBE"),
        {"type": "transaction_count"},
    )
    assert errors_of(rule) == {
        "rules.rules.0.field": ["unknown_field"],
        "rules.rules.1.operator": ["invalid_operator"],
        "rules.rules.2.logic": ["invalid_logic"],
        "rules.rules.2.rules.0.value": ["invalid_value"],
        "rules.rules.3": ["required"],
    }


def test_paths_start_at_the_attr_given():
    assert errors_of(cond("city", "like", "x"), attr="audience") == {
        "audience.operator": ["invalid_operator"]
    }


# --- Conditions -----------------------------------------------------------------------------


def test_an_unknown_field():
    assert errors_of(group(CITY, cond("shoe_size", "=", "42"))) == {
        "rules.rules.1.field": ["unknown_field"]
    }


def test_metadata_needs_a_key():
    assert errors_of(cond("metadata.", "=", "x")) == {"rules.field": ["unknown_field"]}


def test_an_unknown_operator():
    assert errors_of(group(CITY, cond("city", "like", "Par%"))) == {
        "rules.rules.1.operator": ["invalid_operator"]
    }


def test_a_missing_operator():
    assert errors_of(group({"field": "city", "value": "Paris"})) == {
        "rules.rules.0.operator": ["required"]
    }


@pytest.mark.parametrize(
    ("field", "operator", "value"),
    [
        ("lifetime_spend", "contains", "1"),  # text operator on a number
        ("city", ">", "A"),  # number operator on text
        ("created_at", "!=", "2024-01-01"),  # dates have no !=
        ("email_opt_in", "!=", True),  # booleans only =
        ("tags", "=", "vip"),  # tags: contains, in, not_contains
        ("assigned_to", "contains", "x"),
        ("city", "within_last_days", 3),
    ],
)
def test_an_operator_that_does_not_apply_to_the_field_type(field, operator, value):
    assert errors_of(group(cond(field, operator, value))) == {
        "rules.rules.0.operator": ["invalid_operator"]
    }


def test_a_number_selects_the_number_operators_on_metadata():
    assert errors_of(cond("metadata.score", "contains", 4)) == {
        "rules.operator": ["invalid_operator"]
    }


def test_number_comparisons_on_metadata_need_a_number():
    assert errors_of(cond("metadata.score", ">", "high")) == {"rules.value": ["invalid_value"]}


def test_a_wrong_value_type_for_a_number_field():
    assert errors_of(group(cond("lifetime_spend", ">", "lots"))) == {
        "rules.rules.0.value": ["invalid_value"]
    }
    assert errors_of(cond("lifetime_spend", ">", True)) == {"rules.value": ["invalid_value"]}
    assert errors_of(cond("lifetime_spend", ">", "1e3")) == {"rules.value": ["invalid_value"]}


def test_counts_are_whole_numbers():
    assert errors_of(cond("total_orders", ">=", 2.5)) == {"rules.value": ["invalid_value"]}


def test_a_number_given_to_a_date_field_is_a_wrong_value_type():
    # Seed 000's parser output; relative dates are within_last_days / more_than_days_ago.
    assert errors_of(group(cond("lastOrderDate", ">=", 365))) == {
        "rules.rules.0.value": ["invalid_type"]
    }


def test_dates_are_iso_dates_that_exist():
    assert errors_of(cond("date_of_birth", "=", "2023-02-29")) == {"rules.value": ["invalid_value"]}
    assert errors_of(cond("date_of_birth", "=", "01/02/2023")) == {"rules.value": ["invalid_value"]}


def test_day_counts_are_whole_and_not_negative():
    assert errors_of(cond("created_at", "within_last_days", -1)) == {
        "rules.value": ["invalid_value"]
    }
    assert errors_of(cond("created_at", "more_than_days_ago", "a week")) == {
        "rules.value": ["invalid_value"]
    }


def test_text_values_are_strings_and_not_blank():
    assert errors_of(cond("city", "=", 75)) == {"rules.value": ["invalid_type"]}
    assert errors_of(cond("city", "contains", "  ")) == {"rules.value": ["invalid_value"]}


def test_a_boolean_field_takes_a_boolean():
    assert errors_of(cond("email_opt_in", "=", "yes")) == {"rules.value": ["invalid_type"]}


def test_assigned_to_takes_agent_ids():
    assert errors_of(cond("assigned_to", "=", "bob")) == {"rules.value": ["invalid_value"]}


def test_is_empty_takes_no_value():
    assert errors_of(group(cond("city", "is_empty", "x"))) == {
        "rules.rules.0.value": ["invalid_value"]
    }


def test_other_operators_need_a_value():
    assert errors_of(group({"field": "city", "operator": "="})) == {
        "rules.rules.0.value": ["required"]
    }


def test_between_needs_a_pair_with_low_not_above_high():
    assert errors_of(cond("lifetime_spend", "between", [10])) == {"rules.value": ["invalid_type"]}
    assert errors_of(cond("lifetime_spend", "between", [100, "10"])) == {
        "rules.value": ["invalid_range"]
    }
    assert errors_of(cond("created_at", "between", ["2024-02-01", "2024-01-01"])) == {
        "rules.value": ["invalid_range"]
    }


def test_in_needs_a_non_empty_list_and_points_at_the_bad_element():
    assert errors_of(cond("city", "in", "Paris")) == {"rules.value": ["invalid_type"]}
    assert errors_of(cond("city", "in", [])) == {"rules.value": ["invalid_type"]}
    assert errors_of(cond("city", "not_in", ["Paris", 3, ""])) == {
        "rules.value.1": ["invalid_type"],
        "rules.value.2": ["invalid_value"],
    }


# --- Criteria -------------------------------------------------------------------------------


def test_an_unknown_criterion_type():
    assert errors_of(group(CITY, {"type": "bought_everything"})) == {
        "rules.rules.1.type": ["unknown_criterion"]
    }


def test_a_required_parameter_is_missing():
    assert errors_of({"type": "anniversary", "days": 3}) == {"rules.anniversary_type": ["required"]}
    assert errors_of({"type": "purchase_period", "from_date": "2024-01-01"}) == {
        "rules.to_date": ["required"]
    }


def test_a_range_criterion_needs_a_bound():
    assert errors_of(group({"type": "transaction_amount"})) == {"rules.rules.0": ["required"]}


def test_a_range_criterion_needs_low_not_above_high():
    assert errors_of({"type": "transaction_count", "min": 5, "max": 2}) == {
        "rules": ["invalid_range"]
    }
    assert errors_of(
        {"type": "purchase_period", "from_date": "2024-02-01", "to_date": "2024-01-01"}
    ) == {"rules": ["invalid_range"]}


def test_a_parameter_of_another_criterion():
    assert errors_of({"type": "bought_skus", "skus": ["A"], "posId": "P1"}) == {
        "rules.posId": ["unknown_parameter"]
    }


def test_parameter_values_are_checked():
    assert errors_of({"type": "transaction_amount", "from_amount": -5}) == {
        "rules.from_amount": ["invalid_value"]
    }
    assert errors_of({"type": "transaction_count", "min": "two"}) == {
        "rules.min": ["invalid_value"]
    }
    assert errors_of({"type": "last_purchase_n_days_before", "days": 1.5}) == {
        "rules.days": ["invalid_value"]
    }
    assert errors_of({"type": "transaction_percent_in_pos", "pos_id": "P1", "percent": 101}) == {
        "rules.percent": ["invalid_value"]
    }
    assert errors_of({"type": "anniversary", "anniversaryType": "wedding", "days": 2}) == {
        "rules.anniversaryType": ["invalid_value"]
    }
    assert errors_of({"type": "bought_makers", "makers": ["Acme", "  "]}) == {
        "rules.makers.1": ["invalid_value"]
    }


# --- Open Loyalty parts ---------------------------------------------------------------------


def test_parts_errors_are_under_parts():
    parts = [
        {"criteria": [{"type": "transaction_count", "min": 1}]},
        {"criteria": [{"type": "average_transaction_amount", "fromAmount": "ten"}]},
        {"criteria": []},
        {"criteria": [cond("city", "=", "Paris")]},
    ]
    expected = {
        "parts.1.criteria.0.fromAmount": ["invalid_value"],
        "parts.2.criteria": ["group_size"],
        "parts.3.criteria.0": ["invalid_rule"],
    }
    assert errors_of(parts, attr="parts") == expected
    assert errors_of({"parts": parts}, attr="parts") == expected
    assert errors_of({"parts": parts}) == {f"rules.{k}": v for k, v in expected.items()}


def test_parts_are_a_non_empty_list():
    assert errors_of({"parts": []}, attr="parts") == {"parts": ["group_size"]}
    assert errors_of({"parts": "all"}, attr="parts") == {"parts": ["invalid_rule"]}


# --- Limits of a whole rule ---------------------------------------------------------------


def wide(groups, per_group):
    """An AND of `groups` groups of `per_group` conditions: each group within its own
    limit of 50 rules."""
    return group(*[group(*[cond("city", "=", f"c{i}")] * per_group) for i in range(groups)])


def test_a_rule_of_more_than_500_objects_is_refused_at_its_attr():
    assert validate_rule(wide(9, 50))  # 1 + 9 + 450 objects
    assert errors_of(wide(11, 50)) == {"rules": ["rule_too_large"]}  # 562
    assert errors_of(wide(11, 50), attr="segment.rules") == {"segment.rules": ["rule_too_large"]}


def test_a_rule_of_more_than_50_kb_is_refused_at_its_attr():
    values = [f"{n:020d}" for n in range(100)]  # about 2,300 bytes a condition
    assert validate_rule(group(*[cond("city", "in", values)] * 20))
    assert errors_of(group(*[cond("city", "in", values)] * 25)) == {"rules": ["rule_too_large"]}


def test_parts_that_are_too_large_are_refused_under_parts():
    part = {"criteria": [{"type": "transaction_count", "min": 1}] * 11}

    assert errors_of({"parts": [part] * 50}, attr="parts") == {"parts": ["rule_too_large"]}
    assert errors_of([part] * 50, attr="parts") == {"parts": ["rule_too_large"]}


def test_a_huge_rule_is_refused_without_reading_it_all():
    """50 x 50 x 50 conditions, each group within its limit: refused at once, not
    validated (nor compiled) node by node."""
    huge = group(*[wide(50, 50)] * 50)

    assert errors_of(huge) == {"rules": ["rule_too_large"]}


def test_json_nested_thousands_deep_is_a_400_not_a_recursion_error():
    nested = "x"
    for _ in range(5000):
        nested = [nested]

    assert errors_of({"type": nested}) == {"rules": ["too_deep"]}
    assert errors_of(cond("city", "in", nested)) == {"rules": ["too_deep"]}


def test_a_list_value_has_at_most_500_items():
    assert validate_rule(cond("city", "in", [f"c{i}" for i in range(500)]))
    assert errors_of(cond("city", "not_in", [f"c{i}" for i in range(501)])) == {
        "rules.value": ["too_many_values"]
    }
    skus = {"type": "bought_skus", "skus": [f"S{i}" for i in range(5000)]}
    assert errors_of({"parts": [{"criteria": [skus]}]}, attr="parts") == {
        "parts.0.criteria.0.skus": ["too_many_values"]
    }
    makers = {"type": "bought_makers", "makers": ["Acme"] * 501}
    assert errors_of(makers) == {"rules.makers": ["too_many_values"]}
    places = {"type": "bought_in_pos", "pos_ids": ["P1"] * 501}
    assert errors_of(places) == {"rules.pos_ids": ["too_many_values"]}


def test_a_huge_whole_number_is_a_400():
    assert errors_of(cond("total_orders", ">", "9" * 5000)) == {"rules.value": ["invalid_value"]}
    assert errors_of({"type": "transaction_count", "min": "9" * 5000}) == {
        "rules.min": ["invalid_value"]
    }


# --- NUL characters ------------------------------------------------------------------------

NUL_CODE = ["null_characters_not_allowed"]


def test_a_nul_in_a_value_is_refused_at_the_value():
    assert errors_of(group(CITY, cond("city", "=", "Ly\x00on"))) == {
        "rules.rules.1.value": NUL_CODE
    }
    assert errors_of(cond("city", "in", ["Lyon", "Pa\x00ris"])) == {"rules.value.1": NUL_CODE}


def test_a_nul_in_a_field_name_or_metadata_key_is_refused_at_the_field():
    assert errors_of(cond("ci\x00ty", "=", "Lyon")) == {"rules.field": NUL_CODE}
    assert errors_of(cond("metadata.ti\x00er", "=", "gold")) == {"rules.field": NUL_CODE}


def test_a_nul_in_a_key_is_refused_at_the_key_as_the_api_names_it():
    criterion = {"type": "bought_skus", "sk\x00us": ["A"]}

    assert errors_of(group(CITY, criterion)) == {"rules.rules.1.sk\\u0000us": NUL_CODE}


def test_every_nul_is_reported_in_parts_and_operators():
    parts = [
        {"criteria": [{"type": "bought_skus", "skus": ["A", "B\x00"]}]},
        {"criteria": [{"type": "bought_in_pos\x00", "pos_ids": ["P1"]}]},
    ]
    assert errors_of({"parts": parts}, attr="parts") == {
        "parts.0.criteria.0.skus.1": NUL_CODE,
        "parts.1.criteria.0.type": NUL_CODE,
    }
    assert errors_of(cond("city", "=\x00", "Lyon")) == {"rules.operator": NUL_CODE}


# --- Foreign ids ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_accounts_point_of_sale_or_agent_is_a_400_on_that_value(account, other_account):
    mine = PointOfSaleFactory(account=account, code="PAR1")
    theirs = PointOfSaleFactory(account=other_account, code="LYO1")
    their_agent = AgentFactory(account=other_account)
    rule = group(
        {"type": "bought_in_pos", "pos_ids": [str(mine.pk), "PAR1", str(theirs.pk), "LYO1"]},
        cond("assigned_to", "=", str(their_agent.pk)),
    )
    assert errors_of(rule, account=account) == {
        "rules.rules.0.pos_ids.2": ["does_not_exist"],
        "rules.rules.0.pos_ids.3": ["does_not_exist"],
        "rules.rules.1.value": ["does_not_exist"],
    }
    assert validate_rule(rule)  # without an account, ids are only checked for shape


@pytest.mark.django_db
def test_with_an_account_points_of_sale_named_by_code_are_stored_by_id(account):
    paris = PointOfSaleFactory(account=account, code="PAR1")
    rule = {"type": "bought_in_pos", "posIds": ["PAR1", str(paris.pk)]}
    assert validate_rule(rule, account=account) == {
        "type": "bought_in_pos",
        "pos_ids": [str(paris.pk)],
    }
    assert validate_rule(rule)["pos_ids"] == ["PAR1", str(paris.pk)]
    share = {"type": "transaction_percent_in_pos", "posId": "PAR1", "percent": 50}
    assert validate_rule(share, account=account)["pos_id"] == str(paris.pk)


# --- Normal form ---------------------------------------------------------------------------


def test_seed_000_rules_normalize():
    rule = validate_rule(
        {
            "logic": "and",
            "rules": [
                {"field": "lifetimeSpend", "operator": ">", "value": 5000},
                {"field": "totalOrders", "operator": "gte", "value": "3"},
                {"field": "lastOrderDate", "operator": "within_last_days", "value": 365},
            ],
        }
    )
    assert rule == {
        "logic": "AND",
        "rules": [
            {"field": "lifetime_spend", "operator": ">", "value": "5000.00"},
            {"field": "total_orders", "operator": ">=", "value": 3},
            {"field": "last_order_date", "operator": "within_last_days", "value": 365},
        ],
    }


def test_values_are_coerced():
    assert validate_rule(cond("average_order_value", "between", [10.5, "20.125"]))["value"] == [
        "10.50",
        "20.125",
    ]
    assert validate_rule(cond("date_of_birth", "<", "2000-02-29"))["value"] == "2000-02-29"
    assert validate_rule(cond("email_opt_in", "=", "TRUE"))["value"] is True
    assert validate_rule(cond("city", "IS EMPTY")) == cond("city", "is_empty")
    agent = uuid.uuid4()
    assert validate_rule(cond("assigned_to", "in", [str(agent).upper()]))["value"] == [str(agent)]


def test_numbers_keep_all_thirty_digits_they_may_have():
    """Python's default decimal context keeps 28 digits: no value is rounded by it (a
    percent just above 12.5 stayed 12.5) nor refused with a 500 (a 30-digit amount)."""
    above = "12.5000000000000000000000000001"
    share = {"type": "transaction_percent_in_pos", "pos_id": "P1", "percent": above}
    assert validate_rule(share)["percent"] == above
    almost_all = {**share, "percent": "99.9999999999999999999999999999"}
    assert validate_rule(almost_all)["percent"] == "99.9999999999999999999999999999"
    assert validate_rule({**share, "percent": "50.000"})["percent"] == "50"
    amount = {"type": "transaction_amount", "from_amount": "1" * 30}
    assert validate_rule(amount)["from_amount"] == "1" * 30 + ".00"
    assert validate_rule(cond("lifetime_spend", "<", "9" * 30))["value"] == "9" * 30 + ".00"


def test_metadata_values_keep_their_json_type():
    assert validate_rule(cond("metadata.score", "=", 42))["value"] == 42
    assert validate_rule(cond("metadata.score", "=", "42"))["value"] == "42"
    assert validate_rule(cond("metadata.score", ">", "3.5"))["value"] == 3.5
    assert validate_rule(cond("metadata.Loyalty Tier", "=", "Gold"))["field"] == (
        "metadata.Loyalty Tier"
    )


def test_criteria_take_camel_case_parameters():
    assert validate_rule(
        {"type": "bought_skus", "skuIds": ["A-1"], "criterionId": str(uuid.uuid4())}
    ) == {"type": "bought_skus", "skus": ["A-1"]}
    assert validate_rule(
        {"type": "average_transaction_amount", "fromAmount": 1, "toAmount": "10.5"}
    ) == {
        "type": "average_transaction_amount",
        "from_amount": "1.00",
        "to_amount": "10.50",
    }
    assert validate_rule(
        {"type": "transaction_percent_in_pos", "posId": "PAR1", "percent": 33.33}
    ) == {"type": "transaction_percent_in_pos", "pos_id": "PAR1", "percent": "33.33"}
    assert validate_rule({"type": "anniversary", "anniversaryType": "Birthday", "days": "2"}) == {
        "type": "anniversary",
        "anniversary_type": "birthday",
        "days": 2,
    }


def test_rule_names_and_sort_columns_are_read_as_request_keys_are():
    """One snake_case for the API's keys, rule names and seed 003's `sort` column."""
    from crm_project.api import parsers
    from segments import filters
    from segments.rules import conditions, criteria

    assert filters.snake_case is parsers.snake_case
    assert conditions.snake_case is criteria.snake_case is parsers.snake_case
    skus = validate_rule({"type": "boughtSkus", "SKUIds": ["A"]})
    assert skus == {"type": "bought_skus", "skus": ["A"]}


def test_normalized_rules_validate_to_themselves():
    rule = validate_rule(
        group(
            cond("lifetimeSpend", "between", [1, 2]),
            cond("metadata.x", "!=", 1.5),
            {"type": "purchase_period", "fromDate": "2024-01-01", "toDate": "2024-01-31"},
            group(cond("tags", "in", ["VIP"]), cond("city", "not_in", ["a"]), logic="or"),
        )
    )
    assert validate_rule(rule) == rule


def test_open_loyalty_parts_are_an_and_of_ors():
    parts = [
        {
            "segmentPartId": "00000000-0000-0000-0000-000000000000",
            "criteria": [
                {"criterionId": "x", "type": "transaction_count", "min": 10, "max": 20},
                {"type": "bought_in_pos", "posIds": ["00000000-0000-474c-1111-b0dd880c07e2"]},
            ],
        },
        {"criteria": [{"type": "anniversary", "days": 2, "anniversaryType": "registration"}]},
    ]
    expected = {
        "logic": "AND",
        "rules": [
            {
                "logic": "OR",
                "rules": [
                    {"type": "transaction_count", "min": 10, "max": 20},
                    {"type": "bought_in_pos", "pos_ids": ["00000000-0000-474c-1111-b0dd880c07e2"]},
                ],
            },
            {
                "logic": "OR",
                "rules": [{"type": "anniversary", "anniversary_type": "registration", "days": 2}],
            },
        ],
    }
    assert validate_rule({"parts": parts}, attr="parts") == expected


def test_an_and_of_ors_of_criteria_answers_as_parts_with_stable_ids():
    rule = validate_rule(
        {
            "parts": [
                {"criteria": [{"type": "bought_skus", "skus": ["A"]}]},
                {
                    "criteria": [
                        {"type": "transaction_count", "min": 1},
                        {"type": "anniversary", "anniversary_type": "birthday", "days": 3},
                    ]
                },
            ]
        }
    )
    segment = uuid.uuid4()
    parts = rule_to_parts(rule, namespace=segment)
    assert [[c["type"] for c in p["criteria"]] for p in parts] == [
        ["bought_skus"],
        ["transaction_count", "anniversary"],
    ]
    assert parts == rule_to_parts(rule, namespace=segment)
    assert parts[0]["segment_part_id"] == parts[0]["id"]
    assert parts[1]["criteria"][1]["criterion_id"] == str(uuid.uuid5(segment, "parts.1.criteria.1"))
    ids = {p["id"] for p in parts} | {c["id"] for p in parts for c in p["criteria"]}
    assert len(ids) == 5
    assert rule_to_parts(rule, namespace=uuid.uuid4()) != parts
    # Parts in, the same rule out.
    assert validate_rule({"parts": parts}) == rule


def test_a_lone_criterion_or_an_and_of_criteria_is_parts_too():
    assert len(rule_to_parts({"type": "transaction_count", "min": 1})) == 1
    assert (
        len(
            rule_to_parts(
                group(
                    {"type": "transaction_count", "min": 1}, {"type": "transaction_count", "max": 3}
                )
            )
        )
        == 2
    )


def test_rules_with_conditions_or_deeper_nesting_have_no_parts():
    assert rule_to_parts(validate_rule(group(CITY))) is None
    assert (
        rule_to_parts(
            group(group(group({"type": "transaction_count", "min": 1}, logic="AND"), logic="OR"))
        )
        is None
    )
    assert rule_to_parts(group({"type": "transaction_count", "min": 1}, logic="OR")) is not None


# --- The catalog ---------------------------------------------------------------------------


def test_the_catalog_describes_what_validation_accepts():
    from segments.catalog import field_catalog

    catalog = field_catalog()
    fields = {f["name"]: f for f in catalog["fields"]}
    assert set(fields) == {*FIELDS, "metadata.KEY"}
    samples = {
        "string": "x",
        "string or number": 1,
        "number": 1,
        "integer": 1,
        "date": "2024-01-01",
        "boolean": True,
        "uuid": str(uuid.uuid4()),
    }
    for name, spec in fields.items():
        field = "metadata.k" if name == "metadata.KEY" else name
        for operator in spec["operators"]:
            scalar = samples[operator["value_type"]]
            if operator["operator"] in ("contains", "not_contains", "starts_with", "ends_with"):
                scalar = "x"  # text only, on metadata too
            value = {"none": None, "list": [scalar], "pair": [scalar, scalar]}.get(
                operator["value"], scalar
            )
            assert validate_rule(cond(field, operator["operator"], value)), (name, operator)
    criteria = {c["type"]: c for c in catalog["criteria"]}
    assert set(criteria) == set(CRITERIA)
    assert {p["name"] for p in criteria["transaction_amount"]["parameters"]} == {
        "from_amount",
        "to_amount",
    }
    assert criteria["anniversary"]["parameters"][0]["choices"] == ["birthday", "registration"]
    assert catalog["groups"] == {
        "logic": ["AND", "OR"],
        "min_rules": 1,
        "max_rules": 50,
        "max_depth": 5,
        "depth_counts": "groups; the root group is level 1",
    }
    limits = catalog["limits"]
    assert (limits["max_objects"], limits["max_bytes"], limits["max_list_values"]) == (
        500,
        50_000,
        500,
    )
    assert "null_characters_not_allowed" in limits["description"]
