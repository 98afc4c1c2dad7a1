"""The Celery app. Tasks carry the account they were sent from in an `account_id`
message header and run inside that account's scope on the worker, so a task sees
exactly what its sender could see; tasks sent outside any scope run unscoped only if
they open `unscoped()` themselves."""

import os
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

ACCOUNT_HEADER = "account_id"


class TenantTask(DjangoTask):
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        from crm_project.tenancy import current_account_id

        headers = dict(options.pop("headers", None) or {})
        if ACCOUNT_HEADER not in headers:
            account_id = current_account_id()
            if account_id is not None:
                headers[ACCOUNT_HEADER] = str(account_id)
        return super().apply_async(args, kwargs, headers=headers, **options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Enqueue when the current transaction commits, from the account in scope now
        (the callback itself runs after the scope has closed)."""
        from django.db import transaction

        from crm_project.tenancy import current_account_id

        account_id = current_account_id()
        headers = {ACCOUNT_HEADER: str(account_id)} if account_id else {}
        transaction.on_commit(lambda: self.apply_async(args, kwargs, headers=headers))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from crm_project.tenancy import account_scope

        account_id = _header(self.request, ACCOUNT_HEADER)
        if account_id:
            with account_scope(account_id):
                return super().__call__(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def _header(request: Any, name: str) -> str | None:
    value = getattr(request, name, None)
    if value:
        return str(value)
    headers = getattr(request, "headers", None) or {}
    value = headers.get(name)
    return str(value) if value else None


app = Celery("crm_project", task_cls=TenantTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
