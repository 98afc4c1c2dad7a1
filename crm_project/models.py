"""The base of every tenant model, and the platform's own tables."""

from __future__ import annotations

from typing import Any

from django.db import models

from crm_project.ids import uuid7
from crm_project.tenancy import ScopeError, current_account_id, current_scope_is_unscoped


class TenantQuerySet(models.QuerySet):
    """Filtered by the account in scope when it is built; if it was built with no
    scope (a class attribute, a module-level query), filtered by the scope it runs in.
    Running with no account in scope and outside `unscoped()` raises ScopeError
    (django-scopes' idea, checked when a query runs rather than when it is built, so
    class-level querysets, django-filter and the admin keep working)."""

    _tenant_resolved = False

    def _clone(self) -> TenantQuerySet:
        clone = super()._clone()  # type: ignore[misc]
        clone._tenant_resolved = self._tenant_resolved
        return clone

    def _resolve_tenant(self) -> TenantQuerySet:
        if self._tenant_resolved:
            return self
        account_id = current_account_id()
        if account_id is not None:
            self.query.add_q(models.Q(account_id=account_id))
        elif not current_scope_is_unscoped():
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
        if current_account_id() is not None or current_scope_is_unscoped():
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
    run without an account in scope (crm_project.tenancy); its table gets RLS and
    composite foreign keys from `crm_project.migration_operations.EnforceTenancy`."""

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


class IdempotencyKey(TenantModel):
    """The stored answer to a create sent with `Idempotency-Key` by one credential
    (`key:<api key id>` or `user:<user id>`): the same key from the same credential
    with the same request within 24 hours replays it; with another request, 409. An
    answer that carried a secret is not kept (`secret_withheld`): its replay is a 409.
    Beat deletes rows older than 24 hours (crm_project.api.idempotency)."""

    credential = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    secret_withheld = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "credential", "key"], name="idempotency_unique_credential_key"
            )
        ]

    def __str__(self) -> str:
        return self.key


class RowCount(TenantModel):
    """The number of an account's rows in a big table, maintained by statement-level
    triggers in the same transaction as every insert and delete (the ORM, bulk calls,
    imports and demo data alike), so an unfiltered list answers its exact `count`
    without counting a million rows. See `migration_operations.CountRows`."""

    name = models.CharField(max_length=63)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="rowcount_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"
