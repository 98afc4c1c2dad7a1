"""The shapes of `GET /api/v1/account/statistics/`: its `from` / `to` query and its
answer."""

from rest_framework import serializers

from crm_project.api.fields import DateTimeField
from crm_project.api.windows import WindowQuerySerializer


class StatisticsQuerySerializer(WindowQuerySerializer):
    """`from` (inclusive) and `to` (exclusive; a bare date includes that whole day);
    `date_from` / `date_to` as the reports name them are accepted too."""

    start_names = ("from", "date_from")
    end_names = ("to", "date_to")


class AccountStatisticsSerializer(serializers.Serializer):
    lead_count = serializers.IntegerField(help_text="Leads (created within the window).")
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
