"""Every write of the campaigns app: campaigns and their life (create, change, launch,
cancel, delete), and the ledger's entries from outside delivery: `message_enqueue`
(what nurture, feedback and follow-ups call to send anything), provider receipts,
opens, clicks and unsubscribes.

Delivery itself (writing a campaign's recipients, claiming, sending and marking
chunks, reclaiming stale claims) is campaigns.delivery, run by campaigns.tasks; the
functions here send those tasks after their transaction commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, Agent
from campaigns import tasks
from campaigns.delivery import pumps_for
from campaigns.errors import InvalidTemplate
from campaigns.models import (
    CANCELLABLE,
    LAUNCHABLE,
    PENDING_STATUSES,
    SENT_STATUSES,
    Campaign,
    CampaignStatus,
    Channel,
    DeliveryMode,
    Message,
    MessageStatus,
    SkipReason,
    Source,
)
from campaigns.templates import looks_like_html, template_compile
from crm_project.errors import Conflict, FieldError, Invalid
from customers import services as customer_services
from customers.models import Customer, CustomerStatus
from leads.models import Lead
from segments.models import Segment

UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "channel",
        "segment",
        "rules",
        "subject",
        "message",
        "delivery_mode",
        "scheduled_at",
    }
)


def campaign_templates_check(*, channel: str, subject: str, message: str) -> None:
    """InvalidTemplate on `message` or `subject` when either does not compile."""
    html = channel == Channel.EMAIL and looks_like_html(message)
    for attr, text, as_html in (("subject", subject, False), ("message", message, html)):
        if attr == "subject" and channel != Channel.EMAIL:
            continue
        try:
            template_compile(text, html=as_html)
        except InvalidTemplate as exc:
            raise InvalidTemplate(exc.message, line=exc.line, code=exc.code, attr=attr) from None


def _check(campaign: Campaign, *, now: datetime) -> None:
    """What a campaign must be to be saved as anything but a finished one."""
    problems: dict[str, Any] = {}
    if campaign.segment_id is None and campaign.rules is None:
        problems["segment"] = FieldError("Give a segment or rules.", "required")
    elif campaign.segment is not None and not campaign.segment.active:
        problems["segment"] = FieldError(
            "This segment is inactive: only an active segment can be targeted.", "inactive"
        )
    if campaign.delivery_mode == DeliveryMode.SCHEDULED:
        if campaign.scheduled_at is None:
            problems["scheduled_at"] = FieldError(
                "A scheduled campaign needs scheduled_at.", "required"
            )
        elif campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_at <= now:
            # A draft waits, and a launch starts it now: only a time still to come
            # can be scheduled.
            problems["scheduled_at"] = FieldError("scheduled_at is in the past.", "past")
    if problems:
        raise Invalid(problems)
    campaign_templates_check(
        channel=campaign.channel, subject=campaign.subject, message=campaign.message
    )


def _start_on_commit(campaign: Campaign) -> None:
    tasks.campaign_materialize.delay_on_commit(str(campaign.pk))


@transaction.atomic
def campaign_create(
    *,
    account: Account,
    name: str,
    message: str,
    channel: str = Channel.EMAIL,
    segment: Segment | None = None,
    rules: dict[str, Any] | None = None,
    description: str = "",
    subject: str = "",
    delivery_mode: str = DeliveryMode.IMMEDIATE,
    scheduled_at: datetime | None = None,
    draft: bool = False,
) -> Campaign:
    """A new campaign: a draft when `draft`, else scheduled (delivery_mode scheduled)
    or started at once. `rules` is already normalized (segments.rules.validate_rule);
    `segment` is the account's (the caller resolves ids). The subject defaults to the
    name."""
    campaign = Campaign(
        account=account,
        name=name,
        description=description,
        channel=channel,
        segment=segment,
        rules=None if segment is not None else rules,
        subject=subject or name,
        message=message,
        delivery_mode=delivery_mode,
        scheduled_at=scheduled_at if delivery_mode == DeliveryMode.SCHEDULED else None,
        status=CampaignStatus.DRAFT,
    )
    now = timezone.now()
    if not draft:
        campaign.status = (
            CampaignStatus.SCHEDULED
            if delivery_mode == DeliveryMode.SCHEDULED
            else CampaignStatus.SENDING
        )
    _check(campaign, now=now)
    if campaign.status == CampaignStatus.SENDING:
        campaign.started_at = now
    campaign.save()
    if campaign.status == CampaignStatus.SENDING:
        _start_on_commit(campaign)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, **fields: Any) -> Campaign:
    """Change a draft or scheduled campaign (409 once it has started). Changing the
    segment clears inline rules and the reverse; the subject follows the name while
    it was the name."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"campaign_update() got unexpected fields: {sorted(unknown)}")
    campaign = _locked(campaign)
    if campaign.status not in LAUNCHABLE:
        raise Conflict(
            f"A {campaign.status} campaign cannot be changed.", code="campaign_not_editable"
        )
    if "name" in fields and "subject" not in fields and campaign.subject == campaign.name:
        fields["subject"] = fields["name"]
    if fields.get("segment") is not None:
        fields["rules"] = None
    elif fields.get("rules") is not None:
        fields["segment"] = None
    if fields.get("delivery_mode") == DeliveryMode.IMMEDIATE:
        fields["scheduled_at"] = None
        if campaign.status == CampaignStatus.SCHEDULED:
            # No longer waiting for a time: a draft again, until it is launched.
            fields["status"] = CampaignStatus.DRAFT
    for name, value in fields.items():
        setattr(campaign, name, value)
    if "subject" in fields and not campaign.subject:
        campaign.subject = campaign.name
    _check(campaign, now=timezone.now())
    campaign.save()
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("segment")
        .get(pk=campaign.pk)
    )


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, scheduled_at: datetime | None = None) -> Campaign:
    """A draft becomes scheduled (at `scheduled_at`, or the one it has)."""
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(
            f"Only a draft can be scheduled; this campaign is {campaign.status}.",
            code="campaign_not_schedulable",
        )
    campaign.delivery_mode = DeliveryMode.SCHEDULED
    campaign.scheduled_at = scheduled_at or campaign.scheduled_at
    campaign.status = CampaignStatus.SCHEDULED
    _check(campaign, now=timezone.now())
    campaign.save()
    return campaign


@transaction.atomic
def campaign_launch(*, campaign: Campaign) -> Campaign:
    """Start a draft or scheduled campaign now. The status moves with a conditional
    UPDATE on the locked row, so of two launches at once one starts it and the other
    gets a 409; a campaign that is sending, sent, cancelled or failed is a 409 and
    nothing is sent. Its recipients are written by the task sent on commit."""
    now = timezone.now()
    campaign = _locked(campaign)
    if campaign.status not in LAUNCHABLE:
        raise Conflict(
            f"This campaign is {campaign.status}: it cannot be launched.",
            code="campaign_not_launchable",
        )
    if campaign.segment_id is None and campaign.rules is None:
        raise Invalid({"segment": FieldError("Its segment was deleted.", "does_not_exist")})
    campaign.status = CampaignStatus.SENDING
    _check(campaign, now=now)
    started = Campaign.objects.filter(pk=campaign.pk, status__in=LAUNCHABLE).update(
        status=CampaignStatus.SENDING, started_at=now, updated_at=now, error=""
    )
    if not started:  # unreachable under the row lock; kept as the claim's own guard
        raise Conflict("This campaign is already sending.", code="campaign_not_launchable")
    campaign.started_at = now
    _start_on_commit(campaign)
    return campaign


@transaction.atomic
def campaign_fail(*, campaign: Campaign, reason: str) -> Campaign:
    """A campaign that could not run at all (its segment deleted or inactive, its
    template not rendering): failed, with the reason; nothing of it is sent."""
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk, status__in=(*LAUNCHABLE, "sending")).update(
        status=CampaignStatus.FAILED, error=reason[:2000], finished_at=now, updated_at=now
    )
    Message.objects.filter(campaign=campaign.pk, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SKIPPED, error=SkipReason.CANCELLED
    )
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop a campaign: its queued messages become skipped (`cancelled`); those a
    worker has claimed finish (they are never sent twice: the claim owns them). A
    sent, cancelled or failed campaign is a 409."""
    now = timezone.now()
    campaign = _locked(campaign)
    if campaign.status not in CANCELLABLE:
        raise Conflict(
            f"This campaign is {campaign.status}: it cannot be cancelled.",
            code="campaign_not_cancellable",
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.CANCELLED, finished_at=now, updated_at=now
    )
    Message.objects.filter(campaign=campaign.pk, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SKIPPED, error=SkipReason.CANCELLED, next_attempt_at=None
    )
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign that never wrote a message (draft, scheduled, or one that
    failed before starting). A campaign with messages keeps its ledger: 409."""
    campaign = _locked(campaign)
    if campaign.materialized_at is not None or campaign.status == CampaignStatus.SENDING:
        raise Conflict(
            "This campaign has sent or is sending messages; its record is kept "
            "(cancel it instead).",
            code="campaign_has_messages",
        )
    campaign.delete()


# --- The ledger's other writers ---------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Whom a message goes to: exactly one of customer, lead or agent; `address`
    (email address or phone) when the caller knows it better than the record does;
    `skip` a reason the caller has to write it skipped (a lead without consent)."""

    customer: Customer | None = None
    lead: Lead | None = None
    agent: Agent | None = None
    address: str | None = None
    skip: str = ""


def customer_skip_reason(customer: Customer, channel: str, address: str | None = None) -> str:
    """Why a message to the customer on `channel` would be written skipped (blocked,
    no address, opted out or unsubscribed), or "" when it would go out. `address`
    defaults to the customer's own for the channel."""
    if address is None:
        address = (customer.email if channel == Channel.EMAIL else customer.phone) or ""
    address = address.strip()
    if customer.status == CustomerStatus.BLOCKED:
        return SkipReason.BLOCKED
    if not address:
        return SkipReason.NO_ADDRESS
    opted_in = customer.email_opt_in if channel == Channel.EMAIL else customer.sms_opt_in
    if not opted_in:
        return SkipReason.UNSUBSCRIBED if customer.unsubscribed_at else SkipReason.OPTED_OUT
    return ""


@transaction.atomic
def message_enqueue(
    *,
    account: Account,
    source: str,
    channel: str,
    recipient: Recipient,
    body: str,
    subject: str = "",
    context: dict[str, Any] | None = None,
    source_key: str | None = None,
    send_at: datetime | None = None,
) -> Message:
    """Put one message of `source` (nurture, feedback, reminder, followup) in the
    ledger, to be sent by the delivery path after this transaction commits (at
    `send_at`, else as soon as the account's rate allows). `subject` and `body` are
    templates, rendered at send time with the recipient's values and `context` (plain
    JSON values). A customer's opt-out or block, a lead's unsubscribe, or a missing
    address writes it skipped.
    With `source_key`, enqueuing the same key again returns the first message
    unchanged (a redelivered task sends nothing twice). Templates that do not compile
    raise InvalidTemplate on `body` or `subject`."""
    if source == Source.CAMPAIGN or source not in Source.values:
        raise ValueError(f"message_enqueue() is for other sources than campaigns: {source!r}")
    if channel not in Channel.values:
        raise ValueError(f"Unknown channel {channel!r}")
    if sum(x is not None for x in (recipient.customer, recipient.lead, recipient.agent)) != 1:
        raise ValueError("A message has exactly one recipient: customer, lead or agent.")
    try:
        campaign_templates_check(channel=channel, subject=subject, message=body)
    except InvalidTemplate as exc:
        raise InvalidTemplate(
            exc.message,
            line=exc.line,
            code=exc.code,
            attr="body" if exc.attr == "message" else exc.attr,
        ) from None
    if source_key is not None:
        existing = Message.objects.filter(source=source, source_key=source_key).first()
        if existing is not None:
            return existing
    holder = recipient.customer or recipient.lead or recipient.agent
    address = recipient.address
    if address is None and holder is not None:
        address = holder.email if channel == Channel.EMAIL else holder.phone
    address = (address or "").strip()
    skip = recipient.skip
    if not skip and recipient.customer is not None:
        skip = customer_skip_reason(recipient.customer, channel, address)
    elif not skip and recipient.lead is not None and recipient.lead.unsubscribed_at:
        skip = SkipReason.UNSUBSCRIBED
    elif not skip and not address:
        skip = SkipReason.NO_ADDRESS
    now = timezone.now()
    message = Message(
        account=account,
        source=source,
        channel=channel,
        customer=recipient.customer,
        lead=recipient.lead,
        agent=recipient.agent,
        address=address,
        subject=subject,
        body=body,
        context=context,
        source_key=source_key,
        status=MessageStatus.SKIPPED if skip else MessageStatus.QUEUED,
        error=skip,
        next_attempt_at=None if skip else max(send_at or now, now),
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        if source_key is None:
            raise
        return Message.objects.get(source=source, source_key=source_key)
    if message.next_attempt_at is not None:
        delay = (message.next_attempt_at - now).total_seconds()
        if delay > 0:
            tasks.messages_send.delay_on_commit_for_later(account.pk, delay)
        else:
            tasks.messages_send.delay_on_commit()
    return message


@dataclass(frozen=True)
class Outgoing:
    """One message of a set-based enqueue (messages_enqueue_many): the lead it goes to
    by id, its address as the caller read it, its templates, its source's key, and a
    reason to write it skipped when the caller has one."""

    lead_id: Any
    channel: str
    address: str
    body: str
    source_key: str
    subject: str = ""
    skip: str = ""


_ENQUEUE_MANY_SQL = """
WITH written AS (
    INSERT INTO campaigns_message (
        id, account_id, source, lead_id, channel, address, status, error, subject, body,
        source_key, tries, next_attempt_at, claimed_by, provider_id, created_at
    )
    SELECT crm_uuid7(), %(account)s, %(source)s, r.lead_id, r.channel, btrim(r.address),
        CASE WHEN r.skip <> '' OR btrim(r.address) = '' THEN 'skipped' ELSE 'queued' END,
        CASE WHEN r.skip <> '' THEN r.skip
             WHEN btrim(r.address) = '' THEN 'no_address' ELSE '' END,
        r.subject, r.body, r.source_key, 0,
        CASE WHEN r.skip = '' AND btrim(r.address) <> '' THEN %(now)s::timestamptz END,
        '', '', %(now)s
    FROM unnest(%(lead_ids)s::uuid[], %(channels)s::text[], %(addresses)s::text[],
                %(skips)s::text[], %(subjects)s::text[], %(bodies)s::text[],
                %(keys)s::text[])
        AS r(lead_id, channel, address, skip, subject, body, source_key)
    ON CONFLICT (account_id, source, source_key) WHERE source_key IS NOT NULL DO NOTHING
    RETURNING status
)
SELECT count(*), count(*) FILTER (WHERE status = 'queued') FROM written
"""


@dataclass(frozen=True)
class Enqueued:
    written: int  # new rows (a key written before is not written again)
    queued: int  # of them, to be sent (the others skipped)


def messages_enqueue_many(
    *, account: Account, source: str, messages: list[Outgoing], now: datetime | None = None
) -> Enqueued:
    """Put many leads' messages of `source` in the ledger with one statement, in the
    caller's transaction (nurture's due steps). As message_enqueue: the templates are
    rendered at send time, a missing address or the caller's `skip` writes a message
    skipped, and a `source_key` written before is not written again. The caller
    checked the templates when it saved them (its sequences); delivery starts once
    the transaction commits."""
    if source == Source.CAMPAIGN or source not in Source.values:
        raise ValueError(f"messages_enqueue_many() is for other sources: {source!r}")
    if not messages:
        return Enqueued(0, 0)
    if any(m.channel not in Channel.values for m in messages):
        raise ValueError("Unknown channel")
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _ENQUEUE_MANY_SQL,
            {
                "account": account.pk,
                "source": source,
                "now": now,
                "lead_ids": [m.lead_id for m in messages],
                "channels": [m.channel for m in messages],
                "addresses": [m.address or "" for m in messages],
                "skips": [m.skip for m in messages],
                "subjects": [m.subject if m.channel == Channel.EMAIL else "" for m in messages],
                "bodies": [m.body for m in messages],
                "keys": [m.source_key for m in messages],
            },
        )
        written, queued = cursor.fetchone()
    for _ in range(pumps_for(queued)):
        tasks.messages_send.delay_on_commit_for(account.pk)
    return Enqueued(written, queued)


# Progress a message only moves forward on: a receipt, an open or a click applies only
# when it ranks above the message's status (a late `delivered` keeps `clicked`).
STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.BOUNCED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.SKIPPED: 3,
    MessageStatus.OPENED: 4,
    MessageStatus.CLICKED: 5,
}


def _ranked_below(status: str) -> Q:
    rank = STATUS_RANK[MessageStatus(status)]
    return Q(status__in=[s for s, r in STATUS_RANK.items() if r < rank and s != "skipped"])


RECEIPT_EVENTS = ("delivered", "bounced", "failed")
_SENT_OR_LATER = SENT_STATUSES


@transaction.atomic
def message_receipt(
    *, message: Message, event: str, reason: str = "", occurred_at: datetime | None = None
) -> bool:
    """A provider's receipt: `delivered`, `bounced` or `failed`. Applied only to a
    message that has left (sent), never moving it backwards; a receipt that arrives
    before the sender marked its send keeps its time, and the mark then counts the
    message delivered. Answers whether anything changed."""
    if event not in RECEIPT_EVENTS:
        raise Invalid({"event": FieldError(f"Unknown event {event!r}.", "invalid_choice")})
    at = occurred_at or timezone.now()
    rows = Message.objects.filter(pk=message.pk)
    if event == "delivered":
        changed = (
            rows.filter(_ranked_below(MessageStatus.DELIVERED))
            .exclude(status__in=PENDING_STATUSES)
            .update(
                status=MessageStatus.DELIVERED, delivered_at=Coalesce("delivered_at", Value(at))
            )
        )
        # Arrived before the sender's own mark: kept, the mark reads it.
        changed += rows.filter(status=MessageStatus.SENDING, delivered_at__isnull=True).update(
            delivered_at=at
        )
        return bool(changed)
    status = MessageStatus.BOUNCED if event == "bounced" else MessageStatus.FAILED
    return bool(
        rows.filter(status=MessageStatus.SENT).update(
            status=status,
            error=(reason or event)[:500],
            failed_at=at,
        )
    )


@transaction.atomic
def message_opened(*, message: Message, at: datetime | None = None) -> None:
    """An open (the email's pixel): opened, and delivered, at the first time seen."""
    at = at or timezone.now()
    rows = Message.objects.filter(pk=message.pk, status__in=_SENT_OR_LATER)
    rows.update(
        status=Case(
            When(_ranked_below(MessageStatus.OPENED), then=Value(MessageStatus.OPENED)),
            default=F("status"),
        ),
        opened_at=Coalesce("opened_at", Value(at)),
        delivered_at=Coalesce("delivered_at", Value(at)),
    )


@transaction.atomic
def message_clicked(*, message: Message, at: datetime | None = None) -> None:
    """A click on one of its links: clicked (an email clicked was also opened), and
    delivered, at the first time seen."""
    at = at or timezone.now()
    opened = (
        Coalesce("opened_at", Value(at)) if message.channel == Channel.EMAIL else F("opened_at")
    )
    Message.objects.filter(pk=message.pk, status__in=_SENT_OR_LATER).update(
        status=MessageStatus.CLICKED,
        clicked_at=Coalesce("clicked_at", Value(at)),
        opened_at=opened,
        delivered_at=Coalesce("delivered_at", Value(at)),
    )


@transaction.atomic
def message_unsubscribe(*, message: Message, at: datetime | None = None) -> None:
    """One-click unsubscribe from a message: the recipient's opt-in for that channel
    is turned off and `unsubscribed_at` set (the customer's, kept at its first time),
    and the message counts in its campaign's `unsubscribed`. Idempotent."""
    at = at or timezone.now()
    Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(unsubscribed_at=at)
    if message.customer_id is not None:
        customer = Customer.objects.filter(pk=message.customer_id).first()
        if customer is not None:
            customer_services.customer_unsubscribe(
                customer=customer, channel=message.channel, at=at
            )
    elif message.lead_id is not None:
        # Imported here: leads.services sends through this module.
        from leads import services as lead_services

        lead = Lead.objects.filter(pk=message.lead_id).first()
        if lead is not None:
            lead_services.lead_unsubscribe(account=message.account, lead=lead, now=at)


def messages_skip_for_leads(*, account: Account, lead_ids: list[Any], reason: str) -> int:
    """The leads' queued messages (of any source) are not sent: skipped with `reason`
    (an unsubscribe). Claimed ones finish. Answers how many."""
    return Message.objects.filter(
        account=account, lead_id__in=lead_ids, status=MessageStatus.QUEUED
    ).update(status=MessageStatus.SKIPPED, error=reason, next_attempt_at=None)
