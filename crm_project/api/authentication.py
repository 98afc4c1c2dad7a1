"""Who is calling, and as which account.

Authentication classes establish the caller (an API key, or a user by HTTP Basic or
session); `resolve_access` then decides the account and role from those credentials
alone: never from the body or the URL. Every 401 offers both Bearer and Basic.

Failed Bearer and Basic attempts are counted by client address and by username (the
key's public prefix for a Bearer key); over the budget the next attempt answers 429
before any key lookup or password hash (crm_project.api.signins).

A Bearer request makes one Redis round trip (crm_project.api.budgets): the failed
sign-ins check, the key cache's generation and, when this process has the key cached,
the key's request budget and its use note. The key then comes from the process's key
cache when that generation is the cached entry's, else from PostgreSQL
(accounts.services.api_key_authenticate)."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import Account, ApiKey, Role
from accounts.selectors import account_by_slug_or_id, memberships_of_user
from accounts.services import STORED_PREFIX_LENGTH, api_key_authenticate, api_key_cached_id
from accounts.tasks import LAST_USED_RESOLUTION, api_key_note_use, api_key_use_marker
from crm_project.api import budgets
from crm_project.api.exceptions import AccountInactive
from crm_project.api.signins import FailedSignIns

WWW_AUTHENTICATE = 'Bearer realm="api", Basic realm="api", charset="UTF-8"'


class ApiKeyUser(AnonymousUser):
    """The `request.user` of an API-key request: authenticated, never staff."""

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        raw = header[1].decode("ascii", "replace") if len(header) == 2 else ""
        failures = FailedSignIns(request, username=raw[:STORED_PREFIX_LENGTH])
        known = api_key_cached_id(raw_key=raw) if raw else None
        budgeted = known is not None and _takes_request_budget(request)
        spent = budgets.spend(
            failures=failures,
            budget_ident=f"key:{known}" if budgeted else None,
            marker=api_key_use_marker(known) if known is not None else None,
            marker_seconds=LAST_USED_RESOLUTION.seconds,
        )
        if spent.sign_in_wait is not None:
            raise exceptions.Throttled(wait=spent.sign_in_wait, detail=SIGN_INS_THROTTLED)
        api_key = api_key_authenticate(raw_key=raw, generation=spent.generation) if raw else None
        if api_key is None:
            failures.record()
            if not raw:
                raise exceptions.AuthenticationFailed(
                    "Invalid Authorization header: use `Bearer <api key>`.",
                    code="invalid_header",
                )
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.", code="invalid_key")
        if known is not None and known == api_key.pk:
            # The throttle reads the budget taken in the round trip (throttling).
            request.request_budget_spent = spent  # type: ignore[attr-defined]
            api_key_note_use(api_key, marked=spent.marked)
        else:
            api_key_note_use(api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class BasicAuthentication(authentication.BasicAuthentication):
    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, None]:
        failures = FailedSignIns(request, username=userid)
        refuse_when_throttled(failures)
        try:
            if "\x00" in userid or "\x00" in password:  # PostgreSQL text refuses NUL
                raise exceptions.AuthenticationFailed("Invalid username/password.")
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            failures.record()
            raise

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


SIGN_INS_THROTTLED = "Too many failed sign-ins from this address or for this user."


def refuse_when_throttled(failures: FailedSignIns) -> None:
    wait = failures.wait()
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail=SIGN_INS_THROTTLED)


def _takes_request_budget(request: Request) -> bool:
    """Whether the view spends the credential's request budget (its throttle classes)."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    return any(
        getattr(throttle, "scope", None) == budgets.REQUEST_BUDGET_SCOPE
        for throttle in getattr(view, "throttle_classes", ())
    )


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


@dataclass(frozen=True)
class Access:
    """What a request may do: its account (None for platform-only calls), its role,
    and whether the caller is a platform superuser."""

    account: Account | None
    role: str | None
    is_platform: bool = False


def credential_id(request: Request) -> str | None:
    """`key:<id>` or `user:<id>`: the credential whose request budget and idempotency
    keys these are; None when anonymous."""
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return None


ACCOUNT_HEADER = "HTTP_X_ACCOUNT"
SESSION_ACCOUNT_KEY = "account_id"


def resolve_access(request: Request) -> Access | None:
    """The account and role of an authenticated request; None when anonymous.
    Raises 403 for an inactive account or an account the caller cannot act in."""
    user = request.user
    if user is None or not user.is_authenticated:
        return None
    if isinstance(request.auth, ApiKey):
        account = request.auth.account
        _ensure_active(account)
        return Access(account=account, role=request.auth.role)
    return resolve_user_access(user, request.META.get(ACCOUNT_HEADER, ""), request)


def resolve_user_access(user: Any, wanted: str, request: Any = None) -> Access:
    """The account a user acts in: the one named by `X-Account` (slug or id), else the
    session's choice, else the user's only membership. Superusers may name any account."""
    wanted = (wanted or "").strip()
    if not wanted and request is not None and hasattr(request, "session"):
        wanted = request.session.get(SESSION_ACCOUNT_KEY, "")
    if user.is_superuser:
        if not wanted:
            return Access(account=None, role=None, is_platform=True)
        account = account_by_slug_or_id(wanted)
        if account is None:
            raise exceptions.PermissionDenied(
                "No such account for X-Account.", code="account_not_found"
            )
        _ensure_active(account)
        return Access(account=account, role=Role.ADMIN, is_platform=True)
    memberships = memberships_of_user(user)
    if wanted:
        memberships = [m for m in memberships if wanted in {m.account.slug, str(m.account_id)}]
        if not memberships:
            raise exceptions.PermissionDenied(
                "You are not a member of the account named by X-Account.",
                code="not_a_member",
            )
    if not memberships:
        raise exceptions.PermissionDenied("This user belongs to no account.", code="no_account")
    if len(memberships) > 1:
        raise exceptions.PermissionDenied(
            "This user belongs to several accounts: name one with the X-Account header.",
            code="account_required",
        )
    membership = memberships[0]
    _ensure_active(membership.account)
    return Access(account=membership.account, role=membership.role)


def _ensure_active(account: Account) -> None:
    if not account.is_active:
        raise AccountInactive()
