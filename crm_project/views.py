"""The back office's frame: the decorator every page uses to require an account and a
role (the middleware has put both on the request). The home page is the client table
(customers.views.customer_list)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
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


def query_string(params: QueryDict, **changes: str | None) -> str:
    """`?...` of a page's query with `changes` made (a None or empty value drops the
    parameter): the links of filters and of keyset pages."""
    query = params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def page_links(params: QueryDict, page: Any) -> dict[str, str | None]:
    """The first, next and previous links of a keyset page (crm_project.keyset), None
    where there is none."""
    return {
        "first_url": query_string(params) if page.previous else None,
        "next_url": query_string(params, after=page.next.encode()) if page.next else None,
        "previous_url": (
            query_string(params, before=page.previous.encode()) if page.previous else None
        ),
    }
