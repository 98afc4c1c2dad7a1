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
router.register("loyalty/levels", views.LoyaltyLevelViewSet, basename="loyalty-level")
router.register("loyalty/allow-credit", views.AllowCreditViewSet, basename="loyalty-allow-credit")
router.register(
    "loyalty/credit-requests", views.CreditRequestViewSet, basename="loyalty-credit-request"
)
router.register("loyalty/tickets", views.TicketViewSet, basename="loyalty-ticket")

urlpatterns = router.urls
