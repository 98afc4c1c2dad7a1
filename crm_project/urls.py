from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as account_views
from crm_project import health
from customers import views as customer_views

api_v1 = [
    path("", include("accounts.api.urls")),
    # Before customers and orders: `customers/import/` is not a customer id.
    path("", include("imports.api.urls")),
    # Before customers: `customers/{id}/feedback/request/` is feedback's.
    path("", include("feedback.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("leads.api.urls")),
    path("", include("reports.api.urls")),
    path("", include("loyalty.api.urls")),
    path("", include("campaigns.api.webhook_urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("", include(("imports.urls", "imports"))),
    path("segments/", include("segments.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("leads/", include("leads.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("dashboard/", include("reports.urls")),
    # Tracking links and unsubscribe: public, no login (campaigns.tracking tokens).
    path("", include("campaigns.public_urls")),
    path("", include("feedback.public_urls")),
    # The client table is the home page: `customers:list`, and `home` for the
    # redirects (LOGIN_REDIRECT_URL, the account switcher).
    path("", include(("customers.urls", "customers"))),
    path("", customer_views.customer_list, name="home"),
]

handler400 = "crm_project.api.errors.handler400"
handler403 = "crm_project.api.errors.handler403"
handler404 = "crm_project.api.errors.handler404"
handler500 = "crm_project.api.errors.handler500"
