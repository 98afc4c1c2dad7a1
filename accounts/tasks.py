"""Celery tasks of accounts: thin, they call accounts.services."""

from accounts import services
from crm_project.celery import app


@app.task
def api_key_mark_used(api_key_id: str, used_at: str) -> None:
    services.api_key_mark_used(api_key_id=api_key_id, used_at=used_at)
