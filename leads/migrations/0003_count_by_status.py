"""The account's leads counted per status as they are written (the pipeline board's
column counts without counting a million rows)."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_nurture"), ("crm_project", "0008_policies_evaluated_once")]

    operations = [tenancy_ops.CountRowsBy("lead", "leads:status:", "status")]
