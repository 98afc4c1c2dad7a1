"""The baseline the API list is measured against: the same 50 customer rows of the first
page, read with one plain query and returned by a bare `JsonResponse` (no
authentication, serializer, pagination count or filters), served by the same gunicorn.

Run as `gunicorn bench.baseline:application`; the account is `BENCH_ACCOUNT` (slug)."""

import os

import django
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
django.setup()

from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from accounts.selectors import account_by_slug_or_id  # noqa: E402
from crm_project.tenancy import account_scope  # noqa: E402
from customers.models import Customer  # noqa: E402

FIELDS = [
    "id",
    "number",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "type",
    "status",
    "city",
    "country",
    "tags",
    "metadata",
    "lifetime_spend",
    "total_orders",
    "created_at",
    "updated_at",
]
ACCOUNT = account_by_slug_or_id(os.environ.get("BENCH_ACCOUNT", "bench"))


def first_page(request):
    with account_scope(ACCOUNT):
        rows = list(Customer.objects.order_by("-created_at", "-id").values(*FIELDS)[:50])
    return JsonResponse({"results": rows})


urlpatterns = [path("baseline/", first_page)]


class _Handler(WSGIHandler):
    def __init__(self):
        from django.conf import settings

        settings.ROOT_URLCONF = __name__
        super().__init__()


application = _Handler()
