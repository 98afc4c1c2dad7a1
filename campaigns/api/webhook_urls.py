"""The provider receipts' route, under /api/v1/ (signed, no API key: campaigns.api.webhooks)."""

from django.urls import path

from campaigns.api.webhooks import DeliveryWebhookView

urlpatterns = [
    path("webhooks/delivery/", DeliveryWebhookView.as_view(), name="webhook-delivery"),
]
