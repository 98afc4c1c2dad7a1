"""Nurturing's due steps written to the outbound ledger (run by leads.tasks; like
campaigns.delivery, this module never sends a task).

How a lead moves (SPEC "Nurturing"; enrolment, stop and reset are leads.services'):
enrolment sets the lead's `nurture_state` active and its place (leads.LeadNurture, a
row of its own): the sequence, `step` 0, a new `run`, `next_at` = now + the first
step's `delay_hours`. A place whose `next_at` has passed is due step `step + 1`. A
batch of due places is locked with their leads (FOR UPDATE SKIP LOCKED), each lead gets
one Message (source `nurture`, key `nurture:<lead>:<run>:<step>`: the ledger's unique
key makes a second write of it a no-op) and its place moves on to the next step, due
`delay_hours` after this one was written, or the lead to `completed` after the last.
The places and their messages commit together: a worker that dies mid-batch leaves
both as they were, and two beats at once skip each other's locked rows, so a step is
written once per lead and run.

A step with no address for its channel (an SMS step to a lead without a phone) is
written skipped (`no_address`) and the sequence goes on. A lead whose sequence lost
its remaining steps (they were edited away) is completed. A paused account's due steps
wait (beat passes it by) and go out on unpause; an inactive sequence's leads wait until
it is active again."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import Account, AccountStatus
from campaigns import services as campaign_services
from campaigns.models import Source
from crm_project.tenancy import account_scope
from leads.models import Lead, LeadNurture, NurtureSequence, NurtureState, NurtureStep

# Due leads written per transaction: a batch's locks and its messages commit together.
DUE_BATCH = 5_000

_LEADS = Lead._meta.db_table
_PLACES = LeadNurture._meta.db_table
_SEQUENCES = NurtureSequence._meta.db_table
_STEPS = NurtureStep._meta.db_table

# The account's due places (a batch, in the order they fell due: picked on the places'
# own index, before any join) with their leads and the step each is due, and whether
# another follows. The places and their leads are locked, skipping those another
# transaction holds (a stop or an unsubscribe of that lead: it ends the lead's
# nurturing itself); the sequences' rows are not: editing one does not wait for sending.
_DUE_SQL = f"""
WITH picked AS MATERIALIZED (
    SELECT n.id, n.lead_id, n.sequence_id, n.step, n.run
      FROM {_PLACES} n
      JOIN {_SEQUENCES} q ON q.id = n.sequence_id AND q.active
     WHERE n.account_id = %(account)s AND n.next_at <= %(now)s
     ORDER BY n.next_at
     LIMIT %(limit)s
       FOR UPDATE OF n SKIP LOCKED
)
SELECT p.id, p.lead_id, l.nurture_state, l.email, l.phone, p.run, p.step,
       s.channel, s.subject, s.message, s."order", nxt.delay_hours
  FROM picked p
  JOIN {_LEADS} l ON l.id = p.lead_id
  LEFT JOIN {_STEPS} s ON s.sequence_id = p.sequence_id AND s."order" = p.step + 1
  LEFT JOIN {_STEPS} nxt ON nxt.sequence_id = p.sequence_id AND nxt."order" = p.step + 2
   FOR UPDATE OF l SKIP LOCKED
"""  # noqa: S608 - table names are the models' own

# Each place moved on: the next step due `delay_hours` from now, or none after the last.
_ADVANCE_SQL = f"""
UPDATE {_PLACES} n
   SET step = m.step,
       next_at = CASE WHEN m.next_delay IS NULL THEN NULL
                      ELSE %(now)s::timestamptz + make_interval(hours => m.next_delay) END
  FROM unnest(%(ids)s::uuid[], %(steps)s::int[], %(delays)s::int[])
       AS m(id, step, next_delay)
 WHERE n.account_id = %(account)s AND n.id = m.id
"""  # noqa: S608 - table names are the models' own

# ... and the leads whose sequence ended, completed.
_COMPLETE_SQL = f"""
UPDATE {_LEADS} SET nurture_state = 'completed', updated_at = %(now)s
 WHERE account_id = %(account)s AND id = ANY(%(ids)s::uuid[]) AND nurture_state = 'active'
"""  # noqa: S608 - table names are the models' own


@dataclass(frozen=True)
class Written:
    leads: int  # due leads moved on
    messages: int  # messages written to the ledger
    queued: int  # of them, to be sent (the others skipped: no address)


def source_key(lead_id: Any, run: int, step: int) -> str:
    return f"nurture:{lead_id}:{run}:{step}"


def _write_batch(account: Account, *, now: datetime, limit: int) -> Written:
    # One transaction in the account's scope: the batch's locks and messages commit
    # together (a savepoint when the caller is in a transaction already).
    with account_scope(account):
        return _write_batch_in_scope(account, now=now, limit=limit)


def _write_batch_in_scope(account: Account, *, now: datetime, limit: int) -> Written:
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, {"account": account.pk, "now": now, "limit": limit})
        rows = cursor.fetchall()
    if not rows:
        return Written(0, 0, 0)
    outgoing = []
    ids: list[Any] = []
    steps: list[int] = []
    delays: list[int | None] = []
    completed: list[Any] = []
    for row in rows:
        place_id, lead_id, state, email, phone, run, done, channel, subject, message = row[:10]
        order, delay = row[10:]
        ids.append(place_id)
        if state != NurtureState.ACTIVE:  # its nurturing ended: nothing more is due
            steps.append(done)
            delays.append(None)
            continue
        steps.append(done if order is None else order)
        delays.append(None if order is None else delay)
        if order is None or delay is None:  # the last step (or none left): it ends
            completed.append(lead_id)
        if order is None:
            continue
        outgoing.append(
            campaign_services.Outgoing(
                lead_id=lead_id,
                channel=channel,
                address=email if channel == "email" else phone,
                subject=subject,
                body=message,
                source_key=source_key(lead_id, run, order),
            )
        )
    enqueued = campaign_services.messages_enqueue_many(
        account=account, source=Source.NURTURE, messages=outgoing, now=now
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _ADVANCE_SQL,
            {"account": account.pk, "now": now, "ids": ids, "steps": steps, "delays": delays},
        )
        if completed:
            cursor.execute(_COMPLETE_SQL, {"account": account.pk, "now": now, "ids": completed})
    return Written(len(rows), enqueued.written, enqueued.queued)


def nurture_write_due(
    *, account: Account, now: datetime | None = None, batch: int = DUE_BATCH
) -> Written:
    """Write every due step of the account's enrolled leads to the ledger, a batch per
    transaction, until none is due (nothing while the account is paused)."""
    if account.status != AccountStatus.ACTIVE:
        return Written(0, 0, 0)
    leads = messages = queued = 0
    while True:
        written = _write_batch(account, now=now or timezone.now(), limit=batch)
        leads, messages, queued = (
            leads + written.leads,
            messages + written.messages,
            queued + written.queued,
        )
        if written.leads < batch:
            return Written(leads, messages, queued)


def accounts_with_due_steps(*, now: datetime) -> list[Any]:
    """The active accounts with a lead due a step: beat's read across accounts (call it
    inside `unscoped()`; leadnurture_due_idx answers each account's probe)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id FROM {Account._meta.db_table} a
             WHERE a.status = %(active)s
               AND EXISTS (SELECT 1 FROM {_PLACES} n
                            WHERE n.account_id = a.id AND n.next_at <= %(now)s)
             ORDER BY a.id
            """,  # noqa: S608 - table names are the models' own
            {"active": AccountStatus.ACTIVE, "now": now},
        )
        return [row[0] for row in cursor.fetchall()]
