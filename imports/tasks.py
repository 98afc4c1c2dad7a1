"""Celery tasks of imports: thin, they call imports.services."""

from crm_project.celery import PlatformTask, TenantTask, app
from imports import services


# Not atomic: an import commits chunk by chunk (for its progress, cancel and resume);
# the service opens the account's scope for each chunk.
@app.task(bind=True, atomic=False, statement_timeout_setting="DB_IMPORT_STATEMENT_TIMEOUT")
def import_job_run(self: TenantTask, job_id: str) -> None:
    services.import_job_run(account_id=self.account_id, job_id=job_id)


@app.task(base=PlatformTask)
def import_jobs_reap() -> dict[str, int]:
    return services.import_jobs_reap()
