from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("campaigns", "0004_message_lead"),
        ("customers", "0015_unsubscribed_index"),
        ("leads", "0004_drop_duplicate_due_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("unsubscribed_at__isnull", False)),
                fields=["account", "unsubscribed_at"],
                name="lead_unsubscribed_idx",
            ),
        ),
    ]
