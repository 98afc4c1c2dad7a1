import django.db.models.deletion
from django.db import migrations, models

import crm_project.ids
import crm_project.migration_operations as tenancy_ops

# Each lead counts once per dimension: its status, its source, its agent ("" for none).
CONTRIBUTIONS = """
SELECT r.account_id, (r.created_at AT TIME ZONE 'UTC')::date AS day, d.dimension, d.value,
       {sign} AS leads, {sign} * r.score AS score_sum,
       {sign} * CASE WHEN r.status = 'converted' AND r.converted_at IS NOT NULL
                     THEN round(extract(epoch FROM r.converted_at - r.created_at))::bigint
                     ELSE 0 END AS convert_seconds
  FROM {rows} r
 CROSS JOIN LATERAL (VALUES ('status', r.status), ('source', r.source),
                            ('agent', coalesce(r.assigned_to_id::text, ''))) AS d(dimension, value)
"""

APPEND = """
INSERT INTO leads_leadday (id, account_id, day, dimension, value, leads, score_sum, convert_seconds)
SELECT crm_uuid7(), account_id, day, dimension, value,
       sum(leads), sum(score_sum), sum(convert_seconds)
  FROM ({contributions}) c
 GROUP BY account_id, day, dimension, value
HAVING sum(leads) <> 0 OR sum(score_sum) <> 0 OR sum(convert_seconds) <> 0
"""

# An update counts only its rows whose counted columns changed: out as they were, in as
# they are.
CHANGED = """
(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.id = o.id
  WHERE (o.created_at, o.status, o.source, o.assigned_to_id, o.score, o.converted_at)
        IS DISTINCT FROM
        (n.created_at, n.status, n.source, n.assigned_to_id, n.score, n.converted_at))
"""

FUNCTION = f"""
CREATE OR REPLACE FUNCTION leads_lead_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {APPEND.format(contributions=CONTRIBUTIONS.format(sign=1, rows="new_rows"))};
  ELSIF TG_OP = 'DELETE' THEN
    {APPEND.format(contributions=CONTRIBUTIONS.format(sign=-1, rows="old_rows"))};
  ELSE
    {
    APPEND.format(
        contributions=(
            CONTRIBUTIONS.format(sign=1, rows=CHANGED.format(side="n"))
            + " UNION ALL "
            + CONTRIBUTIONS.format(sign=-1, rows=CHANGED.format(side="o"))
        )
    )
};
  END IF;
  RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER leads_lead_days_insert AFTER INSERT ON leads_lead
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_days();
CREATE TRIGGER leads_lead_days_delete AFTER DELETE ON leads_lead
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_days();
CREATE TRIGGER leads_lead_days_update AFTER UPDATE ON leads_lead
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_days();
"""

BACKFILL = APPEND.format(contributions=CONTRIBUTIONS.format(sign=1, rows="leads_lead"))

DROP = """
DROP TRIGGER IF EXISTS leads_lead_days_insert ON leads_lead;
DROP TRIGGER IF EXISTS leads_lead_days_delete ON leads_lead;
DROP TRIGGER IF EXISTS leads_lead_days_update ON leads_lead;
DROP FUNCTION IF EXISTS leads_lead_days();
"""


class Migration(migrations.Migration):
    """The leads report's rollup (LeadDay): per day, status, source and agent, kept by
    statement-level triggers on the leads table, and filled from the leads there are."""

    dependencies = [
        ("accounts", "0006_account_settings"),
        ("leads", "0006_nurture_place"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadDay",
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
                ("day", models.DateField()),
                (
                    "dimension",
                    models.CharField(
                        choices=[("status", "Status"), ("source", "Source"), ("agent", "Agent")],
                        max_length=6,
                    ),
                ),
                ("value", models.CharField(blank=True, max_length=40)),
                ("leads", models.BigIntegerField()),
                ("score_sum", models.BigIntegerField()),
                ("convert_seconds", models.BigIntegerField()),
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
                "indexes": [
                    models.Index(fields=["account", "dimension", "day"], name="leadday_report_idx")
                ],
            },
        ),
        tenancy_ops.EnforceTenancy("leadday"),
        migrations.RunSQL(FUNCTION + TRIGGERS, DROP),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
