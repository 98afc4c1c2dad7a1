"""Customer feedback. A Feedback row is the request (sent through the campaigns ledger
with a link to the public form `/f/<token>`) and, once answered, its answer: a rating
of 1 to 5, a comment and a category. One answer per request: `answered_at` is set
once, by a conditional UPDATE (feedback.services)."""

from django.contrib.postgres.fields import ArrayField
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
            # The analytics (feedback.selectors): every figure of a window of requests
            # from an index-only pass, without reading the comments' wide rows.
            models.Index(
                fields=["account", "requested_at"],
                include=["answered_at", "rating", "category"],
                name="feedback_figures",
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


class FeedbackMention(TenantModel):
    """A theme an answered comment mentions, once per request: `key` is the theme's
    sorted stems joined by a space ("late delivery" and "delivery was late" are both
    "deliveri late"), `label` the comment's own words for it (lowercased), `rating`
    the answer's. Written only by feedback.themes.mentions_index; the rollup
    FeedbackTheme follows these rows through statement-level triggers (migration
    0002)."""

    # A mention's account is its request's: the composite key (account_id, feedback_id)
    # EnforceTenancy adds proves it, so a plain key to the account would only check it a
    # second time for each of the millions of mentions a bulk indexing writes (a quarter
    # of its time at 200,000 answers). Deleting an account still deletes its mentions.
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=False,
    )
    feedback = TenantForeignKey(
        Feedback, on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    key = models.TextField()
    label = models.TextField()
    rating = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            # One mention per request and theme; serves the cascade from a request.
            models.UniqueConstraint(fields=["feedback", "key"], name="feedbackmention_once"),
        ]
        indexes = [
            # Refilling a theme's examples after its example requests were deleted.
            models.Index(fields=["account", "key"], name="feedbackmention_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} in {self.feedback_id}"


class FeedbackTheme(TenantModel):
    """The account's themes: per key, how many requests mention it, their ratings' sum
    and up to 3 example requests (newest first). Written only by the triggers on
    FeedbackMention (migration 0002): an insert adds, a delete subtracts (a theme with
    no mention left goes)."""

    key = models.TextField()
    label = models.TextField()
    mentions = models.BigIntegerField()
    rating_sum = models.BigIntegerField()
    examples = ArrayField(models.UUIDField(), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="feedbacktheme_key"),
        ]
        indexes = [
            models.Index(fields=["account", "-mentions", "label"], name="feedbacktheme_top"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.mentions}"
