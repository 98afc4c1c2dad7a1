"""The segment builder page: the account's segments and an editor of rules with a live
count. The page renders the list; the builder (static/js/segment-builder.js) reads the
catalog, previews, saves and (de)activates through the REST API with the session."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.models import Role
from crm_project.api.permissions import role_at_least
from crm_project.views import account_role_required
from segments import selectors


@require_GET
@ensure_csrf_cookie
@account_role_required(Role.READ_ONLY)
def builder(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    context = {
        "segments": selectors.segment_list(account).order_by("name", "id"),
        "can_write": role_at_least(request.account_role, Role.MEMBER),  # type: ignore[attr-defined]
        "api_root": reverse("segment-list"),
    }
    return render(request, "segments/builder.html", context)
