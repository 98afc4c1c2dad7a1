"""Follow-ups (customers.models.FollowUp): one per due interaction, its agent notified
once through the campaigns ledger."""

import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops
import crm_project.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("campaigns", "0003_materializing_heartbeat"),
        ("customers", "0011_health_thresholds"),
    ]

    operations = [
        migrations.CreateModel(
            name="FollowUp",
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
                ("due_at", models.DateTimeField(help_text="The interaction's next_action_date.")),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("completed", "Completed")],
                        default="open",
                        max_length=10,
                    ),
                ),
                ("completed_at", models.DateTimeField(blank=True, null=True)),
                ("notified", models.BooleanField(default=False)),
                ("notified_at", models.DateTimeField(blank=True, null=True)),
                (
                    "notify_error",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("no_agent", "Unassigned: no agent to notify"),
                            ("no_address", "The agent has neither an email nor a phone"),
                        ],
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
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
                (
                    "agent",
                    crm_project.models.TenantForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.agent",
                    ),
                ),
                (
                    "interaction",
                    crm_project.models.TenantForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.interaction",
                    ),
                ),
                (
                    "message",
                    crm_project.models.TenantForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="campaigns.message",
                    ),
                ),
            ],
            options={
                "ordering": ["due_at", "id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "open")),
                        fields=["account", "due_at", "id"],
                        name="followup_open_due_idx",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("interaction",), name="followup_unique_interaction"
                    )
                ],
            },
        ),
        tenancy_ops.EnforceTenancy("followup"),
    ]
