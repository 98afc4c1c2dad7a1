from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey


class CredentialRateThrottle(SimpleRateThrottle):
    """One budget per credential (API key, else user, else client address), kept in
    the Redis cache so every worker process shares it."""

    scope = "credential"

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_rate(self) -> str:
        from django.conf import settings

        # Read at request time so a test or an operator can change it without a restart
        # of the throttle class.
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
