"""Periodic segment counts.

Celery beat runs `segment_counts_refresh_all` (settings.CELERY_BEAT_SCHEDULE); it reads
which accounts have active segments and enqueues, per account, `segment_counts_refresh`
for those segments, in chunks of COUNT_CHUNK_SIZE so that an account with many segments
is spread over a few short tasks instead of one long one or one task per segment. Each
task runs in its account's scope and recounts only segments that are still active."""

import uuid
from collections.abc import Iterator
from itertools import groupby, islice
from typing import Any

from celery import shared_task

from accounts.models import Account, AccountStatus
from crm_project.celery import ACCOUNT_HEADER
from crm_project.tenancy import account_scope, current_account_id, unscoped
from segments import services
from segments.models import Segment

COUNT_CHUNK_SIZE = 50


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@shared_task(ignore_result=True)
def segment_counts_refresh_all() -> int:
    """Enqueue the recount of every active segment of every account that is not
    inactive; returns how many tasks were sent."""
    with unscoped():  # the one place that reads across accounts: which work exists
        rows = list(
            Segment.objects.filter(active=True)
            .exclude(account__status=AccountStatus.INACTIVE)
            .order_by("account_id", "id")
            .values_list("account_id", "id")
        )
    # Enqueued after the read's transaction has closed, each in its own account.
    sent = 0
    for account_id, account_rows in groupby(rows, key=lambda row: row[0]):
        segment_ids = [str(segment_id) for _account, segment_id in account_rows]
        for chunk in _chunks(segment_ids, COUNT_CHUNK_SIZE):
            segment_counts_refresh.apply_async(
                args=[str(account_id)],
                kwargs={"segment_ids": chunk},
                headers={ACCOUNT_HEADER: str(account_id)},
            )
            sent += 1
    return sent


@shared_task(ignore_result=True)
def segment_counts_refresh(account_id: str, segment_ids: list[str] | None = None) -> int:
    """Recount the account's active segments (those of `segment_ids`, or all of them).
    Safe to run twice; a segment deactivated since it was enqueued is skipped."""
    account_uuid = uuid.UUID(str(account_id))
    in_scope = current_account_id()
    if in_scope is not None and in_scope != account_uuid:
        raise PermissionError("A task may only count segments of the account it runs for.")
    account = Account.objects.filter(pk=account_uuid).first()
    if account is None:  # deleted since the task was sent
        return 0
    with account_scope(account):
        return services.segment_counts_refresh(account=account, segment_ids=segment_ids)
