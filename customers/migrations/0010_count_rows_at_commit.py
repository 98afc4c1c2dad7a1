"""Row counters (the customers' and the orders') written at commit
(crm_project.migration_operations.COUNT_FUNCTION_SQL): a transaction that inserted rows
no longer holds its account's counter row locked until it ends, so it never holds back
another create of the account."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_lifetime_spend_holds_any_number_of_orders"),
        ("crm_project", "0003_rowcount"),
        ("orders", "0003_count_orders"),
    ]

    operations = [
        migrations.RunPython(tenancy_ops.install_row_counting, migrations.RunPython.noop),
    ]
