from django.urls import path

from accounts import views

urlpatterns = [
    path("account/switch/", views.account_switch, name="account-switch"),
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path(
        "settings/api-keys/<uuid:key_id>/revoke/",
        views.api_key_revoke,
        name="api-key-revoke",
    ),
]
