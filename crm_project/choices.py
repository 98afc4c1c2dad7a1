"""Choice values as every input reads them (API bodies, query filters, pages):
case-insensitively, with `-`, `_` and spaces ignored (`COMPLETED`, `e-commerce`,
`Read Only`); the stored value is the canonical one."""

import re
from collections.abc import Iterable
from typing import Any

_IGNORED = re.compile(r"[\s_\-]+")


def choice_key(value: Any) -> str:
    """What two spellings of one choice have in common: `Read Only` -> `readonly`."""
    return _IGNORED.sub("", str(value)).lower()


def choice_lookup(values: Iterable[Any]) -> dict[str, Any]:
    """{choice_key(value): value} for the canonical `values`."""
    return {choice_key(value): value for value in values}
