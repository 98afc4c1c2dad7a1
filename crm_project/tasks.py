"""Celery tasks of the platform itself: thin, they call the module that owns the rows."""

from crm_project.api import idempotency
from crm_project.celery import PlatformTask, app


@app.task(base=PlatformTask)
def idempotency_keys_expire() -> int:
    return idempotency.idempotency_keys_expire()
