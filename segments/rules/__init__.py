"""The segment rule language (SPEC section 5): validation and normalization.

`validate_rule(data)` reads what a client sends as `rules` (a group, a condition or a
criterion) or as Open Loyalty `parts`, and answers the *normalized* rule: the one form
the rest of the product stores, shows and compiles (segments.compiler). Validating a
normalized rule again returns it unchanged.

The package, in the order a rule meets it:
- `vocabulary`: field types, operators, fields, criteria and limits;
- `limits`: the whole rule's size and nesting, and NUL characters anywhere;
- `groups`: groups and Open Loyalty parts; `conditions` and `criteria`: the leaves;
- `values`: coercion of each value; `errors`: how problems are reported;
- `references`: agents and points of sale checked against the account;
- `open_loyalty`: a normalized rule answered in Open Loyalty's form (`parts`).

Errors: a DRF `ValidationError` whose detail maps the dotted path of every offending
node (`rules.rules.1.operator`, `parts.0.criteria.2.from_amount`) to its messages;
every problem is reported, not only the first."""

from typing import Any

from accounts.models import Account
from segments.rules import limits
from segments.rules.errors import Errors, join
from segments.rules.groups import parts, parts_rule, rule
from segments.rules.open_loyalty import rule_to_parts
from segments.rules.references import References
from segments.rules.vocabulary import CRITERIA, FIELDS, MAX_CHILDREN

__all__ = ["CRITERIA", "FIELDS", "MAX_CHILDREN", "rule_to_parts", "validate_rule"]

_RULE_KEYS = frozenset({"rules", "logic", "field", "type"})


def validate_rule(data: Any, *, attr: str = "rules", account: Account | None = None) -> dict:
    """The normalized rule of `data`, or a ValidationError listing every problem by its
    dotted path under `attr`.

    `data` is a rule, `{"parts": [...]}` or a bare list of parts. Parts' paths run under
    `attr` (`parts.0.criteria.1.type` with `attr="parts"`, `rules.parts.0...` with the
    default). With `account`, agent and point-of-sale references must be its own, and
    points of sale named by code are stored by id."""
    errors, refs = Errors(), References()
    if data is None:
        errors.add(attr, "A rule is required.", "required")
        errors.raise_if_any()
    if isinstance(data, dict) and "parts" in data and not (_RULE_KEYS & data.keys()):
        parts_path = attr if attr.rsplit(".", 1)[-1] == "parts" else join(attr, "parts")
        roots = [(v, parts_path if k == "parts" else join(attr, k)) for k, v in data.items()]
        limits.check(roots, attr, errors)
        errors.raise_if_any()
        result = parts_rule(data, attr, parts_path, 0, errors, refs)
    else:
        limits.check([(data, attr)], attr, errors)
        errors.raise_if_any()
        if isinstance(data, list):
            result = parts(data, attr, 0, errors, refs)
        else:
            result = rule(data, attr, 0, errors, refs)
    errors.raise_if_any()
    if account is not None:
        refs.check(account, errors)
        errors.raise_if_any()
    assert result is not None
    return refs.by_id(result)
