"""`POST /campaigns/ai/parse-segment/`: `parse_segment` asks the LLM when `LLM_URL` is
set (its rule checked by the same validator) and falls back to `offline_parse`: a
prompt's Items (campaigns.nlp.grammar) assembled into one rule, checked by the segments
validator, explained, and what was not understood quoted back.

Assembly: items joined by "or" (or by commas in a run that ends with "or") form an
OR group; everything else is ANDed, the secondary conditions of verbs with a time
window ("spent over 500 in the last year") last. Alternatives of the whole prompt
("..., or customers who ...") are ORed. The rule is then validated with
`segments.rules.validate_rule`; a condition the validator refuses (a value out of its
range, say) is dropped and its words reported as not understood, so the answer is
always a valid rule, or none."""

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rest_framework.exceptions import ValidationError

from accounts.models import Account
from campaigns.errors import InvalidRequest, LlmUnavailable
from campaigns.llm import llm_configured, llm_json
from campaigns.nlp.explain import explain_rule
from campaigns.nlp.grammar import Grammar, Item, PosResolver
from campaigns.nlp.tokens import WORD, tokenize
from campaigns.nlp.tree import AND, OR, Cond, Group, Node, simplified
from segments.rules import CRITERIA, FIELDS, MAX_CHILDREN, validate_rule
from segments.rules.vocabulary import OPERATORS_BY_TYPE

logger = logging.getLogger("campaigns.nlp")

NO_RULE = "No condition could be understood."
MAX_ATTEMPTS = 10  # validations, each dropping what the previous one refused
MAX_PROMPT = 2000  # characters
MAX_UNPARSED = 20  # fragments an LLM may report


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


def parse_segment(
    prompt: Any,
    *,
    today: date,
    account: Account | None = None,
    pos_resolver: PosResolver | None = None,
) -> SegmentParse:
    """`POST /campaigns/ai/parse-segment/`: the rule `prompt` describes. With `LLM_URL`
    set the model is asked first and its rule goes through the same validator; on any
    failure (or no rule) the offline parser answers. InvalidRequest (attr `prompt`)
    for a prompt that is not text, is blank, holds NUL characters or is too long."""
    text = clean_prompt(prompt)
    if llm_configured():
        try:
            return llm_parse(text, today=today, account=account)
        except LlmUnavailable as exc:
            logger.info("parse-segment falls back to the offline parser: %s", exc)
    return offline_parse(text, today=today, account=account, pos_resolver=pos_resolver)


def clean_prompt(prompt: Any) -> str:
    if not isinstance(prompt, str):
        raise InvalidRequest("A prompt is text.", code="invalid_type", attr="prompt")
    if "\x00" in prompt:
        raise InvalidRequest("Prompts cannot contain NUL characters.", attr="prompt")
    if not prompt.strip():
        raise InvalidRequest("Describe the customers to select.", code="blank", attr="prompt")
    if len(prompt) > MAX_PROMPT:
        raise InvalidRequest(
            f"Prompts are at most {MAX_PROMPT} characters.", code="max_length", attr="prompt"
        )
    return prompt


def llm_parse(prompt: str, *, today: date, account: Account | None = None) -> SegmentParse:
    """The model's rule for `prompt`, validated; LlmUnavailable when it gives none that
    passes the validator."""
    answer = llm_json(system=llm_instructions(today), user=prompt)
    raw = answer.get("rules")
    if not raw:
        raise LlmUnavailable("no rule")
    try:
        rules = validate_rule(raw, account=account)
    except ValidationError as exc:
        raise LlmUnavailable(f"invalid rule: {exc.detail}") from exc
    if "logic" not in rules:
        rules = {"logic": AND, "rules": [rules]}
    unparsed = answer.get("unparsed")
    fragments = [
        f for f in (unparsed if isinstance(unparsed, list) else []) if isinstance(f, str) and f
    ]
    fragments = [f for f in fragments[:MAX_UNPARSED] if f in prompt]
    return SegmentParse(rules, explain_rule(rules), fragments, source="llm")


def llm_instructions(today: date) -> str:
    """What the model is told: the rule language, from the validator's own vocabulary."""
    fields = {name: spec.type for name, spec in FIELDS.items()}
    operators = {kind: list(names) for kind, names in OPERATORS_BY_TYPE.items()}
    criteria = {kind: [p.name for p in spec.params] for kind, spec in CRITERIA.items()}
    return (
        "You translate a description of customers into a segment rule of a CRM. Answer "
        'one JSON object: {"rules": RULE or null, "unparsed": [fragments of the '
        "description you could not express, verbatim]}. A RULE is a group "
        '{"logic": "AND"|"OR", "rules": [RULE, ...]}, a condition {"field", "operator", '
        '"value"} or a criterion {"type", ...parameters}. Fields and their types: '
        f"{json.dumps(fields)}; custom fields are metadata.KEY (lower snake case). "
        f"Operators by type: {json.dumps(operators)}. Criteria on orders and their "
        f"parameters: {json.dumps(criteria)}. Dates are ISO (YYYY-MM-DD); today is "
        f"{today.isoformat()}. Relative dates use within_last_days N or "
        "more_than_days_ago N. An age is a date_of_birth range. Money is a plain number. "
        "Countries are matched with `in` on their ISO code and English name."
    )


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
