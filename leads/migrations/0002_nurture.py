import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops
import crm_project.models


class Migration(migrations.Migration):
    """Nurture sequences and their steps, and a lead's place in one."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("campaigns", "0004_message_lead"),
        ("customers", "0014_customer_unique_source_lead"),
        ("leads", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="NurtureStep",
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
                ("order", models.PositiveIntegerField()),
                ("delay_hours", models.PositiveIntegerField(default=0)),
                (
                    "channel",
                    models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=5),
                ),
                ("subject", models.CharField(blank=True, max_length=500)),
                ("message", models.TextField()),
            ],
            options={
                "ordering": ["sequence", "order"],
            },
        ),
        migrations.AddField(
            model_name="lead",
            name="nurture_next_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="nurture_run",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.CreateModel(
            name="NurtureSequence",
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
                ("name", models.CharField(max_length=200)),
                ("is_default", models.BooleanField(default=False)),
                ("active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
            ],
            options={
                "ordering": ["name", "id"],
            },
        ),
        migrations.AddField(
            model_name="lead",
            name="nurture_sequence",
            field=crm_project.models.TenantForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="leads.nurturesequence",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("nurture_state", "active")),
                fields=["nurture_next_at", "account"],
                name="lead_nurture_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("nurture_state", "active")),
                fields=["account", "nurture_next_at"],
                name="lead_nurture_account_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("nurture_sequence__isnull", False)),
                fields=["nurture_sequence"],
                name="lead_nurture_sequence_idx",
            ),
        ),
        migrations.AddField(
            model_name="nurturestep",
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
            model_name="nurturestep",
            name="sequence",
            field=crm_project.models.TenantForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="steps",
                to="leads.nurturesequence",
            ),
        ),
        migrations.AddConstraint(
            model_name="nurturesequence",
            constraint=models.UniqueConstraint(
                fields=("account", "name"), name="nurture_unique_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="nurturesequence",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)),
                fields=("account",),
                name="nurture_one_default",
            ),
        ),
        migrations.AddConstraint(
            model_name="nurturestep",
            constraint=models.UniqueConstraint(
                fields=("sequence", "order"), name="nurture_step_unique_order"
            ),
        ),
        migrations.AddConstraint(
            model_name="nurturestep",
            constraint=models.CheckConstraint(
                condition=models.Q(("order__gte", 1)), name="nurture_step_order_from_1"
            ),
        ),
        migrations.AddConstraint(
            model_name="nurturestep",
            constraint=models.CheckConstraint(
                condition=models.Q(("delay_hours__lte", 8784)),
                name="nurture_step_delay_at_most_a_year",
            ),
        ),
        tenancy_ops.EnforceTenancy("nurturesequence"),
        tenancy_ops.EnforceTenancy("nurturestep"),
        tenancy_ops.EnforceTenancy("lead"),
    ]
