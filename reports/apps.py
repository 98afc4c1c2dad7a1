from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Read-only metrics over the other apps (SPEC "Reports"): selectors, no models."""

    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"
