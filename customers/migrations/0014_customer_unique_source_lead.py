from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("customers", "0013_interaction_lead"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source_lead__isnull", False)),
                fields=("account", "source_lead"),
                name="customer_unique_source_lead",
            ),
        ),
    ]
