"""The Django admin, scoped like the rest of the back office.

`TenantAdmin` is the base of every tenant model's admin:

- A superuser with no account chosen works across accounts (the middleware runs the
  request in `unscoped()`): every row, an `account` column and filter, and an account
  to pick when adding a row.
- Everyone else, including a superuser who chose an account, sees only the rows of
  `request.account`. The account of a new row is `request.account`, never a form
  value, and it never changes afterwards.
- Permissions come from the role in the account (`request.account_role`), not from
  Django's model permissions: viewing needs `view_role` (read_only by default), adding,
  changing and deleting need `write_role` (member by default), like the API views'
  `read_role` / `write_role`. Django's permission rows are global, not per account, so
  staff need only `is_staff` and a membership; no permission rows are granted.
- Foreign keys offer only rows of the same account (and, for user fields, the
  account's members), and the form refuses a row of another account.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest

from accounts.models import Account, Role
from crm_project.api.permissions import role_at_least
from crm_project.models import TenantModel

admin.site.site_header = "CRM admin"
admin.site.site_title = "CRM admin"
admin.site.index_title = "Records"


def is_platform(request: HttpRequest) -> bool:
    """A superuser acting across all accounts: no account chosen, and none that failed
    to resolve (then the request runs in no scope at all, and sees nothing)."""
    return bool(
        request.user.is_superuser
        and getattr(request, "account", None) is None
        and not getattr(request, "account_error", None)
    )


def role_allows(request: HttpRequest, wanted: str) -> bool:
    if is_platform(request):
        return True
    return getattr(request, "account", None) is not None and role_at_least(
        getattr(request, "account_role", None), wanted
    )


def _tenant_rows(value: Any) -> list[TenantModel]:
    rows = value if isinstance(value, list | tuple | models.QuerySet) else [value]
    return [row for row in rows if isinstance(row, TenantModel)]


class TenantAdminForm(forms.ModelForm):
    """Sets the row's account before validation, so that unique constraints which
    include the account (external ids, one membership per user) are checked by the form
    instead of failing in the database."""

    # The request's account (None for a superuser across accounts); set by
    # TenantAdmin.get_form on a per-request subclass.
    tenant_account: Account | None = None

    def owning_account(self) -> Account | None:
        if self.instance.account_id is not None:
            return self.instance.account
        if self.tenant_account is not None:
            return self.tenant_account
        return getattr(self, "cleaned_data", {}).get("account")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        account = self.owning_account()
        if account is not None:
            for name, field in self.fields.items():
                if not isinstance(field, forms.ModelChoiceField) or name == "account":
                    continue
                if any(row.account_id != account.pk for row in _tenant_rows(cleaned.get(name))):
                    self.add_error(name, "Choose a record of the same account.")
        return cleaned

    def _post_clean(self) -> None:
        if self.instance.account_id is None:
            account = self.owning_account()
            if account is not None:
                self.instance.account = account
        super()._post_clean()

    def _get_validation_exclusions(self) -> set[str]:
        # `account` is not a form field, so Django would skip every constraint that
        # includes it; it is set by now, so let them run.
        exclude = super()._get_validation_exclusions()
        if self.instance.account_id is not None:
            exclude.discard("account")
        return exclude


class TenantAdmin(admin.ModelAdmin):
    """The base admin of every `TenantModel` (see the module docstring)."""

    form = TenantAdminForm
    view_role: str = Role.READ_ONLY
    write_role: str = Role.MEMBER

    # --- Rows ---------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if is_platform(request):
            return queryset.select_related("account")
        account = getattr(request, "account", None)
        if account is None:
            # Staff without an account have no permission here; fail closed anyway.
            raise PermissionDenied
        return queryset.filter(account=account)

    def _owns(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or is_platform(request) or obj.account_id == request.account.pk

    # --- Permissions by role (instead of Django's model permissions) ---------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return role_allows(request, self.view_role)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = role_allows(request, self.view_role) or role_allows(request, self.write_role)
        return allowed and self._owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return role_allows(request, self.write_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.write_role) and self._owns(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return role_allows(request, self.write_role) and self._owns(request, obj)

    # --- The account column, filter and field ---------------------------------------

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if is_platform(request) and "account" not in columns:
            columns.insert(1, "account")
        return columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if is_platform(request) and "account" not in filters:
            filters.insert(0, "account")
        return filters

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # Never a model form field: set from the request (or, across accounts, from the
        # declared chooser below) and read-only afterwards.
        return [*(super().get_exclude(request, obj) or ()), "account"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and is_platform(request) and "account" not in fields:
            fields.insert(0, "account")
        return fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = kwargs.pop("form", self.form)
        attrs: dict[str, Any] = {"tenant_account": getattr(request, "account", None)}
        if obj is None and is_platform(request):
            attrs["account"] = forms.ModelChoiceField(
                queryset=Account.objects.order_by("name"),
                help_text="The account this record belongs to. It cannot change later.",
            )
        # As ModelAdmin.get_form does for self.form: read-only fields are not form fields.
        readonly = self.get_readonly_fields(request, obj)
        attrs.update(dict.fromkeys(f for f in readonly if f in base.declared_fields))
        kwargs["form"] = type(base.__name__, (base,), attrs)
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [f for f in super().get_fields(request, obj) if f != "account"]
        if "account" in self.get_readonly_fields(request, obj) or (
            obj is None and is_platform(request)
        ):
            fields.insert(0, "account")  # first, where a reader looks for it
        return fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            account = getattr(request, "account", None) or form.cleaned_data.get("account")
            if account is None:
                raise PermissionDenied
            obj.account = account
        elif not self._owns(request, obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    # --- Choices limited to the account ----------------------------------------------

    def _limit_choices(self, db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        account = getattr(request, "account", None)
        if account is None or "queryset" in kwargs:
            return
        related = db_field.related_model
        if issubclass(related, TenantModel):
            kwargs["queryset"] = related._default_manager.filter(account=account)
        elif related is get_user_model() and not request.user.is_superuser:
            # The account's members only: staff never browse other accounts' users.
            kwargs["queryset"] = related._default_manager.filter(
                memberships__account=account
            ).order_by("username")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ReadOnlyTenantAdmin(TenantAdmin):
    """A tenant model that the admin only shows: its rows are written by the app's
    services (the API, pages, workers), never through admin forms."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
