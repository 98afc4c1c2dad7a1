from django.db import models

from crm_project.tenancy import TenantModel


class IdempotencyKey(TenantModel):
    """The stored answer to a create sent with `Idempotency-Key`: the same key with the
    same request within 24 hours replays it; with another request, 409."""

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_unique_key")
        ]


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
