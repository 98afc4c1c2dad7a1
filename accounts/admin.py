from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from accounts import services
from accounts.forms import AdminSignInForm
from accounts.models import Account, Agent, ApiKey, Membership, Role
from crm_project.admin import ReadOnlyTenantAdmin, TenantAdmin, role_allows
from crm_project.errors import Conflict

# The admin's sign-in counts failures with the back office's (`/login/`): one budget.
admin.site.login_form = AdminSignInForm


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Accounts are managed by superusers. Other staff see their own account, read-only
    (its settings change through the API's `PATCH /api/v1/account/`). The status moves
    only through the actions, which keep to the allowed transitions."""

    list_display = ("name", "slug", "status", "type", "timezone", "currency", "created_at")
    list_filter = ("status", "type")
    search_fields = ("name", "slug", "email")
    readonly_fields = ("id", "status", "created_at", "updated_at")
    prepopulated_fields = {"slug": ("name",)}
    actions = ("pause", "unpause", "inactivate", "activate")
    fieldsets = (
        (None, {"fields": ("id", "name", "slug", "status", "type", "timezone")}),
        (
            "Contact",
            {"fields": ("email", "phone_number", "website", "description")},
        ),
        (
            "Location",
            {"fields": ("country_iso3", "state", "default_phone_region", "area_code")},
        ),
        (
            "Settings",
            {
                "fields": (
                    "currency",
                    "send_rate_per_second",
                    "feedback_reminder_days",
                    "feedback_max_reminders",
                    "loyalty_earn_rate",
                    "max_credit_refusals",
                    "lead_consent_required",
                    "ai_assistant_name",
                    "attributes",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        account = getattr(request, "account", None)
        return queryset.filter(pk=account.pk) if account is not None else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or getattr(request, "account", None) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return True
        account = getattr(request, "account", None)
        return account is not None and (obj is None or obj.pk == account.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def _change_status(self, request: HttpRequest, queryset: Any, action: str) -> None:
        changed = 0
        for account in queryset:
            try:
                services.account_change_status(account=account, action=action)
            except Conflict as exc:
                self.message_user(request, f"{account.name}: {exc}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{action.capitalize()}: {changed} account(s) changed.")

    @admin.action(
        description="Pause (the API works, nothing outbound is sent)", permissions=["change"]
    )
    def pause(self, request: HttpRequest, queryset: Any) -> None:
        self._change_status(request, queryset, "pause")

    @admin.action(permissions=["change"], description="Unpause")
    def unpause(self, request: HttpRequest, queryset: Any) -> None:
        self._change_status(request, queryset, "unpause")

    @admin.action(permissions=["change"], description="Inactivate (every credential is refused)")
    def inactivate(self, request: HttpRequest, queryset: Any) -> None:
        self._change_status(request, queryset, "inactivate")

    @admin.action(permissions=["change"], description="Activate")
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        self._change_status(request, queryset, "activate")


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    """Who works in the account, with which role. Account admins change roles and
    remove members; adding a membership needs a user, which superusers create
    (`manage.py create_user`), so adding is theirs too."""

    list_display = ("user", "user_email", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    write_role = Role.ADMIN

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj: Membership) -> str:
        return obj.user.email

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("user")  # a membership is one user's; change the role only
        return fields


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyTenantAdmin):
    """A read-only list: keys are created on the API keys page (the secret is shown
    there, once) and revoked there or with the action below. The hash is never shown."""

    list_display = ("prefix", "name", "role", "created_at", "last_used_at", "revoked_at")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name")
    fields = ("prefix", "name", "role", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)
    view_role = Role.ADMIN
    write_role = Role.ADMIN

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return role_allows(request, self.write_role)

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        live = [key for key in queryset if not key.revoked]
        for api_key in live:
            services.api_key_revoke(api_key=api_key)
        self.message_user(request, f"{len(live)} API key(s) revoked.")


@admin.register(Agent)
class AgentAdmin(TenantAdmin):
    list_display = ("__str__", "email", "phone", "external_id", "user", "active")
    list_display_links = ("__str__",)
    list_filter = ("active",)
    search_fields = ("first_name", "last_name", "email", "phone", "external_id")
    fields = ("first_name", "last_name", "email", "phone", "external_id", "user", "active")
    write_role = Role.ADMIN
