from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_drop_redundant_indexes"),
        ("crm_project", "0003_rowcount"),
    ]

    operations = [
        tenancy_ops.CountRows("order", "orders"),
    ]
