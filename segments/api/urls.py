from rest_framework.routers import SimpleRouter

from segments.api import views

router = SimpleRouter()
router.register("segments", views.SegmentViewSet, basename="segment")
router.register(
    r"segments/(?P<segment_pk>[^/.]+)/customers",
    views.SegmentCustomerViewSet,
    basename="segment-customer",
)

urlpatterns = router.urls
