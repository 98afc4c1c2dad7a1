import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops

# A counted order (not cancelled or refunded) counts on its day in its account's
# timezone.
TRIGGERS = tenancy_ops.RollupTriggers(
    name="orders_order_days",
    source="orders_order",
    rollup="orders_orderday",
    group={"day": "(r.ordered_at AT TIME ZONE a.timezone)::date"},
    sums={"orders": "1", "revenue": "r.amount"},
    joins="JOIN accounts_account a ON a.id = r.account_id",
    where="r.status NOT IN ('cancelled', 'refunded')",
    changed=("ordered_at", "status", "amount"),
)

# An account's days are its timezone's: a new timezone rebuilds its rows.
REZONE = tenancy_ops.on_timezone_change(
    "orders_order_days_rezone",
    "DELETE FROM orders_orderday WHERE account_id = NEW.id; "
    + TRIGGERS.append("orders_order", where="r.account_id = NEW.id")
    + ";",
)


class Migration(migrations.Migration):
    """The reports' orders rollup (OrderDay): per day of the account's timezone, the
    counted orders and their amounts, kept by statement-level triggers on the orders
    table, and filled from the orders there are."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("orders", "0006_composite_keys_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderDay",
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
                ("orders", models.BigIntegerField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=24)),
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
                "indexes": [models.Index(fields=["account", "day"], name="orderday_report_idx")],
            },
        ),
        tenancy_ops.EnforceTenancy("orderday"),
        *TRIGGERS.operations(),
        REZONE,
    ]
