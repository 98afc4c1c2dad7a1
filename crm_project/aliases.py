"""Other names of an input's fields (seed keys, spreadsheet headers), read as the field
they stand for: every app's inputs module declares its table and applies it here."""

from collections.abc import Mapping
from typing import Any


def aliases_by_name(field_aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """{alias: field} from {field: (alias, ...)}."""
    return {alias: field for field, aliases in field_aliases.items() for alias in aliases}


def apply_aliases(data: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """`data` with each alias replaced by its field (unless the field is given too: a
    field's own name wins)."""
    result = dict(data)
    for alias, field in aliases.items():
        if alias in result:
            value = result.pop(alias)
            result.setdefault(field, value)
    return result
