from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from crm_project.currencies import validate_currency_code
from crm_project.ids import uuid7
from crm_project.models import TenantModel


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    READ_ONLY = "read_only", "Read only"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    INACTIVE = "inactive", "Inactive"


class AccountType(models.TextChoices):
    ECOMMERCE = "ecommerce", "E-commerce"
    RETAIL = "retail", "Retail"
    SERVICES = "services", "Services"
    B2B = "b2b", "B2B"
    OTHER = "other", "Other"


# The ceiling of an account's `send_rate_per_second`.
MAX_SEND_RATE_PER_SECOND = 100_000

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and inner hyphens.",
)


class Account(models.Model):
    """The tenant. Not itself tenant-scoped: platform endpoints manage it."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    email = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    country_iso3 = models.CharField(max_length=3, blank=True)
    state = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    type = models.CharField(max_length=20, choices=AccountType.choices, default=AccountType.OTHER)
    website = models.URLField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    ai_assistant_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    default_phone_region = models.CharField(max_length=2, default="US")
    loyalty_earn_rate = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0.50"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    max_credit_refusals = models.PositiveIntegerField(default=3)
    lead_consent_required = models.BooleanField(default=False)
    area_code = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(99999)],
        help_text="The account's telephone area code (seed 002's `areaCode`), if any.",
    )
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[validate_currency_code],
        help_text="ISO 4217 code of the account's money.",
    )
    send_rate_per_second = models.PositiveIntegerField(
        default=100,
        validators=[MaxValueValidator(MAX_SEND_RATE_PER_SECOND)],
        help_text="Messages sent per second at most, over all workers; 0: no limit.",
    )
    feedback_reminder_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days an unanswered feedback request waits after a send before a reminder.",
    )
    feedback_max_reminders = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(20)],
        help_text="Reminders sent at most for one feedback request.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # The validators' ranges, held by PostgreSQL too (a queryset update skips them).
        constraints = [
            models.CheckConstraint(
                condition=models.Q(send_rate_per_second__lte=MAX_SEND_RATE_PER_SECOND),
                name="account_send_rate_range",
            ),
            models.CheckConstraint(
                condition=models.Q(feedback_reminder_days__range=(1, 365)),
                name="account_feedback_reminder_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(feedback_max_reminders__lte=20),
                name="account_feedback_max_reminders_range",
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"),
                name="account_currency_shape",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_active(self) -> bool:
        return self.status != AccountStatus.INACTIVE

    @property
    def is_paused(self) -> bool:
        return self.status == AccountStatus.PAUSED


class Membership(TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="membership_unique_user")
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.account_id} ({self.role})"


class ApiKey(TenantModel):
    """Only the SHA-256 of the secret is stored; `prefix` identifies the key in lists
    and logs and is how a presented key is found before its hash is compared."""

    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=24, unique=True)
    secret_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.role})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Agent(TenantModel):
    external_id = models.CharField(max_length=100, null=True, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                name="agent_unique_external_id",
                condition=models.Q(external_id__isnull=False),
                violation_error_message="An agent with this external id exists.",
            )
        ]
        indexes = [models.Index("account", Lower("email"), name="agent_email_idx")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AccountSequence(TenantModel):
    """The per-account counters used before number sequences (accounts migration 0005,
    accounts.services.sequence_reserve). No longer written: an account's sequence,
    created on its first number, starts after `last_value`."""

    name = models.CharField(max_length=50)
    last_value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="sequence_unique_name")
        ]
