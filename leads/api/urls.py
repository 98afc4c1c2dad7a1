from rest_framework.routers import SimpleRouter

from leads.api import views

router = SimpleRouter()
router.register(
    r"leads/(?P<lead_pk>[^/]+)/interactions",
    views.LeadInteractionViewSet,
    basename="lead-interaction",
)
router.register("leads", views.LeadViewSet, basename="lead")
router.register("nurture-sequences", views.NurtureSequenceViewSet, basename="nurture-sequence")

urlpatterns = router.urls
