"""The public feedback form (no login; a token bound to one request)."""

from django.urls import path

from feedback import public_views

urlpatterns = [
    path("f/<str:token>", public_views.feedback_form, name="feedback-form"),
]
