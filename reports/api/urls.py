from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/leads/", views.LeadReportView.as_view(), name="report-leads"),
]
