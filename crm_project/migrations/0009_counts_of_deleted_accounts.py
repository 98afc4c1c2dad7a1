"""Row counting settles nothing for an account deleted in the same transaction (its
counters went with it): deleting an account that has counted rows no longer fails at
commit."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [("crm_project", "0008_policies_evaluated_once")]

    operations = [
        migrations.RunPython(tenancy_ops.install_row_counting, migrations.RunPython.noop),
    ]
