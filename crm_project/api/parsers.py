"""JSON in, with the seeds' habits forgiven: camelCase keys are read as snake_case, except
inside user data objects (`metadata`, `attributes`, `custom_fields`), kept as sent.
Per-resource aliases (seed 001's French keys, `lead_id`, ...) are then matched in
snake_case by the serializers."""

import re
from typing import Any

from rest_framework import parsers

USER_DATA_KEYS = frozenset({"metadata", "attributes", "custom_fields"})

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


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return snake_case_keys(super().parse(stream, media_type, parser_context))
