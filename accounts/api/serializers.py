from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from rest_framework import serializers

from accounts import selectors
from accounts.models import Account, Agent, ApiKey, Role, slug_validator
from crm_project.api.fields import ChoiceField, ModelSerializer
from crm_project.currencies import validate_currency_code

ACCOUNT_FIELDS = [
    "id",
    "name",
    "slug",
    "email",
    "phone_number",
    "description",
    "country_iso3",
    "state",
    "timezone",
    "type",
    "website",
    "attributes",
    "ai_assistant_name",
    "status",
    "default_phone_region",
    "loyalty_earn_rate",
    "max_credit_refusals",
    "lead_consent_required",
    "area_code",
    "currency",
    "send_rate_per_second",
    "feedback_reminder_days",
    "feedback_max_reminders",
    "created_at",
    "updated_at",
]


class CurrencyField(serializers.CharField):
    """An ISO 4217 code, read in any case (`eur` is `EUR`)."""

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).upper()


class WebsiteField(serializers.URLField):
    """A web address; one without a scheme (seed 002's `www.google.co`) is read as
    https."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and data.strip() and "://" not in data:
            data = f"https://{data.strip()}"
        return super().to_internal_value(data)


class AccountSerializer(ModelSerializer):
    """The caller's own account: an admin may change its settings, not its status
    or slug (the platform's actions do that)."""

    currency = CurrencyField(
        min_length=3,
        max_length=3,
        required=False,
        validators=[validate_currency_code],
        help_text="ISO 4217 code of the account's money (default EUR).",
    )
    website = WebsiteField(required=False, allow_blank=True, max_length=200)

    class Meta:
        model = Account
        fields = ACCOUNT_FIELDS
        read_only_fields = ["id", "slug", "status", "created_at", "updated_at"]

    def validate_timezone(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(f"Unknown time zone {value!r}.") from None
        return value

    def validate_default_phone_region(self, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError(f"Unknown phone region {value!r}.")
        return value

    def validate_country_iso3(self, value: str) -> str:
        value = value.upper()
        if value and (len(value) != 3 or not value.isalpha()):
            raise serializers.ValidationError("Use a three-letter ISO 3166 code.")
        return value

    def validate_attributes(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected an object.")
        return value


class PlatformAccountSerializer(AccountSerializer):
    """Platform (superuser) view of any account; the slug is set at creation."""

    class Meta(AccountSerializer.Meta):
        read_only_fields = ["id", "status", "created_at", "updated_at"]
        # A taken slug is a 409 from the service, not a 400 from a Python check.
        extra_kwargs = {"slug": {"required": False, "validators": [slug_validator]}}


class AccountCreatedSerializer(PlatformAccountSerializer):
    api_key = serializers.CharField(read_only=True, help_text="The admin API key, shown once.")

    class Meta(PlatformAccountSerializer.Meta):
        fields = [*ACCOUNT_FIELDS, "api_key"]


class ApiKeySerializer(ModelSerializer):
    role = ChoiceField(choices=Role.choices, default=Role.MEMBER)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "role", "created_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret, shown only now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class AgentSerializer(ModelSerializer):
    class Meta:
        model = Agent
        fields = [
            "id",
            "external_id",
            "first_name",
            "last_name",
            "phone",
            "email",
            "user",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The unique index decides (409), not a check in Python.
        validators: list = []

    def validate_external_id(self, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    def validate_email(self, value: str) -> str:
        return value.strip().lower()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only users of this account can be linked; others are "does not exist".
        account = self.context.get("account")
        self.fields["user"].queryset = selectors.account_users(account)


class AgentBulkRowSerializer(AgentSerializer):
    class Meta(AgentSerializer.Meta):
        extra_kwargs = {"external_id": {"required": True, "allow_null": False}}

    def validate_external_id(self, value: str | None) -> str | None:
        value = super().validate_external_id(value)
        if not value:
            raise serializers.ValidationError("Bulk rows are matched by external_id.")
        return value
