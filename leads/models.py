from datetime import datetime
from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from crm_project.models import TenantForeignKey, TenantModel
from customers.models import full_name_lower

# The account's leads, counted as they are written (crm_project.models.RowCount).
LEAD_COUNTER = "leads"
# ... and per status, `leads:status:<status>` (crm_project CountRowsBy): the board's
# column counts.
LEAD_STATUS_COUNTER = "leads:status:"

NAME_PART_MAX = 250
PHONE_MAX = 100


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    CONVERTED = "converted", "Converted"
    LOST = "lost", "Lost"
    WON = "won", "Won"


class LeadSource(models.TextChoices):
    CAMPAIGN = "campaign", "Campaign"
    WEBSITE = "website", "Website"
    REFERRAL = "referral", "Referral"
    DIRECT = "direct", "Direct"
    SOCIAL = "social", "Social"
    EMAIL = "email", "Email"
    OTHER = "other", "Other"


class NurtureState(models.TextChoices):
    IDLE = "idle", "Idle"
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"


class Lead(TenantModel):
    external_id = models.CharField(max_length=100, null=True, blank=True)
    source_id = models.CharField(max_length=100, blank=True)
    first_name = models.CharField(max_length=NAME_PART_MAX, blank=True)
    last_name = models.CharField(max_length=NAME_PART_MAX, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=PHONE_MAX, blank=True, help_text="E.164 when possible")
    company = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=LeadSource.choices, default=LeadSource.OTHER)
    status = models.CharField(max_length=11, choices=LeadStatus.choices, default=LeadStatus.NEW)
    score = models.PositiveSmallIntegerField(default=0)
    notes = models.TextField(blank=True)
    campaign = TenantForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # lead_campaign_idx: most leads come from no campaign
    )
    assigned_to = TenantForeignKey(
        "accounts.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # lead_assigned_idx
    )
    street = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    zip = models.CharField(max_length=20, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    jornaya_lead_id = models.CharField(max_length=100, blank=True)
    trusted_form_id = models.CharField(max_length=255, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Maintained by the lead's interactions, nurturing and conversion (leads.services).
    last_contact = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)
    nurture_state = models.CharField(
        max_length=9, choices=NurtureState.choices, default=NurtureState.IDLE, editable=False
    )
    converted_customer = TenantForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,  # lead_converted_customer_idx
    )
    converted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="lead_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100), name="lead_score_0_to_100"
            ),
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""), name="lead_needs_email_or_phone"
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") | ~Q(last_name=""), name="lead_needs_a_name"
            ),
            # Converted by leads.services.lead_convert, which stamps the time (the
            # customer may be deleted later: converted_customer is then null).
            models.CheckConstraint(
                condition=~Q(status="converted") | Q(converted_at__isnull=False),
                name="lead_converted_has_time",
            ),
        ]
        indexes = [
            # The default order and keyset pages (newest first, the id breaking ties).
            models.Index(fields=["account", "-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["account", "status", "-created_at"], name="lead_status_idx"),
            models.Index(fields=["account", "source", "-created_at"], name="lead_source_idx"),
            models.Index(fields=["account", "phone"], name="lead_phone_idx"),
            # Search (`?q=`): substrings of the full name and email, as customers'.
            GinIndex(OpClass(full_name_lower(), name="gin_trgm_ops"), name="lead_name_trgm"),
            GinIndex(OpClass(Lower("email"), name="gin_trgm_ops"), name="lead_email_trgm"),
            models.Index("account", Lower("email"), name="lead_email_lower_idx"),
            models.Index(
                fields=["account", "nurture_state"],
                condition=~Q(nurture_state="idle"),
                name="lead_nurture_idx",
            ),
            models.Index(
                fields=["assigned_to"],
                condition=Q(assigned_to__isnull=False),
                name="lead_assigned_idx",
            ),
            # The account statistics' unsubscribe_count (few leads unsubscribe).
            models.Index(
                fields=["account", "unsubscribed_at"],
                condition=Q(unsubscribed_at__isnull=False),
                name="lead_unsubscribed_idx",
            ),
            models.Index(
                fields=["campaign"], condition=Q(campaign__isnull=False), name="lead_campaign_idx"
            ),
            models.Index(
                fields=["converted_customer"],
                condition=Q(converted_customer__isnull=False),
                name="lead_converted_customer_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or str(self.pk)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    # --- Its place in nurturing (LeadNurture, its own row) ---------------------------

    @property
    def nurture_place(self) -> "LeadNurture | None":
        """The lead's LeadNurture (None before its first enrolment)."""
        try:
            return self.nurture  # type: ignore[attr-defined, no-any-return]
        except ObjectDoesNotExist:
            return None

    @property
    def nurture_step(self) -> int:
        """How many steps of its sequence were sent (this run)."""
        place = self.nurture_place
        return place.step if place is not None else 0

    @property
    def nurture_next_at(self) -> datetime | None:
        place = self.nurture_place
        return place.next_at if place is not None else None

    @property
    def nurture_run(self) -> int:
        place = self.nurture_place
        return place.run if place is not None else 0

    @property
    def nurture_sequence_id(self) -> Any:
        place = self.nurture_place
        return place.sequence_id if place is not None else None


# --- Nurturing --------------------------------------------------------------------------

STEP_DELAY_MAX_HOURS = 24 * 366


class NurtureChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class NurtureSequence(TenantModel):
    """Messages sent to enrolled leads one after another (SPEC "Nurturing"). One
    sequence per account may be the default, which `nurture/start/` uses."""

    name = models.CharField(max_length=200)
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="nurture_unique_name"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="nurture_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NurtureStep(TenantModel):
    """One message of a sequence. `order` is its place, 1..n with no gap (the services
    number the steps as given): a lead with `nurture_step` N - 1 is due step N."""

    sequence = TenantForeignKey(
        NurtureSequence,
        on_delete=models.CASCADE,
        related_name="steps",
        db_index=False,  # nurture_step_unique_order (sequence, order) serves look-ups
    )
    order = models.PositiveIntegerField()
    delay_hours = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=5, choices=NurtureChannel.choices)
    subject = models.CharField(max_length=500, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["sequence", "order"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "order"], name="nurture_step_unique_order"),
            models.CheckConstraint(condition=Q(order__gte=1), name="nurture_step_order_from_1"),
            models.CheckConstraint(
                condition=Q(delay_hours__lte=STEP_DELAY_MAX_HOURS),
                name="nurture_step_delay_at_most_a_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sequence} #{self.order}"


class LeadNurture(TenantModel):
    """A lead's place in its sequence, in a row of its own (from its first enrolment):
    `step` steps were sent, the next is due at `next_at` (None: nothing due, the lead
    is not active), `run` counts enrolments (a reset lead's steps are new messages:
    their ledger key names the run). Each step a lead is sent moves this narrow row on,
    with its two indexes, instead of the lead's row with every index of the leads
    table (12 times the work). Written by leads.services and leads.nurture."""

    lead = models.OneToOneField(
        Lead, on_delete=models.CASCADE, related_name="nurture", db_constraint=False
    )
    sequence = TenantForeignKey(
        NurtureSequence,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # leadnurture_sequence_idx
    )
    step = models.PositiveIntegerField(default=0)
    run = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Beat's due steps: each account's (and which accounts have some).
            models.Index(
                fields=["account", "next_at"],
                condition=Q(next_at__isnull=False),
                name="leadnurture_due_idx",
            ),
            models.Index(
                fields=["sequence"],
                condition=Q(sequence__isnull=False),
                name="leadnurture_sequence_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} step {self.step} (run {self.run})"


# --- The leads report's rollup ----------------------------------------------------------


class LeadDayDimension(models.TextChoices):
    STATUS = "status", "Status"
    SOURCE = "source", "Source"
    AGENT = "agent", "Agent"


class LeadDay(TenantModel):
    """How many of the account's leads were created on a day (UTC) with each status,
    source and agent (`value`: the status, the source, the agent's id or "" for none),
    with their scores' sum and, for converted ones, the seconds from creation to
    conversion: the leads report sums these rows instead of reading a million leads.

    Written only by the leads table's statement-level triggers (migration 0007): each
    insert, update or delete appends its net change as rows here, in the writer's
    transaction and without locking a shared row; crm_project.rollups folds each
    group's rows into one every few minutes (beat)."""

    day = models.DateField()
    dimension = models.CharField(max_length=6, choices=LeadDayDimension.choices)
    value = models.CharField(max_length=40, blank=True)
    leads = models.BigIntegerField()
    score_sum = models.BigIntegerField()
    convert_seconds = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["account", "dimension", "day"], name="leadday_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.value}: {self.leads}"
