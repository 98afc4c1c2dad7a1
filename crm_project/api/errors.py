"""One error shape for every status of every endpoint (drf-standardized-errors), plus a
top-level `message` (the first error's detail) for seed 004's clients. Django-level
failures under /api/ (unknown URL, 500, body too large) answer the same shape."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import connection, transaction
from django.http import Http404, JsonResponse
from drf_standardized_errors.formatter import ExceptionFormatter as BaseFormatter
from drf_standardized_errors.handler import ExceptionHandler as BaseHandler
from drf_standardized_errors.types import ErrorResponse
from rest_framework import exceptions

from crm_project import errors
from crm_project.api.exceptions import Conflict, PayloadTooLarge, StatementTimeout
from crm_project.tenancy import is_statement_timeout


class ExceptionFormatter(BaseFormatter):
    def format_error_response(self, error_response: ErrorResponse) -> dict[str, Any]:
        data = super().format_error_response(error_response)
        errors = data.get("errors") or []
        for error in errors:
            # A Django form (django-filter's) or a ValidationError raised without a code
            # has none: the schema promises a string.
            error["code"] = error["code"] or "invalid"
        data["message"] = errors[0]["detail"] if errors else ""
        return data


def _api_detail(detail: Any, code: str) -> Any:
    if isinstance(detail, dict):  # a field's message is a list of one, as DRF's
        return {
            key: _api_detail(value if isinstance(value, dict | list | tuple) else [value], code)
            for key, value in detail.items()
        }
    if isinstance(detail, list | tuple):
        return [_api_detail(value, code) for value in detail]
    if isinstance(detail, errors.FieldError):
        return exceptions.ErrorDetail(detail.message, code=detail.code)
    return exceptions.ErrorDetail(str(detail), code=code)


def api_exception(exc: errors.ServiceError) -> exceptions.APIException:
    """A service's refusal as the API answers it: Invalid 400, Conflict 409."""
    detail = _api_detail(exc.detail, exc.code)
    if isinstance(exc, errors.Conflict):
        return Conflict(detail, code=exc.code)
    return exceptions.ValidationError(detail, code=exc.code)


class ExceptionHandler(BaseHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, errors.ServiceError):
            return api_exception(exc)
        if isinstance(exc, Http404):
            return exceptions.NotFound()
        if isinstance(exc, DjangoPermissionDenied):
            return exceptions.PermissionDenied(str(exc) or None)
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge()
        if is_statement_timeout(exc):
            return StatementTimeout()
        return exc

    def set_rollback(self) -> None:
        # The request runs in its scope's transaction (crm_project.api.views): an error
        # answer must not commit half a write. Nothing to undo before the scope opened.
        view = self.context.get("view")
        if getattr(view, "scope_opened", False) and connection.in_atomic_block:
            transaction.set_rollback(True)

    def get_headers(self, exc: exceptions.APIException) -> dict[str, str]:
        headers = super().get_headers(exc)
        if isinstance(exc, exceptions.Throttled) and "Retry-After" not in headers:
            headers["Retry-After"] = "1"
        if isinstance(exc, StatementTimeout):
            headers["Retry-After"] = str(exc.retry_after)
        return headers


def error_body(status_code: int, code: str, detail: str, attr: str | None = None) -> dict:
    error_type = (
        "validation_error"
        if status_code == 400 and attr
        else ("client_error" if status_code < 500 else "server_error")
    )
    return {
        "type": error_type,
        "errors": [{"code": code, "detail": detail, "attr": attr}],
        "message": detail,
    }


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse(error_body(status_code, code, detail), status=status_code)
    response["Cache-Control"] = "no-store"
    return response


def _is_api(request: Any) -> bool:
    return request.path.startswith("/api/")


def handler404(request: Any, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return json_error(404, "not_found", "Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: Any) -> Any:
    if _is_api(request):
        return json_error(500, "error", "Server Error (500)")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request: Any, exception: Exception | None = None) -> Any:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, "request_too_large", "The request body is too large.")
        return json_error(400, "bad_request", "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request: Any, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return json_error(403, "permission_denied", str(exception) or "Permission denied.")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)
