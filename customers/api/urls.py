from rest_framework.routers import SimpleRouter

from customers.api import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register(
    r"customers/(?P<customer_pk>[^/.]+)/interactions",
    views.CustomerInteractionViewSet,
    basename="customer-interaction",
)

urlpatterns = router.urls
