"""Query-parameter filters shared by every app's FilterSets: they refuse what the
schema calls invalid (a 400 naming the parameter) where django-filter would quietly
ignore it."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django_filters import filters

from crm_project.choices import choice_key, choice_lookup
from crm_project.datetimes import InvalidDateTime, parse_account_datetime


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


class LenientChoiceFormField(forms.ChoiceField):
    """Choice values read as the API reads them (crm_project.choices)."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        canonical = choice_lookup(choice for choice, _label in self.choices).get(choice_key(text))
        return text if canonical is None else str(canonical)


class LenientChoiceFilter(filters.ChoiceFilter):
    field_class = LenientChoiceFormField


class AccountDateTimeFormField(forms.CharField):
    """An ISO datetime or a bare date, read by crm_project.datetimes: without an offset
    it is in the account's timezone and a bare date means 00:00 there (SPEC: API
    conventions); an instant outside the years 1 to 9999 is refused."""

    def __init__(self, *args: Any, timezone_name: str = "UTC", **kwargs: Any) -> None:
        self.timezone_name = timezone_name
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            moment, _is_date = parse_account_datetime(text, ZoneInfo(self.timezone_name))
        except InvalidDateTime as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return moment


class AccountDateTimeFilter(filters.Filter):
    field_class = AccountDateTimeFormField
