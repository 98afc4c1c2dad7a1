"""Feedback's API shapes: a request (with its answer once given), the body of a request
and of an answer."""

from rest_framework import serializers

from crm_project.api.fields import ModelSerializer
from feedback.models import COMMENT_MAX, MESSAGE_MAX, Feedback, FeedbackCategory, FeedbackChannel


class FeedbackSerializer(ModelSerializer):
    """A feedback request and its answer (`rating`, `comment`, `category`,
    `answered_at`: null until answered)."""

    customer = serializers.UUIDField(source="customer_id", read_only=True)
    customer_name = serializers.SerializerMethodField()
    answered = serializers.SerializerMethodField()

    class Meta:
        model = Feedback
        fields = [
            "id",
            "customer",
            "customer_name",
            "channel",
            "category",
            "message",
            "requested_at",
            "last_sent_at",
            "reminders_sent",
            "answered",
            "rating",
            "comment",
            "answered_at",
            "answered_via",
        ]
        read_only_fields = fields

    def get_customer_name(self, feedback: Feedback) -> str:
        return feedback.customer.name if feedback.customer_id else ""

    def get_answered(self, feedback: Feedback) -> bool:
        return feedback.answered_at is not None


class FeedbackRequestSerializer(serializers.Serializer):
    """`POST /customers/{id}/feedback/request/` (every field optional): the channel
    (default email when the customer has an address, else sms), what it is about, and a
    message replacing the default text (a template: `{{ first_name }}`,
    `{{ feedback_url }}`; the link is added when the message does not place it)."""

    channel = serializers.ChoiceField(choices=FeedbackChannel.choices, required=False)
    category = serializers.ChoiceField(
        choices=FeedbackCategory.choices, required=False, allow_blank=True, default=""
    )
    message = serializers.CharField(
        max_length=MESSAGE_MAX, required=False, allow_blank=True, default=""
    )


class FeedbackAnswerSerializer(serializers.Serializer):
    """An answer: `rating` 1-5 (required), `comment` (at most 5,000 characters),
    `category`."""

    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(
        max_length=COMMENT_MAX, required=False, allow_blank=True, default=""
    )
    category = serializers.ChoiceField(
        choices=FeedbackCategory.choices, required=False, allow_blank=True, default=""
    )


class RemindersAnswerSerializer(serializers.Serializer):
    reminded = serializers.IntegerField()


class FeedbackCategoryFiguresSerializer(serializers.Serializer):
    responses = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True, help_text="Null without answers.")


class FeedbackWeekSerializer(serializers.Serializer):
    week = serializers.DateField(
        help_text="The Monday starting the week (in the account's timezone)."
    )
    responses = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True)


class FeedbackAnalyticsSerializer(serializers.Serializer):
    """The requests made within the window (`requested_at`) and their answers."""

    requests = serializers.IntegerField()
    responses = serializers.IntegerField()
    response_rate = serializers.FloatField(min_value=0, max_value=1)
    average_rating = serializers.FloatField(allow_null=True, help_text="Null without answers.")
    rating_distribution = serializers.DictField(
        child=serializers.IntegerField(), help_text='Answers per rating "1".."5", zeros included.'
    )
    csat = serializers.FloatField(
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="Share of answers rated 4 or 5 (null without answers).",
    )
    by_category = serializers.DictField(
        child=FeedbackCategoryFiguresSerializer(),
        help_text="Every category, zeros included.",
    )
    weekly_trend = FeedbackWeekSerializer(
        many=True, help_text="Answers by week of their answer, oldest first; weeks with answers."
    )


class FeedbackThemeSerializer(serializers.Serializer):
    theme = serializers.CharField()
    mentions = serializers.IntegerField(help_text="Answers mentioning it (once per answer).")
    average_rating = serializers.FloatField()
    sentiment = serializers.ChoiceField(choices=["positive", "neutral", "negative"])
    examples = serializers.ListField(child=serializers.CharField(), help_text="Up to 3 comments.")


class FeedbackThemesQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20, required=False)
    min_mentions = serializers.IntegerField(min_value=1, default=2, required=False)


class FeedbackDashboardSerializer(serializers.Serializer):
    analytics = FeedbackAnalyticsSerializer()
    themes = FeedbackThemeSerializer(many=True)
    low_ratings = FeedbackSerializer(many=True, help_text="The last 10 answers rated 2 or less.")
