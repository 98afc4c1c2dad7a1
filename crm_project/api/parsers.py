"""JSON in, with the seeds' habits forgiven: camelCase keys are read as snake_case, except
inside user data objects (`metadata`, `attributes`, `custom_fields`), kept as sent.
Per-resource aliases (seed 001's French keys, `lead_id`, ...) are then matched in
snake_case by the serializers.

What PostgreSQL or Python cannot take is refused here, once for every endpoint, as a
400: a NUL character in any string (text and jsonb refuse it), named by its dotted
path, and documents nested deeper than `MAX_DEPTH`."""

import re
from collections.abc import Iterator
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError

USER_DATA_KEYS = frozenset({"metadata", "attributes", "custom_fields"})
# Far above any document of the API (segment rules nest at most 5 groups), far below
# Python's recursion limit.
MAX_DEPTH = 64
# At most this many NUL errors are listed in one answer.
MAX_NUL_ERRORS = 20
NUL_CODE = "null_characters_not_allowed"
NUL_DETAIL = "NUL characters (\\u0000) are not allowed."

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(key: str) -> str:
    """`firstName` -> `first_name`, `countryIso3` -> `country_iso3`, `IdClient` ->
    `id_client`, `Nom` -> `nom`; snake_case keys are unchanged."""
    return _BOUNDARY.sub("_", key).lower()


def snake_case_keys(data: Any) -> Any:
    if isinstance(data, dict):
        converted: dict[str, Any] = {}
        for key, value in data.items():
            new_key = snake_case(key) if isinstance(key, str) else key
            if new_key in USER_DATA_KEYS:
                converted[new_key] = value
            else:
                converted.setdefault(new_key, snake_case_keys(value))
        return converted
    if isinstance(data, list):
        return [snake_case_keys(item) for item in data]
    return data


def _nodes(data: Any) -> Iterator[tuple[tuple[str, ...], Any, int]]:
    """(path, value, depth) of every object, list, key and scalar, without recursion
    (the document may be nested deeper than Python can recurse). A key is yielded as
    its own path's last part."""
    stack: list[tuple[tuple[str, ...], Any, int]] = [((), data, 1)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append(((*path, str(key)), item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append(((*path, str(index)), item, depth + 1))


def _too_deep() -> ParseError:
    return ParseError(
        f"JSON nested more than {MAX_DEPTH} levels deep is not accepted.", code="too_deep"
    )


def refuse_too_deep(data: Any) -> None:
    if any(depth > MAX_DEPTH for _path, _value, depth in _nodes(data)):
        raise _too_deep()


def refuse_nul_characters(data: Any) -> None:
    """A 400 naming the dotted path (list indexes included) of each string, or key,
    holding U+0000. A bad key is named with the character written `\\u0000`."""
    bad: dict[str, list[ErrorDetail]] = {}
    message = ErrorDetail(NUL_DETAIL, code=NUL_CODE)
    for path, value, _depth in _nodes(data):
        if (path and "\x00" in path[-1]) or (isinstance(value, str) and "\x00" in value):
            attr = ".".join(part.replace("\x00", "\\u0000") for part in path)
            bad[attr or "non_field_errors"] = [message]
            if len(bad) >= MAX_NUL_ERRORS:
                break
    if bad:
        raise ValidationError(dict(sorted(bad.items())))


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # deeper than the decoder itself can go
            raise _too_deep() from None
        refuse_too_deep(data)
        data = snake_case_keys(data)
        refuse_nul_characters(data)
        return data
