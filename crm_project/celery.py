"""The Celery app and the one way to write a task.

Every task is one of two kinds, both acknowledged late and requeued when the worker
dies (so each must be safe to run twice), both with a statement timeout:

- `TenantTask` (the default of `@app.task`): runs for one account, the one its sender
  had in scope, carried in the `account_id` message header. It takes ids, never model
  instances, and is sent only after the sender's transaction commits:
  `task.delay_on_commit(job_id)` inside an account scope, or
  `task.delay_on_commit_for(account_id, job_id)` from platform code with no account in
  scope (beat's fan-out, authentication). With `atomic = True` the task runs inside
  `account_scope(account)`, one transaction; with `atomic = False` (work that commits as
  it goes, like an import) it runs outside any transaction and opens scopes itself for
  `self.account_id`. Sent with no account, it refuses to run.
- `PlatformTask`: beat's platform-wide work. It runs with no account; it reads across
  accounts inside an explicit `unscoped()` block and hands each account's work to a
  `TenantTask` with `delay_on_commit_for`.
"""

import logging
import os
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections, transaction

from crm_project.tenancy import ScopeError, account_scope, current_account_id, statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

ACCOUNT_HEADER = "account_id"
logger = logging.getLogger(__name__)


class _CrmTask(DjangoTask):
    acks_late = True
    reject_on_worker_lost = True
    # The setting holding the seconds each SQL statement of the task may run.
    statement_timeout_setting = "DB_TASK_STATEMENT_TIMEOUT"

    def scope(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The timeout first: a scope reads it when it opens.
        with statement_timeout(getattr(settings, self.statement_timeout_setting)), self.scope():
            return super().__call__(*args, **kwargs)


class TenantTask(_CrmTask):
    atomic = True  # the account scope wraps the whole task in one transaction

    @property
    def account_id(self) -> str:
        """The account this run is for: the sender's (its message header), or the one
        in scope when the task is called directly."""
        value = _header(self.request, ACCOUNT_HEADER) or current_account_id()
        if not value:
            raise ScopeError(
                f"{self.name} was sent with no account: send it with delay_on_commit() "
                "inside the account's scope, or delay_on_commit_for(account_id, ...)."
            )
        return str(value)

    def scope(self) -> AbstractContextManager[Any]:
        account_id = self.account_id  # refuses to run for no account, atomic or not
        return account_scope(account_id) if self.atomic else nullcontext()

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Send when the current transaction commits, for the account in scope now."""
        account_id = current_account_id()
        if account_id is None:
            raise ScopeError(f"{self.name}.delay_on_commit() needs an account in scope.")
        self.delay_on_commit_for(account_id, *args, **kwargs)

    def delay_on_commit_for(self, account_id: Any, /, *args: Any, **kwargs: Any) -> None:
        """Send for `account_id` when the current transaction commits (at once outside
        one). Inside an account scope only for that same account."""
        self._send_on_commit(account_id, args, kwargs, countdown=None)

    def delay_on_commit_for_later(
        self, account_id: Any, countdown: float, /, *args: Any, **kwargs: Any
    ) -> None:
        """As delay_on_commit_for, to run no sooner than `countdown` seconds from now
        (work that waits for a rate, a backoff, or a provider's Retry-After)."""
        self._send_on_commit(account_id, args, kwargs, countdown=max(0.0, countdown))

    def _send_on_commit(
        self, account_id: Any, args: tuple, kwargs: dict, *, countdown: float | None
    ) -> None:
        in_scope = current_account_id()
        if in_scope is not None and str(in_scope) != str(account_id):
            raise ScopeError(f"{self.name}: an account scope may only send its own tasks.")
        if countdown and self.app.conf.task_always_eager:
            # Eager mode runs a task at once, countdown or not: a task that waits for
            # later would run again and again now. Beat's passes send such work.
            logger.info("%s: a delayed send is left to beat in eager mode.", self.name)
            return
        headers = {ACCOUNT_HEADER: str(account_id)}
        transaction.on_commit(
            lambda: self.apply_async(args, kwargs, headers=headers, countdown=countdown)
        )


class PlatformTask(_CrmTask):
    """Platform-wide work with no account (see the module docstring)."""


def _header(request: Any, name: str) -> str | None:
    value = getattr(request, name, None)
    if value:
        return str(value)
    headers = getattr(request, "headers", None) or {}
    value = headers.get(name)
    return str(value) if value else None


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(sender: Any = None, **_kwargs: Any) -> None:
    """What Django does around a request, around a task run by a worker: a connection
    past CONN_MAX_AGE, or one that failed, is closed (CELERY_DB_REUSE_MAX keeps Celery
    from closing every connection after every task). A task run eagerly runs inside
    its caller's connection and transaction: left alone, as Celery's own fixup does."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


app = Celery("crm_project", task_cls=TenantTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
