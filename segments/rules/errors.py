"""How the validator reports problems: each at the dotted path of its node
(`rules.rules.1.operator`, `parts.0.criteria.2.from_amount`), all of them at once, in
one DRF ValidationError (the API's error shape makes each path an `attr`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import ErrorDetail, ValidationError

SHOWN_CHARACTERS = 60  # of a client's value quoted back in a message


class Invalid(Exception):
    """A value that cannot be coerced: its message and error code, or (`items`) the
    problems of some items of a list, by index."""

    def __init__(self, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.items: dict[int, Invalid] = {}

    @classmethod
    def in_items(cls, items: dict[int, Invalid]) -> Invalid:
        error = cls("Some values of the list are invalid.")
        error.items = items
        return error


@dataclass
class Errors:
    by_path: dict[str, list[ErrorDetail]] = field(default_factory=dict)

    def add(self, path: str, message: str, code: str) -> None:
        self.by_path.setdefault(path, []).append(ErrorDetail(message, code=code))

    def invalid(self, path: str, error: Invalid) -> None:
        if not error.items:
            self.add(path, error.message, error.code)
        for index, item in error.items.items():
            self.invalid(join(path, index), item)

    def raise_if_any(self) -> None:
        if self.by_path:
            raise ValidationError(self.by_path)


def join(path: str, *parts: object) -> str:
    return ".".join([path, *map(str, parts)]) if path else ".".join(map(str, parts))


def shown(value: Any) -> str:
    """A client's value as a message quotes it: its repr, shortened."""
    if not isinstance(value, str | int | float | bool | None):
        return f"a {type(value).__name__}"
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a number"
    if len(text) > SHOWN_CHARACTERS:
        return text[: SHOWN_CHARACTERS - 3] + "..."
    return text
