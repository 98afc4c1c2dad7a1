from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("customers", "0014_customer_unique_source_lead"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("unsubscribed_at__isnull", False)),
                fields=["account", "unsubscribed_at"],
                name="customer_unsubscribed_idx",
            ),
        ),
    ]
