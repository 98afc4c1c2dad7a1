from rest_framework.routers import SimpleRouter

from leads.api import views

router = SimpleRouter()
router.register("leads", views.LeadViewSet, basename="lead")

urlpatterns = router.urls
