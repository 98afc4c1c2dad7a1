"""Celery tasks of the platform itself: thin, they call the module that owns the rows."""

from crm_project import rollups
from crm_project.api import idempotency
from crm_project.celery import PlatformTask, app
from crm_project.tenancy import require_account_id, unscoped


@app.task(base=PlatformTask)
def idempotency_keys_expire() -> int:
    return idempotency.idempotency_keys_expire()


@app.task(base=PlatformTask)
def rollups_compact_all() -> int:
    """Send each account's fold of each report rollup that has rows to fold
    (crm_project.rollups); returns how many were sent."""
    sent = 0
    for rollup in rollups.rollups():
        with unscoped():  # the one place that reads across accounts: which work exists
            account_ids = rollups.accounts_with_rows_to_fold(rollup)
        for account_id in account_ids:
            rollups_compact.delay_on_commit_for(account_id, rollup.label)
        sent += len(account_ids)
    return sent


@app.task
def rollups_compact(label: str) -> dict[str, int]:
    read, written = rollups.rollup_compact(rollups.rollup(label), account_id=require_account_id())
    return {"read": read, "written": written}
