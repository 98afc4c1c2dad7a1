from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import timeline  # noqa: F401  (registers the messages' timeline entries)
        from campaigns.models import CampaignTally
        from crm_project import rollups

        rollups.register(
            CampaignTally,
            group=["campaign", "status"],
            sums=["messages", "opened", "clicked", "unsubscribed"],
        )
