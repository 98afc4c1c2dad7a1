"""Celery tasks of campaigns: thin, they call campaigns.delivery (which never sends a
task) and send what it answers should run next.

`messages_send` is a pump: one chunk of an account's due messages per run; a run that
claimed a full chunk sends the next run at once, one that found messages due later
sends it for then, one that found nothing stops. Several pumps of one account share
its queue (SKIP LOCKED) and its rate (Redis)."""

import logging
from typing import Any

from celery.signals import worker_ready
from django.db import DatabaseError, connections

from campaigns import delivery
from crm_project.celery import PlatformTask, TenantTask, app

log = logging.getLogger(__name__)


# Not atomic: recipients are written in batches, each committed (sending starts after
# the first).
@app.task(bind=True, atomic=False)
def campaign_materialize(self: TenantTask, campaign_id: str) -> int:
    """Write a started campaign's recipients; start its pumps after the first batch,
    and one more after each later batch (a pump that found the queue empty ended)."""
    account_id = self.account_id

    def start_pumps(queued: int, first: bool) -> None:
        for _ in range(delivery.pumps_for(queued) if first else 1):
            messages_send.delay_on_commit_for(account_id)

    return delivery.campaign_materialize(
        account_id=account_id, campaign_id=campaign_id, on_batch=start_pumps
    )


# Not atomic: a chunk is claimed, sent and marked in transactions of its own, so that
# a claim is committed before anything goes out and a mark right after.
@app.task(bind=True, atomic=False)
def messages_send(self: TenantTask) -> dict[str, Any]:
    pumped = delivery.messages_send_chunk(account_id=self.account_id)
    if pumped.again == 0:
        messages_send.delay_on_commit_for(self.account_id)
    elif pumped.again is not None:
        messages_send.delay_on_commit_for_later(self.account_id, pumped.again)
    return {"claimed": pumped.claimed, "sent": pumped.sent}


@app.task(base=PlatformTask)
def messages_reap() -> dict[str, int]:
    """Beat: stale claims queued again, idle accounts with due messages pumped, lost
    campaign starts sent again."""
    reaped = delivery.messages_reap()
    for account_id in reaped.pumps:
        messages_send.delay_on_commit_for(account_id)
    for account_id, campaign_id in reaped.materialize:
        campaign_materialize.delay_on_commit_for(account_id, str(campaign_id))
    return {
        "reclaimed": reaped.reclaimed,
        "pumped": len(reaped.pumps),
        "materialize": len(reaped.materialize),
        "finished": reaped.finished,
    }


@app.task(base=PlatformTask)
def campaigns_start_due() -> int:
    """Beat: scheduled campaigns whose time has come start sending."""
    started = delivery.campaigns_start_due()
    for account_id, campaign_id in started:
        campaign_materialize.delay_on_commit_for(account_id, str(campaign_id))
    return len(started)


@worker_ready.connect
def _reclaim_on_start(**_kwargs: Any) -> None:
    """A worker starting on a machine where one was killed resumes its claims at once
    (not a lease later), and every active account with messages due gets a pump (a
    killed worker's pump may have died with it)."""
    try:
        for account_id in delivery.reclaim_dead_claims():
            # Outside a transaction: sent at once.
            messages_send.delay_on_commit_for(account_id)
    except DatabaseError:  # the worker still starts; beat's reaper covers it
        log.exception("Reclaiming the claims of stopped workers failed")
    finally:
        connections.close_all()  # the pool's processes open their own
