from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_app_role(sender, using="default", **kwargs):
    from django.db import connections

    from crm_project.migration_operations import grant_app_role

    grant_app_role(connections[using])


class CrmProjectConfig(AppConfig):
    name = "crm_project"
    verbose_name = "CRM platform"

    def ready(self) -> None:
        from crm_project import tenancy  # noqa: F401  (connects the role switch)
        from crm_project.api import schema  # noqa: F401  (OpenAPI auth extensions)

        post_migrate.connect(_grant_app_role, sender=self, dispatch_uid="crm_grant_app_role")
