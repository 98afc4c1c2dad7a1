"""The orders rollup's rows go with their account in the database (ON DELETE CASCADE):
deleting an account deletes its orders, whose trigger appends the rollup's last rows for
it after Django deleted the others."""

from django.db import migrations

CASCADE = """
DO $$
DECLARE
  name text;
BEGIN
  SELECT conname INTO name FROM pg_constraint
   WHERE conrelid = 'orders_orderday'::regclass AND contype = 'f'
     AND confrelid = 'accounts_account'::regclass;
  EXECUTE format('ALTER TABLE orders_orderday DROP CONSTRAINT %I', name);
  ALTER TABLE orders_orderday ADD CONSTRAINT orders_orderday_account_cascade
    FOREIGN KEY (account_id) REFERENCES accounts_account (id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_order_days")]

    operations = [migrations.RunSQL(CASCADE, migrations.RunSQL.noop)]
