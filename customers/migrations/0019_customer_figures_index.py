"""The order count's index beside the id carries every figure of the lifecycle counts
and the customers report, which then read it alone (an index-only scan)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("customers", "0018_drop_unused_customer_tags_gin"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="customer",
            name="customer_total_orders_idx",
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["account", "id"],
                include=(
                    "total_orders",
                    "created_at",
                    "last_order_date",
                    "lifetime_spend",
                    "orders_365d",
                    "spend_365d",
                    "stats_day",
                    "stats_until",
                ),
                name="customer_figures_idx",
            ),
        ),
    ]
