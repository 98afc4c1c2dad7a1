"""Campaigns and the one outbound ledger.

`Message` is every message the product sends, whatever its source (a campaign, a
nurture step, a feedback request or reminder, a follow-up notification): one row,
created before anything is sent, sent by one delivery path (campaigns.delivery). Its
recipient is a customer, a lead or an agent, and `address` is the email address or
E.164 phone it goes to, fixed when the row is written.

A message moves queued -> sending (claimed by one worker: `claim_token`, `claimed_by`,
`claimed_at`) -> sent | delivered | failed, or back to queued (a transient failure, with
`next_attempt_at`; a claim whose worker died). Receipts and tracking move it on to
delivered, bounced, opened, clicked, never backwards. Skipped messages are written
skipped (`error` saying why) and never sent."""

from django.db import models
from django.db.models import Q

from crm_project import errors
from crm_project.models import TenantForeignKey, TenantModel


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class DeliveryMode(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    SCHEDULED = "scheduled", "Scheduled"


class Source(models.TextChoices):
    CAMPAIGN = "campaign", "Campaign"
    NURTURE = "nurture", "Nurture"
    FEEDBACK = "feedback", "Feedback request"
    REMINDER = "reminder", "Feedback reminder"
    FOLLOWUP = "followup", "Follow-up"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"


class SkipReason(models.TextChoices):
    NO_ADDRESS = "no_address", "No address for the channel"
    OPTED_OUT = "opted_out", "Opted out of the channel"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BLOCKED = "blocked", "Blocked"
    DUPLICATE_ADDRESS = "duplicate_address", "Another recipient has this address"
    CANCELLED = "cancelled", "Cancelled"


# Statuses a message has left the queue with, having been handed to the provider.
SENT_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
)
DELIVERED_STATUSES = (MessageStatus.DELIVERED, MessageStatus.OPENED, MessageStatus.CLICKED)
PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING)
# A campaign in these states may be launched or cancelled.
LAUNCHABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING)
# A segment may not be deleted while a campaign in these states targets it.
SEGMENT_IN_USE = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)


def protect_segment_in_use(collector, field, sub_objs, using):  # type: ignore[no-untyped-def]
    """`on_delete` of Campaign.segment: a segment a scheduled or sending campaign
    targets cannot be deleted (409); others lose it (SET_NULL), and launching them then
    fails with "its segment was deleted"."""
    if any(campaign.status in SEGMENT_IN_USE for campaign in sub_objs):
        raise errors.Conflict(
            "A scheduled or sending campaign targets this segment: cancel it first.",
            code="segment_in_use",
        )
    models.SET_NULL(collector, field, sub_objs, using)


class Campaign(TenantModel):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    segment = TenantForeignKey(
        "segments.Segment",
        null=True,
        blank=True,
        on_delete=protect_segment_in_use,
        related_name="+",
    )
    # The inline rule (normalized) when the campaign targets no saved segment.
    rules = models.JSONField(null=True, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message = models.TextField()
    delivery_mode = models.CharField(
        max_length=9, choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=9, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # Why a campaign failed (could not run at all).
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When a worker last wrote a batch of its recipients (the heartbeat of that work),
    # and when they were all written (its audience is fixed from then on).
    materializing_at = models.DateTimeField(null=True, blank=True, editable=False)
    materialized_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="campaign_created_idx"),
            # Beat starts due scheduled campaigns of every account.
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="scheduled"),
                name="campaign_due_idx",
            ),
            # The reaper watches campaigns that are sending.
            models.Index(
                fields=["started_at"], condition=Q(status="sending"), name="campaign_sending_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Message(TenantModel):
    source = models.CharField(max_length=8, choices=Source.choices)
    campaign = TenantForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # message_campaign_idx and the (campaign, customer) key serve it
    )
    customer = TenantForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # message_customer_idx
    )
    lead = TenantForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # message_lead_idx: most messages go to customers
    )
    agent = TenantForeignKey(
        "accounts.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # message_agent_idx: few messages go to agents
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    address = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=9, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    error = models.CharField(max_length=500, blank=True)
    # The templates of a message that has no campaign (a campaign's messages render
    # the campaign's), and extra values its source gives them (a feedback link...).
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    context = models.JSONField(null=True, blank=True)
    # The source's own key for a message without a campaign: writing it twice is a
    # no-op (unique per account and source).
    source_key = models.CharField(max_length=200, null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=200, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    provider_id = models.CharField(max_length=200, blank=True)
    # The original links of the sent message, in the order of their tracking indexes:
    # all a click may redirect to.
    links = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A campaign writes each customer once: its INSERT ... SELECT is ON CONFLICT
            # DO NOTHING on this key.
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="message_campaign_customer_uniq"
            ),
            models.UniqueConstraint(
                fields=["account", "source", "source_key"],
                condition=Q(source_key__isnull=False),
                name="message_source_key_uniq",
            ),
        ]
        indexes = [
            # The claim: an account's due queued messages, oldest due first.
            models.Index(
                fields=["account", "next_attempt_at"],
                condition=Q(status="queued"),
                name="message_due_idx",
            ),
            # The reaper: claims whose worker may have died.
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_claimed_idx"
            ),
            # A campaign's recipients (cursor pages by id, a status filter reading along)
            # and its counts. Every index here is written twice per message sent (the
            # claim and the mark change `status`, so no update is HOT): keep them few.
            models.Index(fields=["campaign", "id"], name="message_campaign_idx"),
            models.Index(
                fields=["agent"], condition=Q(agent__isnull=False), name="message_agent_idx"
            ),
            # A lead's messages (its statistics, nurture), newest first.
            models.Index(
                fields=["lead", "-created_at"],
                condition=Q(lead__isnull=False),
                name="message_lead_idx",
            ),
            # The customer's timeline.
            models.Index(fields=["customer", "-created_at"], name="message_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address or '-'} ({self.status})"


class CampaignTally(TenantModel):
    """How many of a campaign's messages are in each status, and how many of them
    were opened, clicked and unsubscribed from: the campaigns' stats sum these rows
    instead of counting the ledger (campaigns.selectors.campaign_stats), so a campaign
    of a million messages answers its stats, and the dashboard its summary, in
    milliseconds.

    Written only by the ledger's statement-level triggers (migration 0005): each
    insert, delete, and update of a message's campaign, status or tracking times
    appends its net change as rows here, in the writer's transaction and without
    locking a shared row, so concurrent workers marking messages never queue on a
    campaign's row; crm_project.rollups folds each group's rows into one every few
    minutes (beat). The rows go with their campaign in the database (ON DELETE
    CASCADE)."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.DO_NOTHING,  # the database cascades (migration 0006)
        related_name="+",
        db_index=False,  # campaigntally_campaign_idx
    )
    status = models.CharField(max_length=9, choices=MessageStatus.choices)
    messages = models.BigIntegerField()
    opened = models.BigIntegerField()
    clicked = models.BigIntegerField()
    unsubscribed = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["account", "campaign"], name="campaigntally_campaign_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status}: {self.messages}"
