import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops

# Each ledger row counts on its UTC day, by kind. The ledger is append-only: rows are
# inserted, and deleted only by the maintenance role's purge of an account.
TRIGGERS = tenancy_ops.RollupTriggers(
    name="loyalty_ledger_days",
    source="loyalty_loyaltytransaction",
    rollup="loyalty_loyaltyday",
    group={"day": "(r.created_at AT TIME ZONE 'UTC')::date", "kind": "r.kind"},
    sums={"rows": "1", "points": "r.points"},
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("loyalty", "0003_cards_by_issue"),
    ]

    operations = [
        migrations.CreateModel(
            name="LoyaltyDay",
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
                ("day", models.DateField()),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("earn", "Earn"),
                            ("credit", "Credit"),
                            ("redeem", "Redeem"),
                            ("adjust", "Adjust"),
                            ("expire", "Expire"),
                            ("reverse", "Reverse"),
                        ],
                        max_length=10,
                    ),
                ),
                ("rows", models.BigIntegerField()),
                ("points", models.DecimalField(decimal_places=2, max_digits=30)),
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
                "indexes": [models.Index(fields=["account", "day"], name="loyaltyday_report_idx")],
            },
        ),
        tenancy_ops.EnforceTenancy("loyaltyday"),
        *TRIGGERS.operations(),
    ]
