"""The back-office dashboard (login required), under /dashboard/. The url names are
global: the navigation's "Dashboard" section is `dashboard`."""

from django.urls import path

from reports import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data", views.dashboard_data, name="dashboard-data"),
]
