import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops

# A counted order (not cancelled or refunded) counts on its day in its account's
# timezone.
CONTRIBUTIONS = """
SELECT r.account_id, (r.ordered_at AT TIME ZONE a.timezone)::date AS day,
       {sign} AS orders, {sign} * r.amount AS revenue
  FROM {rows} r JOIN accounts_account a ON a.id = r.account_id
 WHERE r.status NOT IN ('cancelled', 'refunded') {only}
"""

APPEND = """
INSERT INTO orders_orderday (id, account_id, day, orders, revenue)
SELECT crm_uuid7(), account_id, day, sum(orders), sum(revenue)
  FROM ({contributions}) c
 GROUP BY account_id, day
HAVING sum(orders) <> 0 OR sum(revenue) <> 0
"""

# An update counts only its rows whose counted columns changed: out as they were, in as
# they are.
CHANGED = """
(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.id = o.id
  WHERE (o.account_id, o.ordered_at, o.status, o.amount)
        IS DISTINCT FROM (n.account_id, n.ordered_at, n.status, n.amount))
"""


def contributions(sign: int, rows: str, only: str = "") -> str:
    return CONTRIBUTIONS.format(sign=sign, rows=rows, only=only)


FUNCTION = f"""
CREATE OR REPLACE FUNCTION orders_order_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {APPEND.format(contributions=contributions(1, "new_rows"))};
  ELSIF TG_OP = 'DELETE' THEN
    {APPEND.format(contributions=contributions(-1, "old_rows"))};
  ELSE
    {
    APPEND.format(
        contributions=contributions(1, CHANGED.format(side="n"))
        + " UNION ALL "
        + contributions(-1, CHANGED.format(side="o"))
    )
};
  END IF;
  RETURN NULL;
END
$$;

-- An account's days are its timezone's: a new timezone rebuilds its rows, in that
-- account's scope whatever the caller's (a platform admin's update has none), which is
-- given back after.
CREATE OR REPLACE FUNCTION orders_order_days_rezone() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  scope text := current_setting('app.account_id', true);
BEGIN
  PERFORM set_config('app.account_id', NEW.id::text, true);
  DELETE FROM orders_orderday WHERE account_id = NEW.id;
  {APPEND.format(contributions=contributions(1, "orders_order", "AND r.account_id = NEW.id"))};
  PERFORM set_config('app.account_id', coalesce(scope, ''), true);
  RETURN NULL;
END
$$;
"""  # noqa: S608  (no values: table and column names only)

TRIGGERS = """
CREATE TRIGGER orders_order_days_insert AFTER INSERT ON orders_order
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_order_days();
CREATE TRIGGER orders_order_days_delete AFTER DELETE ON orders_order
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_order_days();
CREATE TRIGGER orders_order_days_update AFTER UPDATE ON orders_order
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION orders_order_days();
CREATE TRIGGER orders_order_days_rezone AFTER UPDATE OF timezone ON accounts_account
  FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
  EXECUTE FUNCTION orders_order_days_rezone();
"""

BACKFILL = APPEND.format(contributions=contributions(1, "orders_order"))

DROP = """
DROP TRIGGER IF EXISTS orders_order_days_insert ON orders_order;
DROP TRIGGER IF EXISTS orders_order_days_delete ON orders_order;
DROP TRIGGER IF EXISTS orders_order_days_update ON orders_order;
DROP TRIGGER IF EXISTS orders_order_days_rezone ON accounts_account;
DROP FUNCTION IF EXISTS orders_order_days();
DROP FUNCTION IF EXISTS orders_order_days_rezone();
"""


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
        migrations.RunSQL(FUNCTION + TRIGGERS, DROP),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
