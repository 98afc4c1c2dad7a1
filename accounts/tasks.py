from celery import shared_task

from accounts import services


@shared_task(ignore_result=True)
def api_key_mark_used(api_key_id: str, used_at: str) -> None:
    """Runs in the key's account scope (the `account_id` header)."""
    services.api_key_mark_used(api_key_id=api_key_id, used_at=used_at)
