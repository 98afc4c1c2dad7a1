"""The back-office pages of campaigns (login required), under /campaigns/."""

from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("rows/", views.campaign_list_rows, name="list-rows"),
    path("new/", views.campaign_new, name="new"),
    path("preview/message/", views.preview_message, name="preview-message"),
    path("preview/audience/", views.preview_audience, name="preview-audience"),
    path("<uuid:campaign_id>/", views.campaign_detail, name="detail"),
    path("<uuid:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<uuid:campaign_id>/stats/", views.campaign_stats, name="stats"),
    path("<uuid:campaign_id>/launch/", views.campaign_launch, name="launch"),
    path("<uuid:campaign_id>/cancel/", views.campaign_cancel, name="cancel"),
]
