"""Celery tasks of accounts: thin, they call accounts.services."""

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey
from crm_project.celery import app

# How precise `last_used_at` is: a key's use is written at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@app.task
def api_key_mark_used(api_key_id: str, used_at: str) -> None:
    services.api_key_mark_used(api_key_id=api_key_id, used_at=used_at)


def api_key_note_use(api_key: ApiKey) -> None:
    """A request authenticated with `api_key`: its use is written by a worker after the
    request, at most once per key and LAST_USED_RESOLUTION."""
    if cache.add(f"api-key-used:{api_key.pk}", 1, timeout=LAST_USED_RESOLUTION.seconds):
        api_key_mark_used.delay_on_commit_for(
            api_key.account_id, str(api_key.pk), timezone.now().isoformat()
        )
