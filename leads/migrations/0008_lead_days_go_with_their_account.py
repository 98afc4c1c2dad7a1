"""The report rollup's rows go with their account in the database (ON DELETE CASCADE):
deleting an account deletes its leads, whose trigger appends the rollup's last rows for
it after Django deleted the others."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_lead_days"), ("accounts", "0006_account_settings")]

    operations = [tenancy_ops.rollup_cascade("leads_leadday")]
