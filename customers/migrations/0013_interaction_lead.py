import django.db.models.deletion
from django.db import migrations, models

import crm_project.migration_operations as tenancy_ops
import crm_project.models


class Migration(migrations.Migration):
    """Interactions with leads share the customers' table: `lead` (exactly one of
    customer and lead), with its composite key added by EnforceTenancy."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("customers", "0012_followups"),
        ("leads", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="interaction",
            name="lead",
            field=crm_project.models.TenantForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="interaction",
            name="type",
            field=models.CharField(
                choices=[
                    ("email", "Email"),
                    ("call", "Call"),
                    ("meeting", "Meeting"),
                    ("support", "Support"),
                    ("purchase", "Purchase"),
                    ("note", "Note"),
                    ("sms", "SMS"),
                    ("other", "Other"),
                ],
                max_length=10,
            ),
        ),
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(
                condition=models.Q(("lead__isnull", False)),
                fields=["account", "lead", "-date"],
                name="interaction_lead_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="interaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("customer__isnull", False), ("lead__isnull", True)),
                    models.Q(("customer__isnull", True), ("lead__isnull", False)),
                    _connector="OR",
                ),
                name="interaction_customer_or_lead",
            ),
        ),
        tenancy_ops.EnforceTenancy("interaction"),
    ]
