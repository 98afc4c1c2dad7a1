import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops

# Each message of a campaign counts in its campaign and status, with whether it was
# opened, clicked and unsubscribed from. Messages of no campaign (nurture, feedback,
# follow-ups) are not counted, nor those of a campaign deleted before them (Django
# deletes a campaign before its messages; its tallies went with it).
TRIGGERS = tenancy_ops.RollupTriggers(
    name="campaigns_message_tallies",
    source="campaigns_message",
    rollup="campaigns_campaigntally",
    group={"campaign_id": "r.campaign_id", "status": "r.status"},
    sums={
        "messages": "1",
        "opened": "(r.opened_at IS NOT NULL)::int",
        "clicked": "(r.clicked_at IS NOT NULL)::int",
        "unsubscribed": "(r.unsubscribed_at IS NOT NULL)::int",
    },
    joins="JOIN campaigns_campaign k ON k.id = r.campaign_id",
    changed=("campaign_id", "status", "opened_at", "clicked_at", "unsubscribed_at"),
)


class Migration(migrations.Migration):
    """The campaigns' stats rollup (CampaignTally): per campaign and message status,
    the messages and how many were opened, clicked and unsubscribed from; filled from
    the ledger there is."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("campaigns", "0004_message_lead"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignTally",
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
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("delivered", "Delivered"),
                            ("bounced", "Bounced"),
                            ("failed", "Failed"),
                            ("skipped", "Skipped"),
                            ("opened", "Opened"),
                            ("clicked", "Clicked"),
                        ],
                        max_length=9,
                    ),
                ),
                ("messages", models.BigIntegerField()),
                ("opened", models.BigIntegerField()),
                ("clicked", models.BigIntegerField()),
                ("unsubscribed", models.BigIntegerField()),
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
                    "campaign",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["account", "campaign"], name="campaigntally_campaign_idx")
                ],
            },
        ),
        tenancy_ops.EnforceTenancy("campaigntally"),
        *TRIGGERS.operations(),
    ]
