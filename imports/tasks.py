"""Celery tasks of imports: thin, they call imports.services."""

from typing import Any

from crm_project.celery import ACCOUNT_HEADER, TenantTask, app


class ChunkedTenantTask(TenantTask):
    """A task that commits as it goes. TenantTask runs a task inside its sender's
    account scope, which is one transaction; an import must commit chunk by chunk (for
    its progress, cancel and resume), so this task runs outside any transaction and
    hands the sender's account (from the same message header) to the service, which
    opens the account's scope for each chunk."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return super(TenantTask, self).__call__(*args, **kwargs)

    def sender_account_id(self) -> str | None:
        request = self.request
        value = getattr(request, ACCOUNT_HEADER, None) or (
            (getattr(request, "headers", None) or {}).get(ACCOUNT_HEADER)
        )
        return str(value) if value else None


@app.task(bind=True, base=ChunkedTenantTask, acks_late=True, reject_on_worker_lost=True)
def import_job_run(self: ChunkedTenantTask, job_id: str) -> None:
    from imports import services

    account_id = self.sender_account_id()
    if account_id is None:  # never sent from an account: nothing it may touch
        return
    services.import_job_run(account_id=account_id, job_id=job_id)


@app.task
def import_jobs_reap() -> dict[str, int]:
    from imports import services

    return services.import_jobs_reap()
