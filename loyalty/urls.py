"""The back-office page of loyalty (login required), under /loyalty/."""

from django.urls import path

from loyalty import views

app_name = "loyalty"

urlpatterns = [
    path("", views.loyalty_overview, name="overview"),
]
