"""The orders rollup's rows go with their account in the database (ON DELETE CASCADE)."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_order_days")]

    operations = [tenancy_ops.rollup_cascade("orders_orderday")]
