"""Query-parameter filters shared by every app's FilterSets: they refuse what the
schema calls invalid (a 400 naming the parameter) where django-filter would quietly
ignore it."""

from typing import Any

from django import forms
from django_filters import filters


class StrictBooleanField(forms.NullBooleanField):
    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        text = "" if value is None else str(value).strip().lower()
        if not text:
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class BooleanFilter(filters.BooleanFilter):
    """`true` or `false` (any case; `1` and `0` too); anything else is a 400."""

    field_class = StrictBooleanField
