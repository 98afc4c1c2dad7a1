"""Drop the single-column index on nurture steps' `sequence_id`: the unique
nurture_step_unique_order (sequence_id, "order") begins with the same column, so it
answers every look-up by sequence (a sequence's steps in order, the cascade when a
sequence is deleted, the composite foreign key's check) and the second index was only
written. See the README's "Index budget"."""

import django.db.models.deletion
from django.db import migrations

import crm_project.models


class Migration(migrations.Migration):
    dependencies = [("leads", "0008_lead_days_go_with_their_account")]

    operations = [
        migrations.AlterField(
            model_name="nurturestep",
            name="sequence",
            field=crm_project.models.TenantForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="steps",
                to="leads.nurturesequence",
            ),
        ),
    ]
