from django.urls import path

from imports import views

urlpatterns = [
    path("import/", views.upload, name="upload"),
    path("import/<uuid:job_id>/", views.detail, name="detail"),
    path("import/<uuid:job_id>/cancel/", views.cancel, name="cancel"),
]
