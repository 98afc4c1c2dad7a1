"""Account scopes and the database roles behind them.

Tenancy has three layers, each enough on its own to keep accounts apart:
1. the API's scoped base viewset filters every queryset by the request's account
   (crm_project.api.views);
2. `TenantModel.objects` (crm_project.models) refuses to run unless an account is in
   scope or the caller opened an explicit `unscoped()` block, and then filters by it;
3. PostgreSQL row-level security, forced on every tenant table
   (crm_project.migration_operations): the policies show the rows of `app.account_id`,
   which `account_scope()` sets for its transaction, to anyone, and every row only to
   the maintenance role (`settings.DB_MAINTENANCE_ROLE`), which `unscoped()` switches to
   for its transaction. Application connections run as `settings.DB_APP_ROLE`, which is
   neither superuser nor BYPASSRLS nor a member of the maintenance role, so no setting it
   can change opens other accounts' rows; a connection that cannot switch to it refuses
   to run rather than going on as the connecting (perhaps superuser) role.

`account_scope()` and `unscoped()` open a transaction (a savepoint when nested): the
account, the role and the statement timeout live exactly as long as the Python scope.
This module defines no model, so the Celery app can import it before Django is set up.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.signals import connection_created
from psycopg.errors import QueryCanceled

__all__ = [
    "ScopeError",
    "account_scope",
    "current_account_id",
    "current_scope_is_unscoped",
    "dangerously_as_database_owner",
    "is_statement_timeout",
    "require_account_id",
    "statement_timeout",
    "unscoped",
]

ACCOUNT_GUC = "app.account_id"


class ScopeError(Exception):
    """A tenant model was queried with no account in scope and no `unscoped()` block."""


class _HasPk(Protocol):
    pk: Any


@dataclass(frozen=True)
class _Scope:
    account_id: uuid.UUID | None = None
    unscoped: bool = False
    timeout: float | None = None  # seconds per statement; None: the server's default


_current: ContextVar[_Scope] = ContextVar(
    "crm_tenant_scope",
    default=_Scope(),  # noqa: B039  (frozen, immutable)
)
# Seconds each statement of a scope may run (None: the server's default). Set for a
# request (below) and for a Celery task (crm_project.celery); management commands run
# without a limit.
_statement_timeout: ContextVar[float | None] = ContextVar("crm_statement_timeout", default=None)
_owner_mode = threading.local()


def _role_of(scope: _Scope) -> str:
    """The role a scope's transaction runs as ("none": the connecting role)."""
    if scope.unscoped:
        return settings.DB_MAINTENANCE_ROLE
    if getattr(_owner_mode, "active", False) or not settings.DB_APP_ROLE:
        return "none"
    return settings.DB_APP_ROLE


def _set_database_scope(scope: _Scope, *, leaving: _Scope | None = None) -> None:
    values = [(ACCOUNT_GUC, str(scope.account_id or "")), ("role", _role_of(scope))]
    if scope.timeout is not None:
        values.append(("statement_timeout", str(round(scope.timeout * 1000))))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values)),
            [item for pair in values for item in pair],
        )
        if scope.timeout is None and leaving is not None and leaving.timeout is not None:
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")


@contextmanager
def _scoped(account_id: uuid.UUID | None = None, *, unscoped: bool = False) -> Iterator[None]:
    previous = _current.get()
    new = _Scope(account_id=account_id, unscoped=unscoped, timeout=_statement_timeout.get())
    nested = connection.in_atomic_block
    token = _current.set(new)
    try:
        with transaction.atomic():
            _set_database_scope(new)
            yield
            # Restore the enclosing scope for the rest of an outer transaction. After an
            # error the savepoint (or transaction) rollback undoes the setting itself.
            if nested and not connection.needs_rollback:
                _set_database_scope(previous, leaving=new)
    finally:
        _current.reset(token)


def _account_id_of(account: _HasPk | uuid.UUID | str) -> uuid.UUID:
    if isinstance(account, uuid.UUID):
        return account
    if isinstance(account, str):
        return uuid.UUID(account)
    if account.pk is None:
        raise ValueError("An unsaved account cannot be a scope.")
    return account.pk


@contextmanager
def account_scope(account: _HasPk | uuid.UUID | str) -> Iterator[uuid.UUID]:
    """Run the block as `account` (an Account or its id): ORM queries are filtered by it
    and PostgreSQL shows only its rows. Opens a transaction (or a savepoint inside one)."""
    account_id = _account_id_of(account)
    with _scoped(account_id):
        yield account_id


@contextmanager
def unscoped() -> Iterator[None]:
    """Run the block across all accounts, as the maintenance role. For management
    commands, platform endpoints, authentication look-ups and beat's fan-out only: the
    name is the warning."""
    with _scoped(unscoped=True):
        yield


def current_account_id() -> uuid.UUID | None:
    """The account in scope, or None (no scope, or unscoped)."""
    return _current.get().account_id


def current_scope_is_unscoped() -> bool:
    return _current.get().unscoped


def require_account_id() -> uuid.UUID:
    account_id = current_account_id()
    if account_id is None:
        raise ScopeError("An account must be in scope here.")
    return account_id


# --- Statement timeouts ----------------------------------------------------------------


@contextmanager
def statement_timeout(seconds: float | None) -> Iterator[None]:
    """Each statement of the scopes opened in the block may run `seconds` (0: no
    limit); a slower one is cancelled (see `is_statement_timeout`)."""
    token = _statement_timeout.set(seconds)
    try:
        yield
    finally:
        _statement_timeout.reset(token)


def is_statement_timeout(exc: BaseException) -> bool:
    """The database cancelled the statement: it ran past the scope's timeout."""
    return isinstance(exc, OperationalError) and isinstance(exc.__cause__, QueryCanceled)


def _start_request_timeout(sender: Any, **kwargs: Any) -> None:
    _statement_timeout.set(settings.DB_STATEMENT_TIMEOUT)


def _end_request_timeout(sender: Any, **kwargs: Any) -> None:
    _statement_timeout.set(None)


request_started.connect(_start_request_timeout, dispatch_uid="crm_request_statement_timeout")
request_finished.connect(_end_request_timeout, dispatch_uid="crm_request_statement_timeout_end")


# --- The application's database roles ---------------------------------------------------

_ROLES_SQL = """
SELECT session_user, r.rolname, pg_has_role(session_user, r.oid, 'MEMBER'),
       r.rolsuper OR r.rolbypassrls
  FROM pg_roles r WHERE r.rolname IN (%s, %s, session_user)
"""


def _role_problem(conn: Any) -> str | None:
    """Why this connection may not run the application, or None after switching it to
    the application role."""
    app_role, maintenance_role = settings.DB_APP_ROLE, settings.DB_MAINTENANCE_ROLE
    with conn.cursor() as cursor:
        cursor.execute(_ROLES_SQL, [app_role, maintenance_role])
        rows = cursor.fetchall()
        login = rows[0][0]
        roles = {name: (member, unrestricted) for _login, name, member, unrestricted in rows}
        for setting, role in (
            ("DB_APP_ROLE", app_role or login),
            ("DB_MAINTENANCE_ROLE", maintenance_role),
        ):
            if role not in roles:
                return f"{setting}: role {role!r} does not exist (`manage.py migrate` creates it)."
            member, unrestricted = roles[role]
            if not member:
                return f"{setting}: {login!r} may not switch to role {role!r} (GRANT it)."
            if unrestricted:
                return (
                    f"{setting}: role {role!r} is a superuser or BYPASSRLS, so row-level "
                    "security would not apply."
                )
        if app_role and app_role != login:
            cursor.execute(f'SET ROLE "{app_role}"')
    return None


def _switch_to_app_role(conn: Any) -> None:
    if getattr(_owner_mode, "active", False):
        return
    problem = _role_problem(conn)
    if problem is not None:
        # Closed first, so that nothing (a retry, the next request) runs on it anyway.
        conn.close()
        raise ImproperlyConfigured(f"Refusing to run without row-level security: {problem}")


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The maintenance connection (CREATE/DROP DATABASE for tests) keeps its role.
    if connection.vendor == "postgresql" and connection.alias != NO_DB_ALIAS:
        _switch_to_app_role(connection)


connection_created.connect(on_connection_created, dispatch_uid="crm_switch_to_app_role")


@contextmanager
def dangerously_as_database_owner() -> Iterator[None]:
    """Run as the connecting (owner) role, without the role switch: migrations, and
    ANALYZE (which needs the tables' owner) only."""
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
