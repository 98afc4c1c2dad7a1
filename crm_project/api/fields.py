"""Serializer fields shared by every app's API."""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP
from operator import attrgetter
from typing import Any

from django.core.validators import EmailValidator
from django.db import models
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField

from crm_project import datetimes
from crm_project.choices import choice_key, choice_lookup
from crm_project.phones import InvalidPhone, account_region, normalize_phone


class ChoiceField(serializers.ChoiceField):
    """Choice values read as every input reads them (crm_project.choices:
    `COMPLETED`, `e-commerce`, `Read Only`), and the other spellings in `aliases`
    (`{"femme": "female"}`); answers give the canonical value."""

    def __init__(self, choices: Any, *, aliases: Mapping[str, str] | None = None, **kwargs: Any):
        super().__init__(choices, **kwargs)
        self._lookup = {
            **{choice_key(alias): value for alias, value in (aliases or {}).items()},
            **choice_lookup(self.choices),
        }

    def to_internal_value(self, data: Any) -> Any:
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, str | int):
            canonical = self._lookup.get(choice_key(data))
            if canonical is not None:
                return canonical
        self.fail("invalid_choice", input=data)
        return None


class ModelSerializer(serializers.ModelSerializer):
    """Model serializers of the API: lenient choices, money with two places and
    account-timezone datetimes everywhere, and a fast read path for lists."""

    serializer_choice_field = ChoiceField

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """DRF's answer, computed faster: a plan made once per serializer (a list
        serializer's child serves every row) reads model columns straight from the
        instance and formats the common types without DRF's per-field dispatch; other
        fields go through DRF as usual. tests/crm_project/test_fast_representation.py
        holds it equal to DRF's own `to_representation`."""
        plan = self.__dict__.get("_read_plan")
        if plan is None:
            plan = self.__dict__["_read_plan"] = _read_plan(self)
        ret: dict[str, Any] = {}
        for name, getter, formatter, field in plan:
            if getter is None:
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
                value = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
                ret[name] = None if value is None else field.to_representation(attribute)
            else:
                value = getter(instance)
                ret[name] = None if value is None else formatter(value)
        return ret

    def build_standard_field(self, field_name: str, model_field: Any) -> Any:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.DecimalField) and model_field.decimal_places == 2:
            field_class = MoneyField
        elif isinstance(model_field, models.DateTimeField):
            field_class = DateTimeField
        return field_class, field_kwargs


def _utc_iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _read_plan(serializer: serializers.ModelSerializer) -> list[tuple[str, Any, Any, Any]]:
    """(name, getter, formatter, field) per readable field; getter None: ask DRF."""
    opts = serializer.Meta.model._meta  # type: ignore[attr-defined]
    columns = {f.name: f for f in opts.concrete_fields}
    exact: dict[type, Any] = {
        serializers.CharField: str,
        serializers.EmailField: str,
        serializers.IntegerField: int,
        serializers.BooleanField: bool,
        serializers.UUIDField: str,
        serializers.DateField: lambda v: v.isoformat(),
        DateTimeField: _utc_iso,
    }
    plan: list[tuple[str, Any, Any, Any]] = []
    for field in serializer._readable_fields:
        source = field.source_attrs[0] if len(field.source_attrs) == 1 else None
        column = columns.get(source) if source else None
        if column is None:
            plan.append((field.field_name, None, None, field))
        elif isinstance(column, models.ForeignKey):
            if type(field) is PrimaryKeyRelatedField and field.pk_field is None:
                plan.append((field.field_name, attrgetter(column.attname), lambda v: v, field))
            else:
                plan.append((field.field_name, None, None, field))
        elif type(field) in exact:
            plan.append((field.field_name, attrgetter(column.attname), exact[type(field)], field))
        elif type(field) is serializers.JSONField and not field.binary:
            plan.append((field.field_name, attrgetter(column.attname), lambda v: v, field))
        else:
            # A model column read directly, formatted by the field itself.
            plan.append(
                (field.field_name, attrgetter(column.attname), field.to_representation, field)
            )
    return plan


class MoneyField(serializers.DecimalField):
    """Money: numbers or decimal strings in, a string with two places out, rounded
    half-up; never a float."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, float):
            # JSON numbers arrive as floats: read their shortest text, not their binary.
            data = repr(data)
        return super().to_internal_value(data)


class DateTimeField(serializers.DateTimeField):
    """ISO 8601 in and out (UTC with offset on output), read by
    crm_project.datetimes: a value without an offset is in the account's timezone, a
    bare date means 00:00 there, seed 002's `MM-dd-yyyy HH:mm:ss` is read too, and an
    instant outside the years 1 to 9999 is a 400 naming the field."""

    default_error_messages = {"out_of_range": datetimes.OUT_OF_RANGE}

    def to_internal_value(self, value: Any) -> datetime:
        try:
            moment, _is_date = datetimes.parse_account_datetime(
                value, datetimes.account_zone(self.context.get("account"))
            )
        except datetimes.InvalidDateTime as exc:
            if exc.code == "out_of_range":
                self.fail("out_of_range")
            self.fail("invalid", format="ISO 8601 or MM-dd-yyyy HH:mm:ss")
        return moment

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        return super().to_representation(value)


def json_object(value: Any) -> dict[str, Any]:
    """A user-data object field's value (`metadata`, `attributes`), or a 400."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected an object.", code="not_an_object")
    return value


class ContactFields:
    """What the serializers of people share (customers, leads): a null clears a field
    (text becomes "", the fields of NULL_EMPTIES their empty value), emails are trimmed
    and syntax-checked, phones normalized in the account's region, a blank external
    id is none. Mixed into a ModelSerializer whose context holds the account."""

    # Fields whose null is an empty value other than "": {"tags": list, ...}.
    NULL_EMPTIES: dict[str, type] = {}

    fields: Any
    context: Any

    def clear_nulls(self, data: dict[str, Any]) -> dict[str, Any]:
        blank = self._blank_for_null()
        for key, value in list(data.items()):
            if value is None:
                if key in self.NULL_EMPTIES:
                    data[key] = self.NULL_EMPTIES[key]()
                elif key in blank:
                    data[key] = ""
        return data

    def _blank_for_null(self) -> set[str]:
        return {
            name
            for name, field in self.fields.items()
            if isinstance(field, serializers.CharField)
            and field.allow_blank
            and not field.allow_null
            and not field.read_only
        }

    def validate_email(self, value: str) -> str:
        value = value.strip()
        if value:
            EmailValidator(message="Enter a valid email address.")(value)
        return value

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone(value, account_region(self.context.get("account")))
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc), code="invalid_phone") from None

    def validate_external_id(self, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None
