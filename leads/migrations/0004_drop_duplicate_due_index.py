from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_count_by_status"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_nurture_due_idx",
        ),
    ]
