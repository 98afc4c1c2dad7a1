"""Serializer fields shared by every app's API."""

import re
from typing import Any

from rest_framework import serializers

_IGNORED = re.compile(r"[\s_\-]+")


def _choice_key(value: Any) -> str:
    return _IGNORED.sub("", str(value)).lower()


class ChoiceField(serializers.ChoiceField):
    """Choice values read case-insensitively with `-`, `_` and spaces ignored
    (`COMPLETED`, `e-commerce`, `Read Only`); answers give the canonical value."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        super().__init__(choices, **kwargs)
        self._lookup = {_choice_key(key): key for key in self.choices}

    def to_internal_value(self, data: Any) -> Any:
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, str | int):
            canonical = self._lookup.get(_choice_key(data))
            if canonical is not None:
                return canonical
        self.fail("invalid_choice", input=data)
        return None


class ModelSerializer(serializers.ModelSerializer):
    """Model serializers of the API: lenient choices everywhere."""

    serializer_choice_field = ChoiceField
