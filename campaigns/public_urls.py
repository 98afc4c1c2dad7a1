"""The public, unauthenticated endpoints of the ledger: click redirects, the open
pixel and one-click unsubscribe (tokens bound to one message, campaigns.tracking)."""

urlpatterns: list = []
