"""The public, unauthenticated endpoints of the ledger: click redirects, the open
pixel and one-click unsubscribe (tokens bound to one message, campaigns.tracking)."""

from django.urls import path

from campaigns import public_views

urlpatterns = [
    path("t/c/<str:token>", public_views.click, name="track-click"),
    path("t/o/<str:token>", public_views.open_pixel, name="track-open"),
    path("u/<str:token>", public_views.unsubscribe, name="unsubscribe"),
]
