"""Routes of the imports API. Included in /api/v1/ before customers, orders and leads,
so that the literal `customers/import/`, `customers/export/`, `orders/export/`,
`leads/import/` and `leads/export/` are not read as a customer, order or lead id."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from imports.api import views

router = SimpleRouter()
router.register("imports", views.ImportJobViewSet, basename="import")

errors_csv = views.ImportJobViewSet.as_view({"get": "errors_csv"})

urlpatterns = [
    # The SPEC's spelling, without the router's trailing slash.
    re_path(
        rf"^imports/(?P<pk>{views.UUID_PATTERN})/errors\.csv$",
        errors_csv,
        name="import-report",
    ),
    path(
        "customers/import/",
        views.CustomerImportViewSet.as_view({"post": "create"}),
        name="customer-import",
    ),
    path(
        "customers/export/",
        views.CustomerExportViewSet.as_view({"get": "list"}),
        name="customer-export",
    ),
    path(
        "leads/import/",
        views.LeadImportViewSet.as_view({"post": "create"}),
        name="lead-import",
    ),
    path(
        "leads/export/",
        views.LeadExportViewSet.as_view({"get": "list"}),
        name="lead-export",
    ),
    path(
        "orders/export/",
        views.OrderExportViewSet.as_view({"get": "list"}),
        name="order-export",
    ),
    *router.urls,
]
