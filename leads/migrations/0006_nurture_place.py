import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops
import crm_project.models


class Migration(migrations.Migration):
    """A lead's place in nurturing moves to a row of its own (LeadNurture): the steps
    sent, the run, the sequence and when the next is due are copied, then dropped from
    the lead."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("leads", "0005_unsubscribed_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadNurture",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=crm_project.ids.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("step", models.PositiveIntegerField(default=0)),
                ("run", models.PositiveIntegerField(default=0)),
                ("next_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="leadnurture",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.account",
            ),
        ),
        migrations.AddField(
            model_name="leadnurture",
            name="lead",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="nurture",
                to="leads.lead",
            ),
        ),
        migrations.AddField(
            model_name="leadnurture",
            name="sequence",
            field=crm_project.models.TenantForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="leads.nurturesequence",
            ),
        ),
        migrations.AddIndex(
            model_name="leadnurture",
            index=models.Index(
                condition=models.Q(("next_at__isnull", False)),
                fields=["account", "next_at"],
                name="leadnurture_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="leadnurture",
            index=models.Index(
                condition=models.Q(("sequence__isnull", False)),
                fields=["sequence"],
                name="leadnurture_sequence_idx",
            ),
        ),
        tenancy_ops.EnforceTenancy("leadnurture"),
        migrations.RunSQL(
            """
            INSERT INTO leads_leadnurture (id, account_id, lead_id, sequence_id, step, run, next_at)
            SELECT crm_uuid7(), account_id, id, nurture_sequence_id, nurture_step, nurture_run,
                   CASE WHEN nurture_state = 'active' THEN nurture_next_at END
              FROM leads_lead
             WHERE nurture_run > 0 OR nurture_state <> 'idle'
            """,
            migrations.RunSQL.noop,
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_nurture_account_due_idx",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_nurture_sequence_idx",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="nurture_next_at",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="nurture_run",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="nurture_sequence",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="nurture_step",
        ),
    ]
