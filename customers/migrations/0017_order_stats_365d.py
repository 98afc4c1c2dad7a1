from decimal import Decimal

from django.db import migrations, models

import crm_project.migration_operations as tenancy_ops

# Every buyer's 365-day statistics as of today in their account's timezone (as
# orders.services computes them with the aggregates).
BACKFILL = """
WITH stats AS (
    SELECT o.customer_id, (now() AT TIME ZONE a.timezone)::date AS today,
           (o.ordered_at AT TIME ZONE a.timezone)::date AS day, o.amount
      FROM orders_order o JOIN accounts_account a ON a.id = o.account_id
     WHERE o.status NOT IN ('cancelled', 'refunded')
), agg AS (
    SELECT customer_id, max(today) AS today,
           count(*) FILTER (WHERE day >= today - 365) AS n365,
           coalesce(sum(amount) FILTER (WHERE day >= today - 365), 0) AS spend365,
           min(day) FILTER (WHERE day >= today - 365) + 366 AS until365
      FROM stats GROUP BY customer_id
)
UPDATE customers_customer c
   SET orders_365d = agg.n365, spend_365d = agg.spend365,
       stats_day = agg.today, stats_until = agg.until365
  FROM agg WHERE c.id = agg.customer_id
"""

# The statistics count days of the account's timezone: a new timezone clears their day
# (the lifecycle counts compute the undated ones from the orders until beat dates them
# again).
REZONE = tenancy_ops.on_timezone_change(
    "customers_order_stats_rezone",
    "UPDATE customers_customer SET stats_day = NULL "
    "WHERE account_id = NEW.id AND stats_day IS NOT NULL;",
)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0016_loyalty_from_cards"),
        ("orders", "0008_order_days_go_with_their_account"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="orders_365d",
            field=models.IntegerField(default=0, db_default=0, editable=False),
        ),
        migrations.AddField(
            model_name="customer",
            name="spend_365d",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0.00"),
                db_default=Decimal("0.00"),
                editable=False,
                max_digits=33,
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="stats_day",
            field=models.DateField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="customer",
            name="stats_until",
            field=models.DateField(editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        REZONE,
    ]
