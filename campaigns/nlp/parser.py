"""The offline parser: a prompt's Items assembled into one rule, checked by the
segments validator, explained, and what was not understood quoted back.

Assembly: items joined by "or" (or by commas in a run that ends with "or") form an
OR group; everything else is ANDed, the secondary conditions of verbs with a time
window ("spent over 500 in the last year") last. Alternatives of the whole prompt
("..., or customers who ...") are ORed. The rule is then validated with
`segments.rules.validate_rule`; a condition the validator refuses (a value out of its
range, say) is dropped and its words reported as not understood, so the answer is
always a valid rule, or none."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rest_framework.exceptions import ValidationError

from accounts.models import Account
from campaigns.nlp.grammar import Grammar, Item, PosResolver
from campaigns.nlp.tokens import WORD, tokenize
from campaigns.nlp.tree import AND, OR, Cond, Group, Node, simplified
from segments.rules import MAX_CHILDREN, validate_rule

NO_RULE = "No condition could be understood."
MAX_ATTEMPTS = 10  # validations, each dropping what the previous one refused


@dataclass(frozen=True)
class SegmentParse:
    """What a prompt means: `rules` (a normalized rule, or None), `explanation` (plain
    English), `unparsed` (fragments of the prompt not understood, verbatim) and
    `source` (`offline` or `llm`)."""

    rules: dict[str, Any] | None
    explanation: str
    unparsed: list[str] = field(default_factory=list)
    source: str = "offline"

    def as_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "explanation": self.explanation, "unparsed": self.unparsed}


def offline_parse(
    prompt: str,
    *,
    today: date,
    account: Account | None = None,
    pos_resolver: PosResolver | None = None,
) -> SegmentParse:
    """`prompt` read by the built-in English grammar. `today` is the account's today
    (ages and dates are relative to it); `account`, when given, has the validator check
    references (points of sale) against it; `pos_resolver` turns a point of sale's name
    into ids ("bought at the Paris store"); without it such phrases are not understood."""
    tokens = tokenize(prompt)
    grammar = Grammar(prompt, tokens, today=today, pos_resolver=pos_resolver)
    alternatives = grammar.parse()
    root = _assembled(alternatives)
    rules: dict[str, Any] | None = None
    for _ in range(MAX_ATTEMPTS):
        if root is None:
            break
        root, dropped = _within_limits(root)
        for leaf in dropped:
            grammar._mark(*leaf.span, Grammar.UNKNOWN)
        if root is None:
            break
        try:
            rules = validate_rule(root.to_json(), account=account)
        except ValidationError as exc:
            refused = _refused_leaves(root, exc.detail)
            if not refused:
                root = None
                break
            for leaf in refused:
                grammar._mark(*leaf.span, Grammar.UNKNOWN)
            root = _without(root, refused)
            continue
        break
    else:
        root = None
    if root is None or rules is None:
        return SegmentParse(None, NO_RULE, [prompt.strip()] if prompt.strip() else [])
    text = root.explain(nested=False)
    explanation = text[:1].upper() + text[1:] + "."
    return SegmentParse(rules, explanation, _fragments(prompt, grammar))


def _assembled(alternatives: list[list[Item]]) -> Group | None:
    roots = [root for root in (_alternative(items) for items in alternatives) if root]
    if not roots:
        return None
    node = simplified(Group(OR, roots)) if len(roots) > 1 else roots[0]
    return node if isinstance(node, Group) else Group(AND, [node])


def _alternative(items: list[Item]) -> Node | None:
    runs: list[list[Item]] = []
    for item in items:
        if not item.primary:
            continue
        if not runs or item.connector == "and":
            runs.append([item])
        else:
            runs[-1].append(item)
    children: list[Node] = []
    secondary: list[Node] = []
    for run in runs:
        if len(run) > 1 and any(item.connector == "or" for item in run[1:]):
            children.append(Group(OR, [_item_node(item) for item in run]))
            continue
        for item in run:
            children.extend(item.primary)
            secondary.extend(item.secondary)
    if not children:
        return None
    return simplified(Group(AND, children + secondary))


def _item_node(item: Item) -> Node:
    nodes = item.primary + item.secondary
    return nodes[0] if len(nodes) == 1 else Group(AND, nodes)


def _within_limits(root: Group) -> tuple[Group | None, list[Cond]]:
    """The rule cut to MAX_CHILDREN per group; the leaves cut off."""
    dropped: list[Cond] = []

    def cut(node: Node) -> Node:
        if isinstance(node, Cond):
            return node
        kept = node.children[:MAX_CHILDREN]
        for extra in node.children[MAX_CHILDREN:]:
            dropped.extend(extra.leaves())
        return Group(node.logic, [cut(child) for child in kept])

    result = cut(root)
    assert isinstance(result, Group)
    return result, dropped


def _refused_leaves(root: Group, detail: Any) -> list[Cond]:
    """The leaves under each path the validator names (`rules.rules.1.value`)."""
    paths = detail.keys() if isinstance(detail, dict) else []
    refused: list[Cond] = []
    for path in paths:
        parts = str(path).split(".")[1:]  # after "rules"
        node: Node = root
        while len(parts) >= 2 and parts[0] == "rules" and isinstance(node, Group):
            index = int(parts[1]) if parts[1].isdigit() else -1
            if not 0 <= index < len(node.children):
                break
            node = node.children[index]
            parts = parts[2:]
        refused.extend(node.leaves())
    return refused


def _without(root: Group, refused: list[Cond]) -> Group | None:
    ids = {id(leaf) for leaf in refused}

    def prune(node: Node) -> Node | None:
        if isinstance(node, Cond):
            return None if id(node) in ids else node
        children = [c for c in (prune(child) for child in node.children) if c is not None]
        return Group(node.logic, children) if children else None

    result = prune(root)
    if result is None:
        return None
    node = simplified(result)
    return node if isinstance(node, Group) else Group(AND, [node])


def _fragments(prompt: str, grammar: Grammar) -> list[str]:
    """Runs of words not understood, verbatim; words that carry no condition and
    "and"/"or" between such words belong to the run."""
    state, tokens = grammar.state, grammar.tokens
    fragments: list[str] = []
    i = 0
    while i < len(tokens):
        if state[i] != Grammar.UNKNOWN:
            i += 1
            continue
        start = end = i
        j = i + 1
        while j < len(tokens):
            if state[j] == Grammar.UNKNOWN:
                end = j
            elif not (
                state[j] == Grammar.FILLER
                or (state[j] == Grammar.CONNECTOR and tokens[j].kind == WORD)
            ):
                break
            j += 1
        fragments.append(prompt[tokens[start].start : tokens[end].end])
        i = end + 1
    return fragments
