"""A normalized rule answered in Open Loyalty's form, `parts`, when it has that shape."""

import uuid
from typing import Any

from segments.rules.vocabulary import AND, IGNORED_KEYS, OR

# Ids of parts and criteria when no namespace (a segment id) is given.
PARTS_NAMESPACE = uuid.UUID("5d0f8f0e-52a4-4c1b-9d7c-0f3b9a6e2c11")


def _is_criterion(node: Any) -> bool:
    return isinstance(node, dict) and "type" in node and "field" not in node and "rules" not in node


def _is_or_of_criteria(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and node.get("logic") == OR
        and isinstance(node.get("rules"), list)
        and all(_is_criterion(c) for c in node["rules"])
    )


def _clauses(rule: Any) -> list[list[dict]] | None:
    """The criteria of an AND of ORs (a lone criterion, an OR of criteria, or an AND
    whose children are criteria or ORs of criteria), by part; else None."""
    if _is_criterion(rule):
        return [[rule]]
    if _is_or_of_criteria(rule):
        return [rule["rules"]]
    if not (isinstance(rule, dict) and rule.get("logic") == AND):
        return None
    clauses = []
    for child in rule.get("rules", []):
        if _is_criterion(child):
            clauses.append([child])
        elif _is_or_of_criteria(child):
            clauses.append(child["rules"])
        else:
            return None
    return clauses


def rule_to_parts(rule: Any, namespace: uuid.UUID | str | None = None) -> list | None:
    """The Open Loyalty `parts` of a normalized rule that is an AND of ORs of criteria,
    else None. Each part and criterion carries a stable id, a uuid5 of `namespace` (the
    segment's id) and its path: `segment_part_id` / `criterion_id`, and `id` as
    everywhere in the API."""
    clauses = _clauses(rule)
    if clauses is None:
        return None
    base = uuid.UUID(namespace) if isinstance(namespace, str) else namespace or PARTS_NAMESPACE
    parts = []
    for i, criteria in enumerate(clauses):
        part_id = str(uuid.uuid5(base, f"parts.{i}"))
        parts.append(
            {
                "id": part_id,
                "segment_part_id": part_id,
                "criteria": [
                    {
                        "id": (criterion_id := str(uuid.uuid5(base, f"parts.{i}.criteria.{j}"))),
                        "criterion_id": criterion_id,
                        **{k: v for k, v in criterion.items() if k not in IGNORED_KEYS},
                    }
                    for j, criterion in enumerate(criteria)
                ],
            }
        )
    return parts
