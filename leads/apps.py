from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self) -> None:
        from crm_project import rollups
        from leads.models import LeadDay

        rollups.register(
            LeadDay,
            group=["day", "dimension", "value"],
            sums=["leads", "score_sum", "convert_seconds"],
        )
