"""Criteria on the customer's orders: `{"type": T, ...parameters}`, normalized with
snake_case parameter names (`fromAmount` -> `from_amount`, `skuIds` -> `skus`, `posId`
-> `pos_id`), absent optional bounds left out, values coerced (`percent` a decimal
string without trailing zeros)."""

import uuid
from collections.abc import Callable
from typing import Any

from crm_project.api.parsers import snake_case
from segments.rules import values
from segments.rules.errors import Errors, Invalid, join, shown
from segments.rules.references import References
from segments.rules.vocabulary import (
    CHOICE,
    COUNT_PARAM,
    CRITERIA,
    DAYS,
    IGNORED_KEYS,
    ISO_DATE,
    MONEY_PARAM,
    PERCENT,
    POS,
    POS_LIST,
    TEXT_LIST,
    Criterion,
    Param,
)

_SCALARS: dict[str, Callable[[Any], Any]] = {
    COUNT_PARAM: values.count,
    MONEY_PARAM: values.money,
    PERCENT: values.percent,
    DAYS: values.days,
    ISO_DATE: values.iso_date,
    POS: values.pos_ref,
}


def criterion_type(raw: Any) -> Criterion | None:
    if not isinstance(raw, str):
        return None
    return CRITERIA.get(snake_case(raw.strip()).replace("-", "_").replace(" ", "_"))


def criterion(node: dict, path: str, errors: Errors, refs: References) -> dict | None:
    spec = criterion_type(node.get("type"))
    if spec is None:
        errors.add(
            join(path, "type"),
            f"Unknown criterion type {shown(node.get('type'))}. Types: {', '.join(CRITERIA)}.",
            "unknown_criterion",
        )
        return None
    given, failed = _given_parameters(spec, node, path, errors)
    result: dict[str, Any] = {"type": spec.type}
    for param in spec.params:
        if param.name not in given:
            if param.required:
                errors.add(join(path, param.name), f"{spec.type} needs {param.name}.", "required")
                failed = True
            continue
        key, value = given[param.name]
        try:
            result[param.name] = _param_value(param, value)
        except Invalid as exc:
            errors.invalid(join(path, key), exc)
            failed = True
            continue
        if param.kind == POS:
            refs.points_of_sale.append((join(path, key), result[param.name]))
        elif param.kind == POS_LIST:
            refs.points_of_sale.extend(
                (join(path, key, i), pos) for i, pos in enumerate(result[param.name])
            )
    if failed:
        return None
    if spec.bounds is not None:
        low_name, high_name = spec.bounds
        low, high = result.get(low_name), result.get(high_name)
        if low is None and high is None:
            errors.add(
                path, f"{spec.type} needs at least one of {low_name} and {high_name}.", "required"
            )
            return None
        if low is not None and high is not None and values.ordered(low) > values.ordered(high):
            errors.add(path, f"{low_name} must not be above {high_name}.", "invalid_range")
            return None
    return result


def _given_parameters(
    spec: Criterion, node: dict, path: str, errors: Errors
) -> tuple[dict[str, tuple[str, Any]], bool]:
    """{parameter name: (key as sent, value)} of the parameters given (null ones are
    absent), and whether a key was unknown or named a parameter twice."""
    given: dict[str, tuple[str, Any]] = {}
    failed = False
    for key, value in node.items():
        if key == "type" or key in IGNORED_KEYS:
            continue
        name = _param_name(spec, key)
        if name is None:
            if value is not None:
                errors.add(
                    join(path, key),
                    f"{spec.type} takes no {shown(key)}; its parameters: "
                    f"{', '.join(p.name for p in spec.params)}.",
                    "unknown_parameter",
                )
                failed = True
        elif name in given:
            if given[name][1] != value:
                errors.add(
                    join(path, key),
                    f"{name} is given twice ({given[name][0]} and {key}).",
                    "invalid_value",
                )
                failed = True
        elif value is not None:
            given[name] = (key, value)
    return given, failed


def _param_name(spec: Criterion, key: str) -> str | None:
    snake = snake_case(key)
    for param in spec.params:
        if {key, snake} & {param.name, *param.aliases}:
            return param.name
    return None


def _param_value(param: Param, value: Any) -> Any:
    if param.kind in _SCALARS:
        return _SCALARS[param.kind](value)
    if param.kind == CHOICE:
        choice = value.strip().lower() if isinstance(value, str) else None
        if choice not in param.choices:
            raise Invalid(f"{param.name} is one of: {', '.join(param.choices)}.")
        return choice
    if param.kind == POS_LIST:
        if isinstance(value, str | uuid.UUID):
            value = [value]
        return values.list_of(value, values.pos_ref)
    if param.kind == TEXT_LIST:
        if isinstance(value, str):
            value = [value]
        return values.list_of(value, values.text)
    raise AssertionError(param.kind)  # pragma: no cover  (every kind is handled above)
