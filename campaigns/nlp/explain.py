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
_PRESENCE = {"is_empty": "is empty", "is_not_empty": "is set"}
# A list operator's words and the conjunction before its last value.
_LIST_WORDS = {"in": ("is", "or"), "not_in": ("is not", "nor")}
# Criteria on a range: (what is compared, the low parameter, the high parameter).
_BOUNDED_CRITERIA = {
    "transaction_count": ("number of orders", "min", "max"),
    "transaction_amount": ("total spent", "from_amount", "to_amount"),
    "average_transaction_amount": ("average order amount", "from_amount", "to_amount"),
}
# Criteria on a list: (what is said before the list, the list's parameter).
_LISTED_CRITERIA = {
    "bought_in_pos": ("bought at point of sale", "pos_ids"),
    "bought_makers": ("bought the brand", "makers"),
    "bought_skus": ("bought SKU", "skus"),
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
    relative = _relative(operator, value)
    if verb and relative:
        return f"{verb} {relative}"
    if verb and operator in _DATE_VERB_OPERATORS:
        return f"{verb} {_DATE_VERB_OPERATORS[operator]} {shown(value)}"
    if operator in _PRESENCE:
        return f"{label} {_PRESENCE[operator]}"
    if operator in _LIST_WORDS:
        copula, conjunction = _LIST_WORDS[operator]
        return f"{label} {copula} {listed(value, conjunction)}"
    if relative:
        return f"{label} is {relative}"
    spec = FIELDS.get(field)
    kind = spec.type if spec else ("number" if not isinstance(value, str) else "text")
    words = {"date": _DATE_OPERATORS, "number": _NUMBER_OPERATORS}.get(kind, TEXT_OPERATOR_WORDS)
    return f"{label} {words.get(operator or '', operator)} {shown(value)}"


def _relative(operator: Any, value: Any) -> str | None:
    """A date relative to today or a range, as it follows "is" or a verb; else None."""
    if operator == "within_last_days":
        return within_days(value)
    if operator == "more_than_days_ago":
        return f"more than {days(value)} ago"
    if operator == "between":
        low, high = value
        return f"between {shown(low)} and {shown(high)}"
    return None


def _bounds(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"between {shown(low)}{unit} and {shown(high)}{unit}"
    if low is not None:
        return f"at least {shown(low)}{unit}"
    return f"at most {shown(high)}{unit}"


def describe_criterion(node: Mapping[str, Any]) -> str:
    kind = str(node.get("type"))
    if kind in _BOUNDED_CRITERIA:
        what, low, high = _BOUNDED_CRITERIA[kind]
        return f"{what} is {_bounds(node.get(low), node.get(high))}"
    if kind in _LISTED_CRITERIA:
        what, key = _LISTED_CRITERIA[kind]
        return f"{what} {listed(node.get(key) or [])}"
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
    spec = CRITERIA.get(kind)
    return spec.label.lower() if spec else kind


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
