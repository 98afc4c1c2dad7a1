"""DRF's request budget: one per credential, kept in Redis so every worker process
shares it (crm_project.api.budgets: a list of request times per credential, checked and
extended by one Lua script). An API-key request has usually spent it already, in the
round trip its authentication made; any other request takes it here. Failed sign-ins
have their own budget (crm_project.api.signins)."""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from crm_project.api import budgets
from crm_project.api.authentication import credential_id


class CredentialRateThrottle(SimpleRateThrottle):
    """One budget per credential (API key, else user, else client address)."""

    scope = budgets.REQUEST_BUDGET_SCOPE
    _wait: float | None = None

    def get_cache_key(self, request: Request, view: Any) -> str:
        return budgets.request_budget_key(credential_id(request) or f"ip:{self.get_ident(request)}")

    def get_rate(self) -> str:
        # Read at request time so a test or an operator can change it without a restart
        # of the throttle class.
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        spent = getattr(request, "request_budget_spent", None)
        if spent is not None and spent.budget_key == key:
            self._wait = spent.budget_wait
        else:
            self._wait = budgets.take(key, self.num_requests, self.duration)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
