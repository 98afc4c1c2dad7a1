from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from loyalty import timeline  # noqa: F401  (registers the points' timeline entries)
