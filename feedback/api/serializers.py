"""Feedback's API shapes: a request (with its answer once given), the body of a request
and of an answer."""

from typing import Any

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

    def to_internal_value(self, data: Any) -> Any:
        # "five" or 4.5 is not a rating: IntegerField would read "5" too, but never
        # a fraction or a word.
        if isinstance(data, dict) and isinstance(data.get("rating"), float):
            rating = data["rating"]
            if not rating.is_integer():
                raise serializers.ValidationError(
                    {"rating": ["Give a whole rating from 1 to 5."]}, code="invalid"
                )
        return super().to_internal_value(data)


class RemindersAnswerSerializer(serializers.Serializer):
    reminded = serializers.IntegerField()
