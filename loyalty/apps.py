from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from crm_project import rollups
        from loyalty import timeline  # noqa: F401  (registers the points' timeline entries)
        from loyalty.models import LoyaltyDay

        rollups.register(LoyaltyDay, group=["day", "kind"], sums=["rows", "points"])
