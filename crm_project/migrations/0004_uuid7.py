from django.db import migrations

from crm_project import ids


class Migration(migrations.Migration):
    """crm_uuid7(): time-ordered ids in SQL, as crm_project.ids.uuid7 makes them in
    Python (set-based writers such as imports)."""

    dependencies = [("crm_project", "0003_rowcount")]

    operations = [migrations.RunSQL(ids.CREATE_SQL, ids.DROP_SQL)]
