"""OpenAPI descriptions of the API's own authentication classes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
