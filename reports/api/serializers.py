"""The reports' shapes: their window (`date_from` / `date_to`) and their answers."""

from rest_framework import serializers

from crm_project.api.fields import MoneyField
from crm_project.api.windows import WindowQuerySerializer
from feedback.api.serializers import FeedbackAnalyticsSerializer


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


class MonthRevenueSerializer(serializers.Serializer):
    month = serializers.CharField(help_text='"YYYY-MM", the month in the account\'s timezone.')
    revenue = MoneyField(max_digits=None, help_text="Amounts of the month's counted orders.")
    orders = serializers.IntegerField(help_text="The month's counted orders.")


class TopCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="First and last name.")
    lifetime_spend = MoneyField(max_digits=None, help_text="Amounts of their counted orders.")
    total_orders = serializers.IntegerField(help_text="Their counted orders.")


class LifecycleSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    active = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    churned = serializers.IntegerField()
    vip = serializers.IntegerField()


class CustomerReportSerializer(serializers.Serializer):
    """Exactly SPEC's keys. Customer figures count the customers created in the window,
    order figures the counted orders (not cancelled or refunded) placed in it; "the last
    N days" are calendar days in the account's timezone, today included."""

    total = serializers.IntegerField(help_text="Customers created within the window.")
    new_last_30_days = serializers.IntegerField(
        help_text="Of the window's customers, those created in the last 30 days."
    )
    active_last_90_days = serializers.IntegerField(
        help_text="Of the window's customers, those with a counted order in the last 90 days."
    )
    total_revenue = MoneyField(
        max_digits=None, help_text="Amounts of the counted orders placed within the window."
    )
    average_lifetime_spend = MoneyField(
        max_digits=None,
        help_text='Average lifetime spend of the window\'s customers ("0.00" without any).',
    )
    revenue_by_month = MonthRevenueSerializer(
        many=True,
        help_text="The window's counted orders per month, oldest first. With both date_from "
        "and date_to every month of the window is listed, empty ones with zeros; with an "
        "open side the months run from the first to the last order month (or the window's "
        "given edge), empty ones between with zeros.",
    )
    top_customers = TopCustomerSerializer(
        many=True,
        help_text="The window's 10 customers with the highest lifetime spend (with an order).",
    )
    by_lifecycle = LifecycleSerializer(
        help_text="Every customer of the account now per lifecycle bucket (not windowed), "
        "as GET /customers/segments/ counts them."
    )


class CampaignFiguresSerializer(serializers.Serializer):
    sent = serializers.IntegerField(help_text="Messages sent, delivered, opened or clicked.")
    delivered = serializers.IntegerField(help_text="Delivered, opened or clicked.")
    opened = serializers.IntegerField(help_text="Opened (an open seen).")
    clicked = serializers.IntegerField(help_text="Clicked (a click seen).")
    ctr = serializers.FloatField(
        min_value=0, max_value=1, help_text="clicked / delivered (0 when nothing was delivered)."
    )


class CampaignLineSerializer(CampaignFiguresSerializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class CampaignSummarySerializer(CampaignFiguresSerializer):
    """The messages of the campaigns created within the window, counted as each
    campaign's stats count them."""

    by_campaign = CampaignLineSerializer(
        many=True,
        help_text="The 10 newest campaigns of the window with their stats, newest first.",
    )


class LoyaltySummarySerializer(serializers.Serializer):
    cards = serializers.IntegerField(help_text="Cards issued within the window.")
    active_cards = serializers.IntegerField(help_text="Of them, those active now.")
    points_earned = MoneyField(
        max_digits=None, help_text="Points of the earn and credit rows of the window."
    )
    points_redeemed = MoneyField(
        max_digits=None, help_text="Points of the redeem rows of the window (positive)."
    )
    points_outstanding = MoneyField(
        max_digits=None, help_text="Every card's balance now (not windowed)."
    )
    credit_requests = serializers.IntegerField(
        help_text="Credit requests created within the window and still scheduled."
    )


class DashboardSerializer(serializers.Serializer):
    """Every summary over one window (`date_from` / `date_to`)."""

    leads = LeadReportSerializer(help_text="GET /reports/leads/'s answer.")
    customers = CustomerReportSerializer(help_text="GET /reports/customers/'s answer.")
    campaigns = CampaignSummarySerializer()
    feedback = FeedbackAnalyticsSerializer(help_text="GET /feedback/analytics/'s answer.")
    loyalty = LoyaltySummarySerializer()
