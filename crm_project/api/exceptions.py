"""API exceptions beyond DRF's own, raised by the API layer; the error handler
(crm_project.api.errors) gives them the one error shape. Services raise
crm_project.errors instead, which the handler maps to these."""

from rest_framework import exceptions, status


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class AccountInactive(exceptions.PermissionDenied):
    default_detail = "This account is inactive."
    default_code = "account_inactive"


class StatementTimeout(exceptions.APIException):
    """A database statement ran past the request's `DB_STATEMENT_TIMEOUT`."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database took too long to answer; try again later or narrow the request."
    default_code = "statement_timeout"
    retry_after = 30
