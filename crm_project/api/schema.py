"""The OpenAPI schema: the API's authentication classes, its error responses (every
status an operation can answer, with the body it really has) and the hooks that shape
it."""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ServerErrorEnum,
    ValidationErrorEnum,
)
from drf_standardized_errors.openapi_utils import get_error_examples, get_example_from_exception
from rest_framework import serializers

from crm_project.api.exceptions import Conflict, PayloadTooLarge

BAD_REQUEST_TYPES = [*ValidationErrorEnum.choices, *ClientErrorEnum.choices]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "crm_project.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "crm_live_<secret>",
            "description": "An API key of the account (its role applies).",
        }


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "crm_project.api.authentication.BasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "A user; `X-Account: <slug>` names the account when the user "
            "belongs to several.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "crm_project.api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class MoneyFieldExtension(OpenApiSerializerFieldExtension):
    """Money is a decimal string on output; on input a JSON number is read too (SPEC:
    API conventions), and the request schema says so."""

    target_class = "crm_project.api.fields.MoneyField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        text = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return text
        return {"anyOf": [text, {"type": "number"}]}


def drop_slash_duplicates(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """A route served both as `x` and `x/` (the SPEC's `errors.csv` and the router's
    spelling) is one operation: document the first only."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for endpoint in endpoints:
        path, _regex, method = endpoint[0], endpoint[1], endpoint[2]
        key = (path.rstrip("/"), method)
        if key not in seen:
            seen.add(key)
            kept.append(endpoint)
    return kept


# --- Error responses -------------------------------------------------------------------
# One error shape for every status (crm_project.api.errors). The schema documents it
# as it is answered: `code` is an open set of strings (apps add their own), `attr` the
# dotted path of the field (list indexes included) or null, and the top-level
# `message`. drf-standardized-errors reads these serializers through its
# ERROR_SCHEMAS setting; AutoSchema below decides which statuses an operation can answer.


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code.")
    detail = serializers.CharField(help_text="A human-readable explanation.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The input at fault as a dotted path (`items.0.quantity`), or null.",
    )


class _ErrorResponseSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)
    message = serializers.CharField(help_text="The first error's detail (empty without one).")


@extend_schema_serializer(component_name="BadRequestResponse")
class BadRequestResponseSerializer(_ErrorResponseSerializer):
    type = serializers.ChoiceField(
        choices=BAD_REQUEST_TYPES,
        help_text="`validation_error` for invalid input (one error per field), "
        "`client_error` for a body that could not be read.",
    )


@extend_schema_serializer(component_name="ClientErrorResponse")
class ClientErrorResponseSerializer(_ErrorResponseSerializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)


@extend_schema_serializer(component_name="ServerErrorResponse")
class ServerErrorResponseSerializer(_ErrorResponseSerializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)


# What each error status means here, with the codes the product answers.
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: one error per bad field (`attr` its dotted path, list indexes "
    "included) or query parameter; a body that cannot be parsed is a `client_error` "
    "`parse_error`.",
    "401": "Missing or bad credentials (`not_authenticated`, `authentication_failed`).",
    "403": "The role does not allow it (`permission_denied`), the account is inactive "
    "(`account_inactive`), or `X-Account` is needed or names another account "
    "(`account_required`, `not_a_member`).",
    "404": "No such object in the account (another account's object answers the same).",
    "405": "The method is not allowed here (`method_not_allowed`).",
    "406": "No answer in the media type asked for by `Accept` (`not_acceptable`).",
    "409": "A duplicate of a unique key (`duplicate_email`, `duplicate_sku`, ...), a state "
    "conflict (`invalid_status`, `has_orders`, ...), or an `Idempotency-Key` reused with "
    "another body.",
    "413": "The body or file is too large (`request_too_large`).",
    "414": "The URL is too long: answered by the HTTP server (gunicorn's request-line "
    "limit, 4094 bytes) before the API runs, as a small HTML page.",
    "415": "The body's content type is not accepted (`unsupported_media_type`).",
    "429": "Too many requests (`throttled`); `Retry-After` tells when to try again.",
    "500": "An unexpected server error (`error`).",
    "503": "The database took too long (`statement_timeout`); `Retry-After` tells when to "
    "try again.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before trying again.",
    }
}
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class AutoSchema(StandardizedErrorsAutoSchema):
    """Documents every status an operation can answer, with its real body, and a
    request body only in the media types that carry it whole: JSON for the JSON API
    (the form parsers serve the browsable API's forms, and flatten nested data),
    multipart for file uploads."""

    def map_parsers(self) -> list[Any]:
        media_types = super().map_parsers()
        if "application/json" in media_types:
            return ["application/json"]
        return [media_type for media_type in media_types if media_type.startswith("multipart/")]

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "409":
            return self.method in _WRITE_METHODS and status_code not in responses
        if status_code == "413":
            return self.method in _BODY_METHODS and status_code not in responses
        if status_code == "400" and status_code not in responses and self._has_query_parameters():
            return True
        return super()._should_add_error_response(responses, status_code)

    def _get_parameters(self) -> list[dict[str, Any]]:
        """A query parameter sent empty is read as not sent (django-filter's rule, and
        the pagination's)."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def _has_query_parameters(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())

    def _get_error_response_examples(self) -> list[OpenApiExample]:
        """drf-standardized-errors' examples and ours, with the `message` every answer
        carries."""
        allowed = set(self._get_allowed_error_status_codes())
        extra = [get_example_from_exception(exc) for exc in (Conflict(), PayloadTooLarge())]
        return [
            _with_message(example)
            for example in [*get_error_examples(), *extra]
            if allowed.intersection(example.status_codes)
        ]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction=direction)
        if direction != "response":
            return responses
        responses["414"] = {
            "description": ERROR_DESCRIPTIONS["414"],
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
        for status_code, description in ERROR_DESCRIPTIONS.items():
            if status_code in responses and not responses[status_code].get("description"):
                responses[status_code]["description"] = description
        for status_code in ("429", "503"):
            if status_code in responses:
                responses[status_code]["headers"] = _RETRY_AFTER
        return responses


def _with_message(example: OpenApiExample) -> OpenApiExample:
    errors = example.value.get("errors") or []
    return OpenApiExample(
        example.name,
        value={**example.value, "message": errors[0]["detail"] if errors else ""},
        response_only=True,
        status_codes=example.status_codes,
    )
