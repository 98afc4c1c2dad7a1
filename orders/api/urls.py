from rest_framework.routers import SimpleRouter

from orders.api import views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("pos", views.PointOfSaleViewSet, basename="pos")
router.register("orders", views.OrderViewSet, basename="order")

urlpatterns = router.urls
