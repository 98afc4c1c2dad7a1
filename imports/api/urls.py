"""Routes of the imports API. Included in /api/v1/ before customers and orders, so that
the literal `customers/import/`, `customers/export/` and `orders/export/` are not read
as a customer or an order id."""

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
        "orders/export/",
        views.OrderExportViewSet.as_view({"get": "list"}),
        name="order-export",
    ),
    *router.urls,
]
