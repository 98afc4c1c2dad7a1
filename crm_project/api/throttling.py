"""DRF's request budget: one per credential, kept in the Redis cache so every worker
process shares it. Failed sign-ins have their own budget (crm_project.api.signins)."""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from crm_project.api.authentication import credential_id


class CredentialRateThrottle(SimpleRateThrottle):
    """One budget per credential (API key, else user, else client address)."""

    scope = "credential"

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = credential_id(request) or f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_rate(self) -> str:
        # Read at request time so a test or an operator can change it without a restart
        # of the throttle class.
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
