from typing import Any

from django.http import HttpRequest


def current_account(request: HttpRequest) -> dict[str, Any]:
    return {
        "current_account": getattr(request, "account", None),
        "current_role": getattr(request, "account_role", None),
        "account_error": getattr(request, "account_error", None),
    }
