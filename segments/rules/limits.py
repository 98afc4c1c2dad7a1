"""The whole rule, before its structure is read: at most MAX_NODES objects and
MAX_RULE_BYTES of compact JSON, arrays and objects at most MAX_NESTING deep, keys that
are strings, and no NUL character in any key or string (PostgreSQL cannot store one in
text, and a rule may come from a form or another app, not only the API's parser).

One pass, without recursion, that stops as soon as the rule is too large: its cost is
bounded by the limits, whatever the size of what was sent."""

from collections.abc import Iterable
from typing import Any

from crm_project.api.parsers import NUL_CODE
from segments.rules.errors import Errors, join
from segments.rules.vocabulary import MAX_NESTING, MAX_NODES, MAX_RULE_BYTES

NUL = "\x00"
TOO_LARGE_CODE = "rule_too_large"


def check(roots: Iterable[tuple[Any, str]], attr: str, errors: Errors) -> None:
    """Record at `attr` a rule that is too large or too deeply nested (and stop there),
    else every NUL character (at the path of its string or key, the character written
    `\\u0000` in a key, as the API's parser writes it) and non-string key. `roots`:
    (value, path) of what the validator walks."""
    stack = [(value, path, 1) for value, path in roots]
    nodes = size = 0
    while stack:
        value, path, nesting = stack.pop()
        if nesting > MAX_NESTING:
            errors.add(attr, f"A rule nests at most {MAX_NESTING} arrays and objects.", "too_deep")
            return
        if isinstance(value, dict):
            nodes += 1
            size += 1 + 2 * len(value)  # {} , :
            for key, item in value.items():
                if not isinstance(key, str):
                    errors.add(path, "Keys are strings.", "invalid_rule")
                    continue
                size += _text_size(key)
                if NUL in key:  # named as the API's parser names it
                    key = key.replace(NUL, "\\u0000")
                    errors.add(join(path, key), "A key contains a NUL character.", NUL_CODE)
                stack.append((item, join(path, key), nesting + 1))
        elif isinstance(value, list):
            size += 1 + len(value)  # [] ,
            stack.extend((item, join(path, i), nesting + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            size += _text_size(value)
            if NUL in value:
                errors.add(path, "Text may not contain NUL characters.", NUL_CODE)
        else:
            size += _scalar_size(value)
        if nodes > MAX_NODES or size > MAX_RULE_BYTES:
            errors.add(
                attr,
                f"A rule has at most {MAX_NODES} objects (groups, conditions, criteria, "
                f"parts) and {MAX_RULE_BYTES:,} bytes of JSON.",
                TOO_LARGE_CODE,
            )
            return


def _text_size(text: str) -> int:
    """Bytes of a JSON string (UTF-8; escapes aside): 2 quotes and its characters."""
    if len(text) > MAX_RULE_BYTES:  # too large whatever its encoding
        return len(text)
    return 2 + len(text.encode("utf-8", "surrogatepass"))


def _scalar_size(value: Any) -> int:
    """Bytes of a number, true, false or null, about (a huge number is not spelled out;
    a Decimal, UUID or date given by another app counts as a UUID's text)."""
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    return len(repr(value)) if isinstance(value, float) else 38
