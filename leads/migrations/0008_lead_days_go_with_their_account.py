"""The report rollup's rows go with their account in the database (ON DELETE CASCADE):
deleting an account deletes its leads, whose trigger appends the rollup's last rows for
it after Django deleted the others."""

from django.db import migrations

CASCADE = """
DO $$
DECLARE
  name text;
BEGIN
  SELECT conname INTO name FROM pg_constraint
   WHERE conrelid = 'leads_leadday'::regclass AND contype = 'f'
     AND confrelid = 'accounts_account'::regclass;
  EXECUTE format('ALTER TABLE leads_leadday DROP CONSTRAINT %I', name);
  ALTER TABLE leads_leadday ADD CONSTRAINT leads_leadday_account_cascade
    FOREIGN KEY (account_id) REFERENCES accounts_account (id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_lead_days"), ("accounts", "0006_account_settings")]

    operations = [migrations.RunSQL(CASCADE, migrations.RunSQL.noop)]
