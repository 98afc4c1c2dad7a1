"""Row-level security that the application role cannot switch off: the maintenance
role (`settings.DB_MAINTENANCE_ROLE`, which `unscoped()` switches to) replaces the
`app.unscoped` setting in every tenant table's policy. The roles lose TRUNCATE (which
ignores row-level security) in `grant_app_role`, run after every migrate."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [
        ("crm_project", "0005_uuid7_ids"),
        ("accounts", "0004_uuid7_ids"),
        ("customers", "0008_composite_keys_only"),
        ("orders", "0006_composite_keys_only"),
        ("segments", "0002_uuid7_ids"),
        ("imports", "0002_uuid7_ids"),
    ]

    operations = [
        migrations.RunPython(tenancy_ops.create_app_role, migrations.RunPython.noop),
        migrations.RunPython(tenancy_ops.recreate_tenant_policies, migrations.RunPython.noop),
    ]
