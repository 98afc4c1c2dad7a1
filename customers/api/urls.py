from rest_framework.routers import SimpleRouter

from customers.api import followups, views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register(
    r"customers/(?P<customer_pk>[^/.]+)/interactions",
    views.CustomerInteractionViewSet,
    basename="customer-interaction",
)
router.register("followups", followups.FollowUpViewSet, basename="followup")

urlpatterns = router.urls
