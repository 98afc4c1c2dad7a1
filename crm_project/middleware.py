"""Back-office pages and the admin run inside the signed-in user's account scope, like
the API does for its credentials. API paths scope themselves (crm_project.api.views).
A NUL in a query string is refused before any view runs."""

from collections.abc import Callable

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request
from rest_framework.exceptions import APIException

from crm_project.api.authentication import resolve_user_access
from crm_project.api.errors import error_body
from crm_project.api.exceptions import StatementTimeout
from crm_project.api.parsers import NUL_CODE, NUL_DETAIL
from crm_project.tenancy import account_scope, is_statement_timeout, unscoped

UNSCOPED_PREFIXES = ("/api/", "/static/", "/healthz", "/readyz")


class AccountScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.account = None  # type: ignore[attr-defined]
        request.account_role = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if request.path.startswith(UNSCOPED_PREFIXES) or user is None or not user.is_authenticated:
            return self.get_response(request)

        try:
            access = resolve_user_access(user, request.GET.get("account", ""), request)
        except APIException as exc:
            request.account_error = str(exc.detail)  # type: ignore[attr-defined]
            return self.get_response(request)
        request.account = access.account  # type: ignore[attr-defined]
        request.account_role = access.role  # type: ignore[attr-defined]
        if access.account is not None:
            with account_scope(access.account):
                return self.get_response(request)
        # A superuser with no account chosen: the admin across all accounts.
        with unscoped():
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A page that ran past DB_STATEMENT_TIMEOUT answers 503, as the API does."""
        if not is_statement_timeout(exception):
            return None
        if connection.in_atomic_block:
            transaction.set_rollback(True)  # the scope's transaction was aborted
        response = HttpResponse(
            StatementTimeout.default_detail, status=503, content_type="text/plain"
        )
        response["Retry-After"] = str(StatementTimeout.retry_after)
        return response


class RefuseNulInQueryMiddleware:
    """A NUL character in a query parameter's name or value answers 400 naming the
    parameter: PostgreSQL refuses NUL in text, and no parameter of ours needs one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return self._refuse(request, name.replace("\x00", "\\u0000"))
        return self.get_response(request)

    def _refuse(self, request: HttpRequest, name: str) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return bad_request(request, ValueError("NUL in the query string"))
        body = error_body(400, NUL_CODE, NUL_DETAIL, attr=name)
        response = JsonResponse(body, status=400)
        response["Cache-Control"] = "no-store"
        return response
