"""The reports' shapes: their window (`date_from` / `date_to`) and their answers."""

from rest_framework import serializers

from crm_project.api.windows import WindowQuerySerializer


class ReportQuerySerializer(WindowQuerySerializer):
    """`date_from` (inclusive) and `date_to` (exclusive; a bare date includes that whole
    day in the account's timezone)."""


class LeadReportSerializer(serializers.Serializer):
    """Exactly SPEC's keys (the window is the caller's own query)."""

    total = serializers.IntegerField(help_text="Leads created within the window.")
    by_status = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every lead status, zeros included."
    )
    by_source = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every lead source, zeros included."
    )
    by_agent = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Every agent of the account by id, zeros included, and "unassigned".',
    )
    conversion_rate = serializers.FloatField(
        min_value=0, max_value=1, help_text="Leads in status converted / total."
    )
    average_score = serializers.FloatField(allow_null=True, help_text="Null without leads.")
    average_days_to_convert = serializers.FloatField(
        allow_null=True,
        help_text="Days from created_at to converted_at of the converted leads (null: none).",
    )
    new_last_30_days = serializers.IntegerField(
        help_text="Of the window's leads, those created in the last 30 days."
    )
