from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import views

router = SimpleRouter()
router.register("accounts", views.PlatformAccountViewSet, basename="platform-account")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("agents", views.AgentViewSet, basename="agent")

urlpatterns = [
    path("account/", views.AccountView.as_view(), name="account"),
    path("account/statistics/", views.AccountStatisticsView.as_view(), name="account-statistics"),
    *router.urls,
]
