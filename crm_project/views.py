"""The back office's frame: the decorator every page uses to require an account and a
role (the middleware has put both on the request). The home page is the client table
(customers.views.customer_list)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import Role
from crm_project.api.permissions import role_at_least

View = Callable[..., HttpResponse]


def account_role_required(role: str = Role.READ_ONLY) -> Callable[[View], View]:
    """Signed in, working in an account, with at least `role` there (403 otherwise).
    Without an account (several memberships and none chosen yet, or a superuser across
    accounts) the user is sent to the account switcher first."""

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request, "account", None) is None:
                return redirect("account-switch")
            if not role_at_least(request.account_role, role):  # type: ignore[attr-defined]
                raise PermissionDenied("Your role in this account does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
