"""The account settings the contract lists that the model lacked: area code, currency,
send rate, feedback reminders; their ranges held by PostgreSQL too."""

import django.core.validators
from django.db import migrations, models

import crm_project.currencies


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_number_sequences"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="area_code",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The account's telephone area code (seed 002's `areaCode`), if any.",
                null=True,
                validators=[django.core.validators.MaxValueValidator(99999)],
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="currency",
            field=models.CharField(
                default="EUR",
                help_text="ISO 4217 code of the account's money.",
                max_length=3,
                validators=[crm_project.currencies.validate_currency_code],
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="feedback_max_reminders",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="Reminders sent at most for one feedback request.",
                validators=[django.core.validators.MaxValueValidator(20)],
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="feedback_reminder_days",
            field=models.PositiveSmallIntegerField(
                default=3,
                help_text="Days an unanswered feedback request waits after a send before a reminder.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(365),
                ],
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="send_rate_per_second",
            field=models.PositiveIntegerField(
                default=100,
                help_text="Messages sent per second at most, over all workers; 0: no limit.",
                validators=[django.core.validators.MaxValueValidator(100000)],
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("send_rate_per_second__lte", 100000)),
                name="account_send_rate_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("feedback_reminder_days__range", (1, 365))),
                name="account_feedback_reminder_days_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("feedback_max_reminders__lte", 20)),
                name="account_feedback_max_reminders_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__regex", "^[A-Z]{3}$")), name="account_currency_shape"
            ),
        ),
    ]
