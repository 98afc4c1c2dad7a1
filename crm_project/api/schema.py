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
