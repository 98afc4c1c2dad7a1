"""Tenancy in three layers, each enough on its own to keep accounts apart.

1. The API's scoped base viewset filters every queryset by the request's account
   (crm_project.api.views).
2. `TenantModel.objects` refuses to run unless an account is in scope or the caller
   opened an explicit `unscoped()` block, and then filters by it (django-scopes' idea,
   checked when a query runs rather than when it is built, so class-level querysets,
   django-filter and the admin keep working).
3. PostgreSQL row-level security, forced on every tenant table: the application's
   connections switch to a role without BYPASSRLS (`settings.DB_APP_ROLE`), and the
   policies only show rows of `app.account_id`, which `account_scope()` sets for the
   current transaction. With nothing set, raw SQL sees no tenant rows at all.

`account_scope()` and `unscoped()` open a transaction (a savepoint when nested): the
database setting lives exactly as long as the Python scope.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, connections, models, transaction
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.signals import connection_created

from crm_project.ids import uuid7

if TYPE_CHECKING:
    from accounts.models import Account

__all__ = [
    "ScopeError",
    "TenantModel",
    "account_scope",
    "current_account_id",
    "unscoped",
]


class ScopeError(Exception):
    """A tenant model was queried with no account in scope and no `unscoped()` block."""


@dataclass(frozen=True)
class _Scope:
    account_id: uuid.UUID | None = None
    unscoped: bool = False


_current: ContextVar[_Scope] = ContextVar(
    "crm_tenant_scope",
    default=_Scope(),  # noqa: B039  (frozen, immutable)
)

ACCOUNT_GUC = "app.account_id"
UNSCOPED_GUC = "app.unscoped"


def _set_database_scope(*, account_id: str, unscoped_flag: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
            [ACCOUNT_GUC, account_id, UNSCOPED_GUC, "on" if unscoped_flag else ""],
        )


@contextmanager
def _scoped(new: _Scope) -> Iterator[None]:
    previous = _current.get()
    nested = connection.in_atomic_block
    token = _current.set(new)
    try:
        with transaction.atomic():
            _set_database_scope(account_id=str(new.account_id or ""), unscoped_flag=new.unscoped)
            yield
            # Restore the enclosing scope for the rest of an outer transaction. After an
            # error the savepoint (or transaction) rollback undoes the setting itself.
            if nested and not connection.needs_rollback:
                _set_database_scope(
                    account_id=str(previous.account_id or ""), unscoped_flag=previous.unscoped
                )
    finally:
        _current.reset(token)


def _account_id_of(account: Account | uuid.UUID | str) -> uuid.UUID:
    if isinstance(account, uuid.UUID):
        return account
    if isinstance(account, str):
        return uuid.UUID(account)
    if account.pk is None:
        raise ValueError("An unsaved account cannot be a scope.")
    return account.pk


@contextmanager
def account_scope(account: Account | uuid.UUID | str) -> Iterator[uuid.UUID]:
    """Run the block as `account`: ORM queries are filtered by it and PostgreSQL shows
    only its rows. Opens a transaction (or a savepoint inside one)."""
    account_id = _account_id_of(account)
    with _scoped(_Scope(account_id=account_id)):
        yield account_id


@contextmanager
def unscoped() -> Iterator[None]:
    """Run the block across all accounts. For management commands, platform
    endpoints, authentication look-ups and migrations only: the name is the warning."""
    with _scoped(_Scope(unscoped=True)):
        yield


def current_account_id() -> uuid.UUID | None:
    """The account in scope, or None (no scope, or unscoped)."""
    return _current.get().account_id


def require_account_id() -> uuid.UUID:
    account_id = current_account_id()
    if account_id is None:
        raise ScopeError("An account must be in scope here.")
    return account_id


class TenantQuerySet(models.QuerySet):
    """Filtered by the account in scope when it is built; if it was built with no
    scope (a class attribute, a module-level query), filtered by the scope it runs in.
    Running with no account in scope and outside `unscoped()` raises ScopeError."""

    _tenant_resolved = False

    def _clone(self) -> TenantQuerySet:
        clone = super()._clone()  # type: ignore[misc]
        clone._tenant_resolved = self._tenant_resolved
        return clone

    def _resolve_tenant(self) -> TenantQuerySet:
        if self._tenant_resolved:
            return self
        current = _current.get()
        if current.account_id is not None:
            self.query.add_q(models.Q(account_id=current.account_id))
        elif not current.unscoped:
            raise ScopeError(
                f"{self.model.__name__} was queried with no account in scope: use "
                "account_scope(account), or unscoped() where crossing accounts is intended."
            )
        self._tenant_resolved = True
        return self

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._resolve_tenant()
        super()._fetch_all()

    def iterator(self, *args: Any, **kwargs: Any) -> Any:
        return super(TenantQuerySet, self._resolve_tenant()).iterator(*args, **kwargs)

    def count(self) -> int:
        if self._result_cache is None:
            self._resolve_tenant()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._resolve_tenant()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return super(TenantQuerySet, self._resolve_tenant()).aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        return super(TenantQuerySet, self._resolve_tenant()).update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        return super(TenantQuerySet, self._resolve_tenant()).delete()

    def explain(self, **options: Any) -> str:
        return super(TenantQuerySet, self._resolve_tenant()).explain(**options)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        current = _current.get()
        if current.account_id is not None or current.unscoped:
            queryset._resolve_tenant()
        return queryset


class TenantForeignKey(models.ForeignKey):
    """A foreign key from a tenant model to another. Its database constraint is the
    composite `FOREIGN KEY (account_id, <fk>_id) REFERENCES <target> (account_id, id)`
    that EnforceTenancy adds: it proves the target exists, in the same account, so
    Django's single-column constraint would only repeat that check on every written
    row. The column keeps its index (deletes of the target look rows up by it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("db_constraint", False)
        super().__init__(*args, **kwargs)


class TenantModel(models.Model):
    """Every tenant-owned row: a UUID id and the owning account. Its manager refuses to
    run without an account in scope; its table gets RLS and composite foreign keys
    from `crm_project.migration_operations.EnforceTenancy`."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No index of its own: every tenant table has UNIQUE (account_id, id) (added by
    # EnforceTenancy for the composite foreign keys), which serves account look-ups.
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
    )

    objects = TenantManager()

    class Meta:
        abstract = True


# --- The application's database role -------------------------------------------------

_owner_mode = threading.local()


def _switch_to_app_role(conn: Any) -> None:
    role = settings.DB_APP_ROLE
    if not role or getattr(_owner_mode, "active", False):
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT current_user <> r.rolname AND pg_has_role(current_user, r.oid, 'MEMBER') "
            "FROM pg_roles r WHERE r.rolname = %s",
            [role],
        )
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute(f'SET ROLE "{role}"')


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The maintenance connection (CREATE/DROP DATABASE for tests) keeps its role.
    if connection.vendor == "postgresql" and connection.alias != NO_DB_ALIAS:
        _switch_to_app_role(connection)


connection_created.connect(on_connection_created, dispatch_uid="crm_switch_to_app_role")


@contextmanager
def dangerously_as_database_owner() -> Iterator[None]:
    """Run as the connecting (owner) role, without RLS: migrations only."""
    _owner_mode.active = True
    try:
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.in_atomic_block:
                with conn.cursor() as cursor:
                    cursor.execute("RESET ROLE")
        yield
    finally:
        _owner_mode.active = False
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and not conn.in_atomic_block:
                _switch_to_app_role(conn)
