from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/leads/", views.LeadReportView.as_view(), name="report-leads"),
    path("reports/customers/", views.CustomerReportView.as_view(), name="report-customers"),
    path("analytics/dashboard/", views.DashboardView.as_view(), name="analytics-dashboard"),
]
