"""Celery tasks of imports: thin, they call imports.jobs (which never sends a task, so
the two do not import each other)."""

from crm_project.celery import PlatformTask, TenantTask, app
from imports import jobs


# Not atomic: an import commits chunk by chunk (for its progress, cancel and resume);
# the run opens the account's scope for each chunk.
@app.task(bind=True, atomic=False, statement_timeout_setting="DB_IMPORT_STATEMENT_TIMEOUT")
def import_job_run(self: TenantTask, job_id: str) -> None:
    jobs.import_job_run(account_id=self.account_id, job_id=job_id)


@app.task(base=PlatformTask)
def import_jobs_reap() -> dict[str, int]:
    """Beat: resume or end runs whose worker stopped, send lost queued jobs again."""
    reaped = jobs.import_jobs_reap()
    for account_id, job_id in reaped.to_send:
        import_job_run.delay_on_commit_for(account_id, str(job_id))
    return reaped.counts
