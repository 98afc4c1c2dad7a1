"""Roles, declared on each view instead of `if` chains.

- `read_only` may use safe methods only; `member` may also write CRM data; `admin`
  may do everything. A view raises its bar with `write_role` / `read_role`.
- Platform views (`IsPlatformAdmin`) need superuser credentials."""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import Role

ROLE_RANK = {Role.READ_ONLY: 0, Role.MEMBER: 1, Role.ADMIN: 2}


def role_at_least(role: str | None, wanted: str) -> bool:
    return role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[wanted]


class HasAccountRole(permissions.BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        access = getattr(request, "access", None)
        if access is None or access.account is None:
            if access is not None:
                self.message = "Name an account with the X-Account header."
                self.code = "account_required"
            return False
        if request.method in permissions.SAFE_METHODS:
            wanted = getattr(view, "read_role", Role.READ_ONLY)
        else:
            wanted = getattr(view, "write_role", Role.MEMBER)
        return role_at_least(access.role, wanted)


class IsPlatformAdmin(permissions.BasePermission):
    message = "Platform (superuser) credentials are required."

    def has_permission(self, request: Request, view: Any) -> bool:
        access = getattr(request, "access", None)
        return bool(access and access.is_platform)
