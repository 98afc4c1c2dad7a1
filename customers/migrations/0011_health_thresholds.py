"""The accounts' RFM quintile thresholds (customers.models.HealthThresholds), so that a
customer's health no longer ranks every customer of the account."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_number_sequences"),
        ("customers", "0010_count_rows_at_commit"),
    ]

    operations = [
        migrations.CreateModel(
            name="HealthThresholds",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=crm_project.ids.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("as_of", models.DateField()),
                ("computed_at", models.DateTimeField()),
                ("buyers", models.IntegerField()),
                (
                    "recency",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.IntegerField(), default=list, size=4
                    ),
                ),
                (
                    "frequency",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.IntegerField(), default=list, size=4
                    ),
                ),
                (
                    "monetary",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.DecimalField(decimal_places=2, max_digits=33),
                        default=list,
                        size=4,
                    ),
                ),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "health thresholds",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account",), name="health_thresholds_unique_account"
                    )
                ],
            },
        ),
        tenancy_ops.EnforceTenancy("healththresholds"),
    ]
