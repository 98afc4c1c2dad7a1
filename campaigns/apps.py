from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import timeline  # noqa: F401  (registers the messages' timeline entries)
