"""Customer feedback. A Feedback row is the request (sent through the campaigns ledger
with a link to the public form `/f/<token>`) and, once answered, its answer: a rating
of 1 to 5, a comment and a category. One answer per request: `answered_at` is set
once, by a conditional UPDATE (feedback.services)."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from crm_project.models import TenantForeignKey, TenantModel

COMMENT_MAX = 5000  # characters
MESSAGE_MAX = 1000


class FeedbackCategory(models.TextChoices):
    PRODUCT = "product", "Product"
    SUPPORT = "support", "Support"
    DELIVERY = "delivery", "Delivery"
    PRICING = "pricing", "Pricing"
    OTHER = "other", "Other"


class FeedbackChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class AnsweredVia(models.TextChoices):
    FORM = "form", "Public form"
    API = "api", "API"


class Feedback(TenantModel):
    customer = TenantForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="feedback",
        db_index=False,  # (customer, -requested_at) below serves it
    )
    channel = models.CharField(max_length=10, choices=FeedbackChannel.choices)
    # Asked about (at the request), or what the answer says it is about.
    category = models.CharField(max_length=10, choices=FeedbackCategory.choices, blank=True)
    message = models.TextField(blank=True, max_length=MESSAGE_MAX)
    requested_at = models.DateTimeField(default=timezone.now)
    # When the request or its last reminder was put in the ledger.
    last_sent_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, max_length=COMMENT_MAX)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_via = models.CharField(max_length=10, choices=AnsweredVia.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__range=(1, 5)),
                name="feedback_rating_range",
            ),
            # Answered exactly when rated.
            models.CheckConstraint(
                condition=Q(rating__isnull=True, answered_at__isnull=True)
                | Q(rating__isnull=False, answered_at__isnull=False),
                name="feedback_answer_whole",
            ),
            models.CheckConstraint(
                condition=Q(category__in=["", *FeedbackCategory.values]),
                name="feedback_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=FeedbackChannel.values), name="feedback_channel_valid"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("comment"), COMMENT_MAX),
                name="feedback_comment_length",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-requested_at", "-id"], name="feedback_requested"),
            models.Index(fields=["customer", "-requested_at"], name="feedback_customer"),
            # Analytics over answers (window by request time; answers only).
            models.Index(
                fields=["account", "requested_at"],
                name="feedback_answered",
                condition=Q(answered_at__isnull=False),
            ),
            # Reminders: unanswered requests by their last send.
            models.Index(
                fields=["account", "last_sent_at"],
                name="feedback_awaiting",
                condition=Q(answered_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Feedback {self.pk}"
