"""A rule in plain English, one phrase per condition: "City is Paris and lifetime spend
is more than 500.00 and last order date is within the last 90 days." Groups nested in
a group are put in parentheses. Works on any valid rule (the offline parser's, an
LLM's), from the rule language's own labels."""

from collections.abc import Mapping
from typing import Any

from segments.rules import CRITERIA, FIELDS

TEXT_OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
}
_NUMBER_OPERATORS = {
    "=": "is",
    "!=": "is not",
    ">": "is more than",
    ">=": "is at least",
    "<": "is less than",
    "<=": "is at most",
}
_DATE_OPERATORS = {
    "=": "is",
    ">": "is after",
    ">=": "is on or after",
    "<": "is before",
    "<=": "is on or before",
}
_BOOLEAN_FIELDS = {"email_opt_in": "email", "sms_opt_in": "SMS"}
# Date fields read as what happened on the date.
_DATE_VERBS = {
    "created_at": "signed up",
    "last_order_date": "last ordered",
    "first_order_date": "first ordered",
    "date_of_birth": "born",
}
_DATE_VERB_OPERATORS = {
    "=": "on",
    ">": "after",
    ">=": "on or after",
    "<": "before",
    "<=": "on or before",
}


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def days(count: Any) -> str:
    return "1 day" if count == 1 else f"{count} days"


def within_days(count: Any) -> str:
    return "today" if count == 0 else f"within the last {days(count)}"


def listed(values: list[Any], conjunction: str = "or") -> str:
    words = [shown(v) for v in values]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _label(field: str) -> str:
    if field.startswith("metadata."):
        return f"custom field {field.removeprefix('metadata.')}"
    spec = FIELDS.get(field)
    return spec.label.lower() if spec else field


def describe_condition(node: Mapping[str, Any]) -> str:
    field: str = node.get("field", "")
    operator: Any = node.get("operator")
    value: Any = node.get("value")
    label = _label(field)
    if field in _BOOLEAN_FIELDS:
        channel = _BOOLEAN_FIELDS[field]
        return f"opted in to {channel}" if value else f"not opted in to {channel}"
    if field == "tags":
        values = value if isinstance(value, list) else [value]
        if operator == "not_contains":
            return f"not tagged {listed(values)}"
        return f"tagged {listed(values)}"
    verb = _DATE_VERBS.get(field)
    if verb and operator == "within_last_days":
        return f"{verb} {within_days(value)}"
    if verb and operator == "more_than_days_ago":
        return f"{verb} more than {days(value)} ago"
    if verb and operator == "between":
        return f"{verb} between {shown(value[0])} and {shown(value[1])}"
    if verb and operator in _DATE_VERB_OPERATORS:
        return f"{verb} {_DATE_VERB_OPERATORS[operator]} {shown(value)}"
    if operator == "is_empty":
        return f"{label} is empty"
    if operator == "is_not_empty":
        return f"{label} is set"
    if operator == "in":
        return f"{label} is {listed(value)}"
    if operator == "not_in":
        return f"{label} is not {listed(value, 'nor')}"
    if operator == "between":
        low, high = value
        return f"{label} is between {shown(low)} and {shown(high)}"
    if operator == "within_last_days":
        return f"{label} is {within_days(value)}"
    if operator == "more_than_days_ago":
        return f"{label} is more than {days(value)} ago"
    spec = FIELDS.get(field)
    kind = spec.type if spec else ("number" if not isinstance(value, str) else "text")
    words = {"date": _DATE_OPERATORS, "number": _NUMBER_OPERATORS}.get(kind, TEXT_OPERATOR_WORDS)
    return f"{label} {words.get(operator or '', operator)} {shown(value)}"


def _bounds(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"between {shown(low)}{unit} and {shown(high)}{unit}"
    if low is not None:
        return f"at least {shown(low)}{unit}"
    return f"at most {shown(high)}{unit}"


def describe_criterion(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind == "transaction_count":
        return f"number of orders is {_bounds(node.get('min'), node.get('max'))}"
    if kind == "transaction_amount":
        return f"total spent is {_bounds(node.get('from_amount'), node.get('to_amount'))}"
    if kind == "average_transaction_amount":
        bounds = _bounds(node.get("from_amount"), node.get("to_amount"))
        return f"average order amount is {bounds}"
    if kind == "bought_in_pos":
        return f"bought at point of sale {listed(node.get('pos_ids') or [])}"
    if kind == "bought_makers":
        return f"bought the brand {listed(node.get('makers') or [])}"
    if kind == "bought_skus":
        return f"bought SKU {listed(node.get('skus') or [])}"
    if kind == "last_purchase_n_days_before":
        return f"bought {within_days(node.get('days'))}"
    if kind == "purchase_period":
        if node.get("from_date") == node.get("to_date"):
            return f"bought on {node.get('from_date')}"
        return f"bought between {node.get('from_date')} and {node.get('to_date')}"
    if kind == "transaction_percent_in_pos":
        return f"at least {node.get('percent')}% of orders at point of sale {node.get('pos_id')}"
    if kind == "anniversary":
        what = (
            "birthday" if node.get("anniversary_type") == "birthday" else "registration anniversary"
        )
        count = node.get("days")
        return f"{what} is today" if count == 0 else f"{what} is within the next {days(count)}"
    spec = CRITERIA.get(str(kind))
    return spec.label.lower() if spec else str(kind)


def describe(node: Mapping[str, Any]) -> str:
    """One phrase for a condition or a criterion."""
    return describe_criterion(node) if "type" in node else describe_condition(node)


def explain_rule(rule: Mapping[str, Any] | None) -> str:
    """A normalized rule (segments.rules.validate_rule's answer) in plain English."""
    if not rule:
        return "No condition could be understood."
    text = _explained(rule, nested=False)
    return text[:1].upper() + text[1:] + "."


def _explained(node: Mapping[str, Any], *, nested: bool) -> str:
    if "rules" in node:
        joiner = " or " if node.get("logic") == "OR" else " and "
        text = joiner.join(_explained(child, nested=True) for child in node["rules"])
        return f"({text})" if nested and len(node["rules"]) > 1 else text
    return describe(node)
