"""Every tenant table's policy computes the role and the account in scope once per
statement (sub-selects, see crm_project.migration_operations.policy_predicate) instead
of once per row."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [
        ("crm_project", "0007_idempotency_keys_per_credential"),
        ("accounts", "0006_account_settings"),
        ("customers", "0014_customer_unique_source_lead"),
        ("orders", "0006_composite_keys_only"),
        ("segments", "0002_uuid7_ids"),
        ("imports", "0002_uuid7_ids"),
        ("campaigns", "0004_message_lead"),
        ("leads", "0002_nurture"),
    ]

    operations = [
        migrations.RunPython(tenancy_ops.recreate_tenant_policies, migrations.RunPython.noop),
    ]
