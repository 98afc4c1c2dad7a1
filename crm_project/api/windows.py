"""A report's window in its query string: a start (inclusive) and an end (exclusive),
each a date or an ISO 8601 datetime read as every input reads them
(crm_project.datetimes: without an offset in the account's timezone). A bare end date
includes that whole day. The account statistics call them `from` / `to`, the reports
`date_from` / `date_to` (SPEC "Reports")."""

from datetime import datetime
from typing import Any, ClassVar

from rest_framework import serializers

from crm_project import datetimes


class WhenField(serializers.CharField):
    """A date or a datetime; the value is (instant in UTC, whether it was a bare date)."""

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


class WindowQuerySerializer(serializers.Serializer):
    """The window [start, end) of a report: `validated_data` is {"start", "end"} (None
    when not given). The first name of each pair is the documented one; the others are
    accepted as aliases, and an error names the parameter the caller sent."""

    start_names: ClassVar[tuple[str, ...]] = ("date_from",)
    end_names: ClassVar[tuple[str, ...]] = ("date_to",)

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword: the fields are declared here.
        fields: dict[str, serializers.Field] = {}
        for name in self.start_names:
            fields[name] = WhenField(
                required=False,
                help_text="From this date (00:00 in the account's timezone) or ISO 8601 "
                "datetime, inclusive.",
            )
        for name in self.end_names:
            fields[name] = WhenField(
                required=False,
                help_text="Before this datetime; a bare date includes that whole day (in "
                "the account's timezone).",
            )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        zone = datetimes.account_zone(self.context.get("account"))
        start_name = next((name for name in self.start_names if name in attrs), None)
        end_name = next((name for name in self.end_names if name in attrs), None)
        start = attrs[start_name][0] if start_name else None
        end: datetime | None = None
        if end_name:
            end, is_date = attrs[end_name]
            if is_date:
                end = datetimes.next_local_midnight(end, zone)
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError(
                {end_name: [f"`{end_name}` must be after `{start_name}`."]}, code="invalid"
            )
        return {"start": start, "end": end}
