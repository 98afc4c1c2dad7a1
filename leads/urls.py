"""The back-office pages of leads (login required), under /leads/."""

from django.urls import path

from leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_board, name="board"),
    path("<uuid:lead_id>/", views.lead_detail, name="detail"),
    path("<uuid:lead_id>/status/", views.lead_move, name="move"),
    path("<uuid:lead_id>/convert/", views.lead_convert, name="convert"),
    path("<uuid:lead_id>/interactions/", views.lead_interaction_add, name="interaction-add"),
    path("<uuid:lead_id>/nurture/stop/", views.lead_nurture_stop, name="nurture-stop"),
    path("<uuid:lead_id>/nurture/reset/", views.lead_nurture_reset, name="nurture-reset"),
]
