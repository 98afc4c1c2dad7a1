"""Every write of feedback: requesting it (a message of the campaigns ledger carrying
the link to the public form), recording the one answer a request takes, and reminding
unanswered requests on the account's schedule.

A request's messages go through campaigns.services.message_enqueue, keyed
`feedback:<id>:<round>` (round 0 the request, 1.. the reminders), so a round is written
once however often it is asked for; a paused account's messages wait in the ledger and
go out on unpause."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountStatus
from campaigns import services as campaign_services
from campaigns import tracking
from campaigns.models import Channel, SkipReason, Source
from crm_project.errors import Conflict, FieldError, Invalid
from customers.models import Customer
from feedback import selectors, themes
from feedback.models import (
    COMMENT_MAX,
    AnsweredVia,
    Feedback,
    FeedbackCategory,
    FeedbackChannel,
)

REQUEST_SUBJECT = "How did we do, {{ first_name|default:'there' }}?"
REQUEST_BODY = (
    "Hello {{ first_name|default:'there' }}, thank you for choosing {{ account.name }}. "
    "Would you tell us how we did? It takes a minute: {{ feedback_url }}"
)
REMINDER_SUBJECT = "A minute for your feedback?"
REMINDER_BODY = (
    "Hello {{ first_name|default:'there' }}, we would still love to hear how we did: "
    "{{ feedback_url }}"
)
SMS_REQUEST_BODY = "{{ account.name }}: how did we do? {{ feedback_url }}"
SMS_REMINDER_BODY = "{{ account.name }}: a minute for your feedback? {{ feedback_url }}"


def _templates(channel: str, message: str, *, reminder: bool) -> tuple[str, str]:
    """(subject, body) of a request or reminder; a request's own `message` replaces
    the default text, and the link is added when the message does not place it."""
    if channel == Channel.SMS:
        body = SMS_REMINDER_BODY if reminder else SMS_REQUEST_BODY
        subject = ""
    else:
        body = REMINDER_BODY if reminder else REQUEST_BODY
        subject = REMINDER_SUBJECT if reminder else REQUEST_SUBJECT
    if message and not reminder:
        body = message if "feedback_url" in message else f"{message}\n\n{{{{ feedback_url }}}}"
    return subject, body


def _default_channel(customer: Customer) -> str:
    return FeedbackChannel.EMAIL if (customer.email or "").strip() else FeedbackChannel.SMS


def _enqueue(feedback: Feedback, *, round_: int) -> None:
    subject, body = _templates(feedback.channel, feedback.message, reminder=round_ > 0)
    campaign_services.message_enqueue(
        account=feedback.account,
        source=Source.REMINDER if round_ else Source.FEEDBACK,
        channel=feedback.channel,
        recipient=campaign_services.Recipient(customer=feedback.customer),
        subject=subject,
        body=body,
        context={"feedback_url": tracking.feedback_url(feedback.pk)},
        source_key=f"feedback:{feedback.pk}:{round_}",
    )


@transaction.atomic
def feedback_request(
    *,
    account: Account,
    customer: Customer,
    channel: str | None = None,
    category: str = "",
    message: str = "",
) -> Feedback:
    """Ask the customer for feedback: a request, and its message in the ledger with the
    link to the public form. The channel defaults to email when the customer has an
    address, else SMS. A customer the message could not reach on that channel (no
    address, opted out, unsubscribed, blocked) is a 400 `no_address` on `channel`, and
    nothing is written. A template error in `message` is a 400 on `message`."""
    channel = channel or _default_channel(customer)
    skip = campaign_services.customer_skip_reason(customer, channel)
    if skip:
        reasons: dict[str, str] = {
            SkipReason.NO_ADDRESS: f"The customer has no {channel} address.",
            SkipReason.BLOCKED: "The customer is blocked.",
        }
        why = reasons.get(skip, f"The customer does not accept {channel} messages ({skip}).")
        raise Invalid({"channel": FieldError(why, "no_address")}, code="no_address")
    if category and category not in FeedbackCategory.values:
        raise Invalid({"category": FieldError(f"Unknown category {category!r}.", "invalid_choice")})
    now = timezone.now()
    feedback = Feedback.objects.create(
        account=account,
        customer=customer,
        channel=channel,
        category=category,
        message=message,
        requested_at=now,
        last_sent_at=now,
    )
    try:
        _enqueue(feedback, round_=0)
    except campaign_services.InvalidTemplate as exc:
        raise Invalid({"message": FieldError(exc.message, exc.code or "invalid")}) from None
    return feedback


@transaction.atomic
def feedback_answer(
    *,
    feedback: Feedback,
    rating: int,
    comment: str = "",
    category: str = "",
    via: str = AnsweredVia.API,
    now: datetime | None = None,
) -> Feedback:
    """Record the request's one answer: `rating` 1-5, an optional comment (at most
    COMMENT_MAX characters) and category (else the request's stays). A second answer
    is a 409 `already_answered` (decided by a conditional UPDATE, so of two concurrent
    answers one wins)."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid({"rating": FieldError("Give a rating from 1 to 5.", "invalid")})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid({"comment": FieldError(f"At most {COMMENT_MAX} characters.", "max_length")})
    if "\x00" in comment:
        raise Invalid(
            {
                "comment": FieldError(
                    "Null characters are not allowed.", "null_characters_not_allowed"
                )
            }
        )
    if category and category not in FeedbackCategory.values:
        raise Invalid({"category": FieldError(f"Unknown category {category!r}.", "invalid_choice")})
    changes: dict[str, Any] = {
        "rating": rating,
        "comment": comment,
        "answered_at": now or timezone.now(),
        "answered_via": via,
        "updated_at": timezone.now(),
    }
    if category:
        changes["category"] = category
    answered = Feedback.objects.filter(pk=feedback.pk, answered_at__isnull=True).update(**changes)
    if not answered:
        raise Conflict("This feedback request was answered already.", code="already_answered")
    themes.mentions_index(account_id=feedback.account_id, feedback_ids=[feedback.pk])
    feedback.refresh_from_db()
    return feedback


@dataclass(frozen=True)
class RemindersDone:
    reminded: int


@transaction.atomic
def feedback_reminders_process(*, account: Account, now: datetime | None = None) -> RemindersDone:
    """Remind the account's unanswered requests whose last send is at least
    `feedback_reminder_days` old, each at most `feedback_max_reminders` times: one
    reminder message per round (keyed by the round, so never two for one round), and
    the request's send time moves on, so a second run at once reminds nothing. Rows are
    claimed with SKIP LOCKED: concurrent runs share the work instead of repeating it.
    A paused or inactive account is not reminded (its requests wait unsent)."""
    if account.status != AccountStatus.ACTIVE:
        return RemindersDone(reminded=0)
    now = now or timezone.now()
    due_before = now - timedelta(days=account.feedback_reminder_days)
    reminded = 0
    for feedback in selectors.feedback_due_for_reminder(
        account, due_before=due_before, max_reminders=account.feedback_max_reminders
    ):
        round_ = feedback.reminders_sent + 1
        _enqueue(feedback, round_=round_)
        Feedback.objects.filter(pk=feedback.pk).update(
            reminders_sent=round_, last_sent_at=now, updated_at=now
        )
        reminded += 1
    return RemindersDone(reminded=reminded)
