"""What the parser builds: conditions (each with its phrase and the tokens it came
from) in AND/OR groups, and how a condition is negated ("not in London", "haven't
ordered in 6 months"). Groups have no NOT in the rule language, so a negation is
pushed down to the conditions (De Morgan), and what cannot be negated (a criterion, a
`starts_with`) is not understood."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from campaigns.nlp.explain import describe, listed
from campaigns.nlp.phrases import BOOLEAN_FIELDS, DATE_FIELDS

AND, OR = "AND", "OR"

_FLIPPED = {
    "=": "!=",
    "!=": "=",
    ">": "<=",
    ">=": "<",
    "<": ">=",
    "<=": ">",
    "in": "not_in",
    "not_in": "in",
    "contains": "not_contains",
    "not_contains": "contains",
    "is_empty": "is_not_empty",
    "is_not_empty": "is_empty",
    "within_last_days": "more_than_days_ago",
    "more_than_days_ago": "within_last_days",
}
# Text fields whose `=` conditions an OR merges into one `in` ("in Paris or Lyon").
_MERGEABLE = frozenset(
    {
        "city",
        "country",
        "state",
        "zip",
        "gender",
        "status",
        "type",
        "company",
        "first_name",
        "last_name",
        "email",
        "phone",
    }
)


@dataclass
class Cond:
    """A condition or a criterion. `phrase` explains it; `custom` when the parser
    wrote the phrase (an age, a country) rather than the generic explainer; `span` the
    tokens [start, end) it came from."""

    node: dict[str, Any]
    span: tuple[int, int]
    phrase: str = ""
    custom: bool = False

    def __post_init__(self) -> None:
        if not self.phrase:
            self.phrase = describe(self.node)

    def leaves(self) -> Iterator[Cond]:
        yield self

    def to_json(self) -> dict[str, Any]:
        return dict(self.node)

    def explain(self, *, nested: bool) -> str:
        return self.phrase


@dataclass
class Group:
    logic: str
    children: list[Node] = field(default_factory=list)

    def leaves(self) -> Iterator[Cond]:
        for child in self.children:
            yield from child.leaves()

    def to_json(self) -> dict[str, Any]:
        return {"logic": self.logic, "rules": [child.to_json() for child in self.children]}

    def explain(self, *, nested: bool) -> str:
        joiner = " or " if self.logic == OR else " and "
        text = joiner.join(child.explain(nested=True) for child in self.children)
        return f"({text})" if nested and len(self.children) > 1 else text


Node = Cond | Group


def condition(
    field_name: str, operator: str, value: Any, span: tuple[int, int], phrase: str = ""
) -> Cond:
    node = {"field": field_name, "operator": operator, "value": value}
    return Cond(node, span, phrase, custom=bool(phrase))


def criterion(kind: str, span: tuple[int, int], phrase: str = "", **params: Any) -> Cond:
    return Cond({"type": kind, **params}, span, phrase, custom=bool(phrase))


def negation_of(node: Node) -> Node | None:
    """The negation of `node`, or None when the rule language cannot say it."""
    if isinstance(node, Group):
        children = [negation_of(child) for child in node.children]
        if any(child is None for child in children):
            return None
        return simplified(Group(OR if node.logic == AND else AND, children))  # type: ignore[arg-type]
    if "type" in node.node:
        return None
    field_name, operator, value = (node.node[k] for k in ("field", "operator", "value"))
    if field_name in BOOLEAN_FIELDS:
        return _like(node, field_name, "=", not value)
    if field_name == "tags" and operator == "in":
        return Group(AND, [_like(node, "tags", "not_contains", tag) for tag in value])
    if operator == "between" or (operator == "=" and field_name in DATE_FIELDS):
        low, high = value if operator == "between" else (value, value)
        # Two bounds: each explained on its own ("born before ... or born after ...").
        return Group(
            OR,
            [
                condition(field_name, "<", low, node.span),
                condition(field_name, ">", high, node.span),
            ],
        )
    flipped = _FLIPPED.get(operator)
    if flipped is None:
        return None
    if field_name in DATE_FIELDS and flipped == "!=":
        return None
    return _like(node, field_name, flipped, value)


def _like(node: Cond, field_name: str, operator: str, value: Any) -> Cond:
    result = condition(field_name, operator, value, node.span)
    if node.custom:
        result = replace(result, phrase=negated_phrase(node.phrase), custom=True)
    return result


def negated_phrase(phrase: str) -> str:
    """ "country is France" -> "country is not France"; "aged 30" -> "not aged 30"."""
    head, found, tail = phrase.partition(" is ")
    if found and " " not in head.strip("()") and not tail.startswith("not "):
        return f"{head} is not {tail}"
    return f"not {phrase}"


def simplified(node: Node) -> Node:
    """Nested groups of the same logic flattened, one-child groups unwrapped, and the
    `=` alternatives of one text field (or tags) merged into one `in`."""
    if isinstance(node, Cond):
        return node
    children: list[Node] = []
    for child in (simplified(c) for c in node.children):
        if isinstance(child, Group) and (child.logic == node.logic or len(child.children) == 1):
            children.extend(child.children)
        else:
            children.append(child)
    if node.logic == OR:
        children = _merged_alternatives(children)
    children = _deduplicated(children)
    if len(children) == 1:
        return children[0]
    return Group(node.logic, children)


def _deduplicated(children: list[Node]) -> list[Node]:
    seen: list[dict[str, Any]] = []
    result: list[Node] = []
    for child in children:
        key = child.to_json()
        if key in seen:
            continue
        seen.append(key)
        result.append(child)
    return result


def _alternative_values(node: Node) -> tuple[str, list[Any]] | None:
    """(field, values) of a condition an OR may merge, or None."""
    if not isinstance(node, Cond) or "field" not in node.node:
        return None
    field_name, operator, value = (node.node[k] for k in ("field", "operator", "value"))
    if field_name == "tags" and operator in ("contains", "in"):
        return "tags", value if isinstance(value, list) else [value]
    if field_name in _MERGEABLE and operator in ("=", "in"):
        return field_name, value if isinstance(value, list) else [value]
    return None


def _merged_alternatives(children: list[Node]) -> list[Node]:
    merged: dict[str, tuple[int, list[Any], list[Cond]]] = {}
    result: list[Node | None] = []
    for child in children:
        found = _alternative_values(child)
        if found is None:
            result.append(child)
            continue
        field_name, values = found
        if field_name not in merged:
            merged[field_name] = (len(result), [], [])
            result.append(None)
        merged[field_name][1].extend(v for v in values if v not in merged[field_name][1])
        merged[field_name][2].append(child)  # type: ignore[arg-type]
    for field_name, (index, values, sources) in merged.items():
        if len(sources) == 1:
            result[index] = sources[0]
            continue
        span = (min(s.span[0] for s in sources), max(s.span[1] for s in sources))
        operator = "in"
        phrase = ""
        if all(s.custom for s in sources):
            phrase = " or ".join(s.phrase for s in sources)
        elif field_name != "tags":
            phrase = f"{field_name.replace('_', ' ')} is {listed(values)}"
        result[index] = condition(field_name, operator, values, span, phrase)
    return [child for child in result if child is not None]
