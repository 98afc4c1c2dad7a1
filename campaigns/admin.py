"""Campaigns and the message ledger in the admin, scoped like every tenant model
(crm_project.admin.TenantAdmin).

Campaigns are composed, launched and watched on the campaign pages and through the API
(their audience, templates and schedule are checked there). Here a draft or scheduled
campaign's name and description can be changed, through campaigns.services, and
campaigns can be cancelled; nothing else is written. The ledger is read-only: a
message's row is the record of what was sent, changed only by the delivery path,
receipts and tracking."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns import selectors, services
from campaigns.models import LAUNCHABLE, Campaign, Message
from crm_project.admin import ReadOnlyTenantAdmin, TenantAdmin
from crm_project.errors import Conflict, Invalid

EDITABLE = ("name", "description")
CAMPAIGN_FIELDS = (
    "id",
    "name",
    "description",
    "status",
    "error",
    "channel",
    "segment",
    "rules",
    "subject",
    "message",
    "delivery_mode",
    "scheduled_at",
    "stats",
    "created_at",
    "updated_at",
    "started_at",
    "materialized_at",
    "finished_at",
)


@admin.register(Campaign)
class CampaignAdmin(TenantAdmin):
    list_display = ("name", "channel", "status", "scheduled_at", "started_at", "finished_at")
    list_filter = ("status", "channel", "delivery_mode")
    search_fields = ("name",)
    list_select_related = ("segment",)
    fields = CAMPAIGN_FIELDS
    actions = ("cancel",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = [name for name in CAMPAIGN_FIELDS if name not in EDITABLE]
        return [*super().get_readonly_fields(request, obj), *readonly]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Composed on the campaign pages or through the API, where the audience and
        # the templates are checked.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status not in LAUNCHABLE:
            return False  # started: its record is only read
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="stats")
    def stats(self, obj: Campaign) -> str:
        figures = selectors.campaign_stats(obj.account, [obj.pk])[obj.pk]
        return ", ".join(f"{name} {value}" for name, value in figures.items())

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
        if not changed:
            return
        try:
            services.campaign_update(campaign=obj, **changed)
        except (Conflict, Invalid) as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)

    @admin.action(description="Cancel selected campaigns", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        refused = []
        for campaign in queryset:
            try:
                services.campaign_cancel(campaign=campaign)
            except Conflict:
                refused.append(str(campaign))
        if refused:
            self.message_user(
                request, f"Not cancelled (already over): {', '.join(refused)}.", messages.WARNING
            )

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request)


@admin.register(Message)
class MessageAdmin(ReadOnlyTenantAdmin):
    """The ledger, read-only."""

    list_display = ("created_at", "source", "channel", "address", "status", "error", "campaign")
    list_filter = ("status", "channel", "source")
    search_fields = ("address",)
    list_select_related = ("campaign",)
    # Millions of rows: no second COUNT(*) of the whole ledger per page view.
    show_full_result_count = False
