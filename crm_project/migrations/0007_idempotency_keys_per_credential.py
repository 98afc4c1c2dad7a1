"""Idempotency keys belong to one credential (`key:<id>` / `user:<id>`), not to the
whole account, and an answer carrying a secret is marked instead of stored. Rows from
before have no known credential: they keep an empty one, match no new request and
expire within 24 hours."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_uuid7_ids"),
        ("crm_project", "0006_maintenance_role_policies"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="idempotencykey", name="idempotency_unique_key"),
        migrations.AddField(
            model_name="idempotencykey",
            name="credential",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="secret_withheld",
            field=models.BooleanField(default=False),
        ),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(
                fields=("account", "credential", "key"), name="idempotency_unique_credential_key"
            ),
        ),
    ]
