from rest_framework.routers import SimpleRouter

from loyalty.api import views

router = SimpleRouter()
router.register("loyalty/cards", views.LoyaltyCardViewSet, basename="loyalty-card")
router.register("loyalty/credit", views.LoyaltyCreditViewSet, basename="loyalty-credit")
router.register("loyalty/redeem", views.LoyaltyRedeemViewSet, basename="loyalty-redeem")
router.register("loyalty/adjust", views.LoyaltyAdjustViewSet, basename="loyalty-adjust")
router.register(
    "loyalty/transactions", views.LoyaltyTransactionViewSet, basename="loyalty-transaction"
)

urlpatterns = router.urls
