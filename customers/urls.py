"""The client pages. Included at the site root: the client table is the home page."""

from django.urls import path

from customers import views

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("customers/<str:ref>/", views.customer_detail, name="detail"),
]
