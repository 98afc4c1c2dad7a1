"""The structure of a rule: a group `{"logic": "AND" | "OR", "rules": [rule, ...]}` (1 to
50 rules, nested at most 5 deep), a condition, a criterion, or Open Loyalty parts
(`{"parts": [{"criteria": [criterion, ...]}, ...]}`: AND over parts, OR over each part's
criteria, normalized to that group of groups)."""

from collections.abc import Iterable
from typing import Any

from segments.rules.conditions import condition
from segments.rules.criteria import criterion
from segments.rules.errors import Errors, join, shown
from segments.rules.references import References
from segments.rules.vocabulary import AND, IGNORED_KEYS, MAX_CHILDREN, MAX_DEPTH, MIN_CHILDREN, OR

SIZE = f"{MIN_CHILDREN} to {MAX_CHILDREN}"


def rule(node: Any, path: str, depth: int, errors: Errors, refs: References) -> dict | None:
    """`depth`: the number of groups above this node."""
    if not isinstance(node, dict):
        errors.add(
            path,
            "A rule is an object: a group {logic, rules}, a condition "
            "{field, operator, value} or a criterion {type, ...}.",
            "invalid_rule",
        )
        return None
    if "rules" in node or "logic" in node:
        return group(node, path, depth + 1, errors, refs)
    if "field" in node:
        _check_keys(node, ("field", "operator", "value"), path, errors)
        return condition(node, path, errors, refs)
    if "type" in node:
        return criterion(node, path, errors, refs)
    if "parts" in node:
        return parts_rule(node, path, join(path, "parts"), depth, errors, refs)
    errors.add(
        path,
        "Not a rule: a group has logic and rules, a condition field, operator and "
        "value, a criterion a type.",
        "invalid_rule",
    )
    return None


def group(node: dict, path: str, level: int, errors: Errors, refs: References) -> dict | None:
    if level > MAX_DEPTH:
        errors.add(
            path, f"Groups nest at most {MAX_DEPTH} deep (the root group is level 1).", "too_deep"
        )
        return None
    _check_keys(node, ("logic", "rules"), path, errors)
    logic = node.get("logic")
    canonical_logic = logic.strip().upper() if isinstance(logic, str) else None
    if logic is None:
        errors.add(join(path, "logic"), "A group needs a logic: AND or OR.", "required")
    elif canonical_logic not in (AND, OR):
        errors.add(join(path, "logic"), "logic is AND or OR.", "invalid_logic")
    children = node.get("rules")
    rules_path = join(path, "rules")
    if not isinstance(children, list):
        errors.add(
            rules_path,
            f"A group's rules are a list of {SIZE} rules.",
            "required" if children is None else "invalid_rule",
        )
        return None
    if not MIN_CHILDREN <= len(children) <= MAX_CHILDREN:
        errors.add(rules_path, f"A group has {SIZE} rules (here {len(children)}).", "group_size")
    normalized = [
        rule(child, join(rules_path, index), level, errors, refs)
        for index, child in enumerate(children)
    ]
    return {"logic": canonical_logic, "rules": normalized}


def parts_rule(
    node: dict, path: str, parts_path: str, depth: int, errors: Errors, refs: References
) -> dict | None:
    """`{"parts": [...]}` at `path`, its parts at `parts_path`."""
    _check_keys(node, ("parts",), path, errors)
    return parts(node["parts"], parts_path, depth, errors, refs)


def parts(value: Any, parts_path: str, depth: int, errors: Errors, refs: References) -> dict | None:
    """Open Loyalty parts as `{"logic": "AND", "rules": [{"logic": "OR", "rules":
    criteria}, ...]}` (two levels of groups)."""
    if depth + 2 > MAX_DEPTH:
        errors.add(parts_path, f"Groups nest at most {MAX_DEPTH} deep.", "too_deep")
        return None
    if not isinstance(value, list) or not MIN_CHILDREN <= len(value) <= MAX_CHILDREN:
        errors.add(
            parts_path,
            f'parts is a list of {SIZE} parts, each {{"criteria": [criterion, ...]}}.',
            "group_size" if isinstance(value, list) else "invalid_rule",
        )
        if not isinstance(value, list):
            return None
    groups = []
    for index, part in enumerate(value):
        part_path = join(parts_path, index)
        if not isinstance(part, dict):
            errors.add(part_path, 'A part is {"criteria": [criterion, ...]}.', "invalid_rule")
            continue
        _check_keys(part, ("criteria",), part_path, errors)
        criteria = part.get("criteria")
        criteria_path = join(part_path, "criteria")
        if not isinstance(criteria, list) or not MIN_CHILDREN <= len(criteria) <= MAX_CHILDREN:
            errors.add(
                criteria_path,
                f"A part has {SIZE} criteria.",
                "required" if criteria is None else "group_size",
            )
            if not isinstance(criteria, list):
                continue
        normalized = []
        for position, item in enumerate(criteria):
            item_path = join(criteria_path, position)
            if not isinstance(item, dict) or "type" not in item:
                errors.add(
                    item_path,
                    "A part's criteria are criteria: objects with a type.",
                    "invalid_rule",
                )
                continue
            normalized.append(criterion(item, item_path, errors, refs))
        groups.append({"logic": OR, "rules": normalized})
    return {"logic": AND, "rules": groups}


def _check_keys(node: dict, allowed: Iterable[str], path: str, errors: Errors) -> None:
    for key, value in node.items():
        if key in allowed or key in IGNORED_KEYS or value is None:
            continue
        errors.add(join(path, key), f"Unknown key {shown(key)} here.", "unknown_key")
