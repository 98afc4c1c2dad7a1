"""Conditions on the customer: `{"field": F, "operator": OP, "value": V}`, normalized to
the canonical field name (`lifetimeSpend` -> `lifetime_spend`; `metadata.KEY` keeps KEY
as sent), the canonical operator (`==` -> `=`, `NOT_IN` -> `not_in`) and the value
coerced for the field's type (`between` -> `[low, high]`, `is_empty` -> null). On
`metadata.KEY` the value's JSON type is kept: a number selects the number operators,
a string the text ones."""

import re
from collections.abc import Callable
from typing import Any

from crm_project.api.parsers import snake_case
from segments.rules import values
from segments.rules.errors import Errors, Invalid, join, shown
from segments.rules.references import References
from segments.rules.vocabulary import (
    AGENT,
    ALL_OPERATORS,
    BOOLEAN,
    COUNT,
    DATE,
    DAYS_OPERATORS,
    FIELD_ALIASES,
    FIELDS,
    LIST_OPERATORS,
    METADATA,
    METADATA_PREFIX,
    METADATA_PREFIX_ALIASES,
    NO_VALUE_OPERATORS,
    NUMBER,
    NUMBER_ONLY_OPERATORS,
    NUMBER_OPERATORS,
    OPERATOR_ALIASES,
    OPERATORS_BY_TYPE,
    TAGS,
    TEXT,
    Field,
)

_SEPARATORS = re.compile(r"[\s_-]+")


def canonical_field(raw: Any) -> tuple[str, Field | None]:
    """(canonical name, its Field; None for `metadata.KEY`)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("Expected a field name.", code="unknown_field")
    name = raw.strip()
    for prefix in (METADATA_PREFIX, *METADATA_PREFIX_ALIASES):
        if name.startswith(prefix):
            key = name[len(prefix) :]
            if not key:
                raise Invalid("Name the custom field: metadata.KEY.", code="unknown_field")
            return METADATA_PREFIX + key, None
    canonical = FIELD_ALIASES.get(name) or snake_case(name)
    canonical = FIELD_ALIASES.get(canonical, canonical)
    spec = FIELDS.get(canonical)
    if spec is None:
        raise Invalid(
            f"Unknown field {shown(name)}. Fields: {', '.join(FIELDS)}, metadata.KEY.",
            code="unknown_field",
        )
    return canonical, spec


def canonical_operator(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    key = _SEPARATORS.sub("_", snake_case(raw.strip()))
    return OPERATOR_ALIASES.get(key, key)


def condition(node: dict, path: str, errors: Errors, refs: References) -> dict | None:
    field_path, operator_path, value_path = (
        join(path, key) for key in ("field", "operator", "value")
    )
    try:
        name, spec = canonical_field(node.get("field"))
    except Invalid as exc:
        errors.invalid(field_path, exc)
        name, spec = None, None
    raw_operator, value = node.get("operator"), node.get("value")
    if raw_operator is None:
        errors.add(operator_path, "A condition needs an operator.", "required")
        return None
    operator = canonical_operator(raw_operator)
    if operator not in ALL_OPERATORS:
        errors.add(operator_path, f"Unknown operator {shown(raw_operator)}.", "invalid_operator")
        return None
    if name is None:
        return None
    field_type = spec.type if spec is not None else METADATA
    allowed = OPERATORS_BY_TYPE[field_type]
    if operator not in allowed:
        errors.add(
            operator_path,
            f"{operator!r} does not apply to {name} ({field_type}); use one of: "
            f"{', '.join(allowed)}.",
            "invalid_operator",
        )
        return None
    if operator in NO_VALUE_OPERATORS:
        if value is not None:
            errors.add(value_path, f"{operator} takes no value.", "invalid_value")
            return None
        return {"field": name, "operator": operator, "value": None}
    if value is None:
        errors.add(value_path, f"{operator} needs a value.", "required")
        return None
    try:
        if spec is None:
            coerced = _metadata_value(operator, value)
        else:
            coerced = _field_value(spec, operator, value)
    except _WrongFamily as exc:
        errors.invalid(operator_path, exc)
        return None
    except Invalid as exc:
        errors.invalid(value_path, exc)
        return None
    if spec is not None and spec.type == AGENT:
        if isinstance(coerced, list):
            refs.agents.extend((join(value_path, i), agent) for i, agent in enumerate(coerced))
        else:
            refs.agents.append((value_path, coerced))
    return {"field": name, "operator": operator, "value": coerced}


def _field_value(spec: Field, operator: str, value: Any) -> Any:
    coerce = _COERCERS[spec.type] if spec.type != NUMBER else _number_coercer(spec)
    if spec.type == DATE and operator in DAYS_OPERATORS:
        return values.days(value)
    if operator in LIST_OPERATORS:
        return values.list_of(value, coerce)
    if operator == "between":
        return values.pair(value, coerce)
    return coerce(value)


_COERCERS: dict[str, Callable[[Any], Any]] = {
    TEXT: values.text,
    TAGS: values.text,
    AGENT: values.agent_id,
    BOOLEAN: values.boolean,
    DATE: values.iso_date,
}


def _number_coercer(spec: Field) -> Callable[[Any], Any]:
    return values.whole if spec.number_kind == COUNT else values.decimal_string


class _WrongFamily(Invalid):
    """A number value with a text operator: the operator is what is wrong."""


def _metadata_value(operator: str, value: Any) -> Any:
    number_value = values.is_number(value) or (
        operator == "between"
        and isinstance(value, list)
        and any(values.is_number(v) for v in value)
    )
    if operator in NUMBER_ONLY_OPERATORS or (number_value and operator in ("=", "!=")):
        try:
            if operator == "between":
                return values.pair(value, values.metadata_number)
            return values.metadata_number(value)
        except Invalid as exc:
            if exc.items:
                raise
            raise Invalid(
                f"{operator} on a custom field takes a number. {exc.message}", exc.code
            ) from None
    if number_value:
        raise _WrongFamily(
            f"{operator!r} is a text operator; a number value selects the number "
            f"operators: {', '.join(NUMBER_OPERATORS)}.",
            "invalid_operator",
        )
    if operator in LIST_OPERATORS:
        return values.list_of(value, values.metadata_text)
    if operator in ("=", "!="):
        return values.metadata_text(value)
    return values.text(value)
