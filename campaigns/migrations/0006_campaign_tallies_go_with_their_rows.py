"""The stats rollup's rows go with their account and their campaign in the database
(ON DELETE CASCADE)."""

from django.db import migrations

import crm_project.migration_operations as tenancy_ops


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_campaign_tallies")]

    operations = [
        tenancy_ops.rollup_cascade("campaigns_campaigntally"),
        tenancy_ops.rollup_cascade(
            "campaigns_campaigntally", column="campaign_id", to="campaigns_campaign"
        ),
    ]
