"""The errors services raise: each app's refusals in plain Python, with no knowledge of
HTTP. The API layer maps them to the one error shape (crm_project.api.errors:
`Invalid` is a 400, `Conflict` a 409); pages, the admin and commands show their
message.

`detail` is a message, or a mapping that names the fields at fault: `{"amount":
"..."}`, `{"items": [{}, {"quantity": [FieldError("...", "min_value")]}]}` (list
positions as in the API's `attr`, `items.1.quantity`). A plain message takes the
error's `code`; a `FieldError` carries its own."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """A message with its own code, inside a `detail` mapping."""

    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        return self.message


class ServiceError(Exception):
    default_code = "invalid"

    def __init__(self, detail: Any, *, code: str | None = None) -> None:
        self.detail = detail
        self.code = code or self.default_code
        super().__init__(first_message(detail))


class Invalid(ServiceError):
    """The input cannot be written as it is (the API answers 400)."""


class Conflict(ServiceError):
    """A unique key or the record's current state refuses the write (the API answers
    409)."""

    default_code = "conflict"


def first_message(detail: Any) -> str:
    """The first message of a `detail`, for pages, logs and commands."""
    if isinstance(detail, dict):
        for value in detail.values():
            if message := first_message(value):
                return message
        return ""
    if isinstance(detail, list | tuple):
        for value in detail:
            if message := first_message(value):
                return message
        return ""
    return str(detail)
