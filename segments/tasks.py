"""Periodic segment counts.

Celery beat runs `segment_counts_refresh_all` (settings.CELERY_BEAT_SCHEDULE); it reads
which accounts have active segments and sends, per account, `segment_counts_refresh`
for those segments, in chunks of COUNT_CHUNK_SIZE so that an account with many segments
is spread over a few short tasks instead of one long one or one task per segment. Each
task runs in its account's scope and recounts only segments that are still active."""

from itertools import batched, groupby

from accounts.models import Account, AccountStatus
from crm_project.celery import PlatformTask, app
from crm_project.tenancy import require_account_id, unscoped
from segments import services
from segments.models import Segment

COUNT_CHUNK_SIZE = 50


@app.task(base=PlatformTask)
def segment_counts_refresh_all() -> int:
    """Send the recount of every active segment of every account that is not
    inactive; returns how many tasks were sent."""
    with unscoped():  # the one place that reads across accounts: which work exists
        rows = list(
            Segment.objects.filter(active=True)
            .exclude(account__status=AccountStatus.INACTIVE)
            .order_by("account_id", "id")
            .values_list("account_id", "id")
        )
    # Sent after the read's transaction has closed, each for its own account.
    sent = 0
    for account_id, account_rows in groupby(rows, key=lambda row: row[0]):
        segment_ids = [str(segment_id) for _account, segment_id in account_rows]
        for chunk in batched(segment_ids, COUNT_CHUNK_SIZE):
            segment_counts_refresh.delay_on_commit_for(account_id, segment_ids=list(chunk))
            sent += 1
    return sent


@app.task(statement_timeout_setting="DB_COUNT_STATEMENT_TIMEOUT")
def segment_counts_refresh(segment_ids: list[str] | None = None) -> int:
    """Recount the account's active segments (those of `segment_ids`, or all of them).
    Safe to run twice; a segment deactivated since it was sent is skipped."""
    account = Account.objects.filter(pk=require_account_id()).first()
    if account is None:  # deleted since the task was sent
        return 0
    return services.segment_counts_refresh(account=account, segment_ids=segment_ids)
