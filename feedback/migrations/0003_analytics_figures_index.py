"""The analytics read an index-only pass over a window's requests: the answered
requests' partial index gives way to one over every request carrying the figures."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_account_settings"),
        ("customers", "0019_customer_figures_index"),
        ("feedback", "0002_themes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="feedback",
            name="feedback_answered",
        ),
        migrations.AddIndex(
            model_name="feedback",
            index=models.Index(
                fields=["account", "requested_at"],
                include=("answered_at", "rating", "category"),
                name="feedback_figures",
            ),
        ),
    ]
