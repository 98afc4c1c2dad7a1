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


def api_key_use_marker(api_key_id: object) -> str:
    """The cache key that says `api_key_id`'s use was noted in the current
    LAST_USED_RESOLUTION (crm_project.api.budgets sets it in the request's one Redis
    round trip)."""
    return f"api-key-used:{api_key_id}"


def api_key_note_use(api_key: ApiKey, *, marked: bool | None = None) -> None:
    """A request authenticated with `api_key`: its use is written by a worker after the
    request, at most once per key and LAST_USED_RESOLUTION. `marked` says whether the
    caller has just set the key's marker itself (True: this request is the first of the
    period, False: it is not); None sets it here."""
    if marked is None:
        marked = cache.add(api_key_use_marker(api_key.pk), 1, timeout=LAST_USED_RESOLUTION.seconds)
    if marked:
        api_key_mark_used.delay_on_commit_for(
            api_key.account_id, str(api_key.pk), timezone.now().isoformat()
        )
