"""The shapes of `GET /api/v1/account/statistics/`: its `from` / `to` query and its
answer."""

from datetime import datetime
from typing import Any

from rest_framework import serializers

from crm_project import datetimes
from crm_project.api.fields import DateTimeField


class _WhenField(serializers.CharField):
    """A date or an ISO 8601 datetime read as every input reads them
    (crm_project.datetimes: without an offset in the account's timezone); the value is
    (instant in UTC, whether it was a bare date)."""

    default_error_messages = {
        "invalid": datetimes.INVALID,
        "out_of_range": datetimes.OUT_OF_RANGE,
    }

    def to_internal_value(self, data: Any) -> Any:
        text = super().to_internal_value(data)
        try:
            return datetimes.parse_account_datetime(
                text, datetimes.account_zone(self.context.get("account"))
            )
        except datetimes.InvalidDateTime as exc:
            self.fail(exc.code)


class StatisticsQuerySerializer(serializers.Serializer):
    """`from` (inclusive) and `to` (exclusive; a bare date includes that whole day)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword: the fields are declared here.
        return {
            "from": _WhenField(
                required=False,
                help_text="Count events at or after this date (00:00 in the account's "
                "timezone) or ISO 8601 datetime.",
            ),
            "to": _WhenField(
                required=False,
                help_text="Count events before this datetime; a bare date includes that "
                "whole day (in the account's timezone).",
            ),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        zone = datetimes.account_zone(self.context.get("account"))
        start = attrs["from"][0] if "from" in attrs else None
        end: datetime | None = None
        if "to" in attrs:
            end, is_date = attrs["to"]
            if is_date:
                end = datetimes.next_local_midnight(end, zone)
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError(
                {"to": ["`to` must be after `from`."]}, code="invalid"
            )
        return {"start": start, "end": end}


class AccountStatisticsSerializer(serializers.Serializer):
    lead_count = serializers.IntegerField(help_text="Leads acquired (0 until leads exist).")
    customer_count = serializers.IntegerField(help_text="Customers (created within the window).")
    engaged_count = serializers.IntegerField(
        help_text="Distinct leads and customers with an interaction, a click or feedback."
    )
    unsubscribe_count = serializers.IntegerField()
    delivered_count = serializers.IntegerField()
    sent_count = serializers.IntegerField()
    click_count = serializers.IntegerField()
    ctr = serializers.FloatField(min_value=0, max_value=1, help_text="clicks / delivered.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = DateTimeField(allow_null=True, help_text="The window's start, if any.")
        fields["to"] = DateTimeField(
            allow_null=True, help_text="The window's end (exclusive), if any."
        )
        return fields
