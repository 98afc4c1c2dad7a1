import django.db.models.deletion
from django.db import migrations, models

import crm_project.migration_operations as tenancy_ops
import crm_project.models


class Migration(migrations.Migration):
    """The ledger's lead becomes a foreign key to leads.Lead. The column stays (`lead_id`,
    uuid, its values kept): only Django's state changes, and EnforceTenancy adds the
    composite key `(account_id, lead_id) -> leads_lead (account_id, id)`."""

    dependencies = [
        ("campaigns", "0003_materializing_heartbeat"),
        ("leads", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="message", name="lead_id"),
                migrations.AddField(
                    model_name="message",
                    name="lead",
                    field=crm_project.models.TenantForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="leads.lead",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("lead__isnull", False)),
                fields=["lead", "-created_at"],
                name="message_lead_idx",
            ),
        ),
        tenancy_ops.EnforceTenancy("message"),
    ]
