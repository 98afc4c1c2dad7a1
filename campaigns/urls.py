"""The back-office pages of campaigns (login required)."""

app_name = "campaigns"

urlpatterns: list = []
