"""Every write of follow-ups: due interactions given exactly one follow-up each, their
agents notified through the ledger, follow-ups completed.

Kept apart from customers.services because it sends through campaigns' ledger, and the
ledger itself writes customers (an unsubscribe calls customers.services): this module
imports campaigns.services, customers.services never does."""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, Agent
from campaigns import services as campaign_services
from campaigns.models import Channel, Source
from crm_project.datetimes import account_zone
from customers import selectors
from customers.models import FollowUp, FollowUpStatus, Interaction, NotifyError
from customers.services import interaction_update

# Beat runs followups_process for every account with due interactions every 5 minutes
# (customers.tasks), the API for the caller's account. A follow-up is written once per
# interaction by the unique constraint (INSERT ... ON CONFLICT DO NOTHING), and only the
# transaction that wrote it notifies its agent, through the ledger with a source_key of
# its own: two runs at once, or a task run twice, notify once.

# The notification's templates; the follow-up's values come as the message's context
# (data, never template text), `{{ first_name }}` is the agent's, from the ledger.
FOLLOWUP_SUBJECT = "Follow-up due: {{ contact }}"
FOLLOWUP_BODY = (
    "Hello {{ first_name }}, a follow-up with {{ contact }} is due {{ due_at }}: {{ action }}"
)


# `due` is the selector's own compilation. Rows go in in interaction order: two runs at
# once then wait on each other's rows in one order, never in a cycle.
_FOLLOWUPS_INSERT = """
    WITH due AS MATERIALIZED ({due}),
    created AS (
        INSERT INTO {followups}
            (id, account_id, interaction_id, agent_id, due_at, status, notified,
             notify_error, created_at)
        SELECT crm_uuid7(), %s, due.id, due.followup_agent_id, due.next_action_date, %s,
               false, '', now()
          FROM due
         ORDER BY due.id
        ON CONFLICT (interaction_id) DO NOTHING
        RETURNING id
    )
    SELECT (SELECT count(*) FROM due), (SELECT coalesce(array_agg(id), '{{}}') FROM created)
"""


def _followup_channel(agent: Agent) -> str | None:
    if (agent.email or "").strip():
        return Channel.EMAIL
    if (agent.phone or "").strip():
        return Channel.SMS
    return None


def _followup_context(account: Account, followup: FollowUp) -> dict[str, str]:
    """The notification's values: the customer or lead, the next action, the due time
    in the account's timezone."""
    interaction = followup.interaction
    contact = interaction.customer or interaction.lead
    zone = account_zone(account)
    return {
        "contact": str(contact) if contact is not None else "",
        "action": interaction.next_action or interaction.subject,
        "due_at": f"{followup.due_at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})",
    }


def _followup_notify(*, account: Account, followup: FollowUp, now: datetime) -> bool:
    """Put the follow-up's notification in the ledger (once: its source_key), or
    record why there is none. Returns whether it was enqueued."""
    agent = followup.agent
    channel = None if agent is None else _followup_channel(agent)
    if agent is None or channel is None:
        followup.notify_error = NotifyError.NO_AGENT if agent is None else NotifyError.NO_ADDRESS
        FollowUp.objects.filter(pk=followup.pk).update(notify_error=followup.notify_error)
        return False
    message = campaign_services.message_enqueue(
        account=account,
        source=Source.FOLLOWUP,
        channel=channel,
        recipient=campaign_services.Recipient(agent=agent),
        subject=FOLLOWUP_SUBJECT if channel == Channel.EMAIL else "",
        body=FOLLOWUP_BODY,
        context=_followup_context(account, followup),
        source_key=f"followup:{followup.pk}",
    )
    followup.notified, followup.notified_at, followup.message = True, now, message
    FollowUp.objects.filter(pk=followup.pk).update(
        notified=True, notified_at=now, message=message, notify_error=""
    )
    return True


@transaction.atomic
def followups_process(*, account: Account, now: datetime | None = None) -> dict[str, int]:
    """Give every interaction of the account awaiting its follow-up
    (customers.selectors.interactions_awaiting_followup), a customer's or a lead's,
    exactly one, for the interaction's agent, else the customer's or lead's
    assigned_to, else unassigned, and notify
    each new one's agent: an email to the agent's email, else an SMS to its phone, else
    not notified (`notify_error`). One INSERT ... SELECT ... ON CONFLICT DO NOTHING
    writes them all.

    Answers `processed` (the due interactions without a follow-up it looked at),
    `created` (follow-ups it wrote; fewer than processed when a concurrent run wrote
    some first) and `notified` (notifications it put in the ledger)."""
    now = now or timezone.now()
    due = (
        selectors.interactions_awaiting_followup(account, now=now)
        .order_by()
        .values("id", "next_action_date", followup_agent_id=selectors.followup_agent())
    )
    due_sql, due_params = due.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            _FOLLOWUPS_INSERT.format(followups=FollowUp._meta.db_table, due=due_sql),
            [*due_params, account.pk, FollowUpStatus.OPEN],
        )
        processed, created_ids = cursor.fetchone()
    created = list(
        FollowUp.objects.filter(pk__in=created_ids)
        .select_related("agent", "interaction__customer", "interaction__lead")
        .order_by("id")
    )
    notified = sum(_followup_notify(account=account, followup=f, now=now) for f in created)
    return {"processed": processed, "created": len(created), "notified": notified}


@transaction.atomic
def followup_complete(*, followup: FollowUp, now: datetime | None = None) -> FollowUp:
    """Complete the follow-up and its interaction (through interaction_update). A
    completed one stays as it is (completed_at keeps the first time)."""
    now = now or timezone.now()
    FollowUp.objects.filter(pk=followup.pk, status=FollowUpStatus.OPEN).update(
        status=FollowUpStatus.COMPLETED, completed_at=now
    )
    interaction = Interaction.objects.select_for_update().get(pk=followup.interaction_id)
    if not interaction.completed:
        interaction_update(interaction=interaction, completed=True)
    followup.refresh_from_db()
    return followup
