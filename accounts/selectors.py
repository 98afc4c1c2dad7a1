import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.models import Account, Agent, ApiKey, Membership, slug_validator
from crm_project.tenancy import unscoped


def account_by_slug_or_id(value: str) -> Account | None:
    """An account named by slug or UUID (X-Account, commands, platform calls)."""
    value = value.strip()
    try:
        return Account.objects.get(pk=uuid.UUID(value))
    except ValueError:
        pass
    except Account.DoesNotExist:
        return None
    slug = value.lower()
    try:
        slug_validator(slug)  # a NUL, for one, must not reach SQL
    except ValidationError:
        return None
    return Account.objects.filter(slug=slug).first()


def memberships_of_user(user: Any) -> list[Membership]:
    """A user's memberships across accounts: authentication needs them before any
    account is in scope, hence the unscoped block."""
    with unscoped():
        return list(
            Membership.objects.filter(user=user).select_related("account").order_by("created_at")
        )


def account_users(account: Account | None) -> QuerySet:
    """The users who are members of `account` (none for no account): the only users an
    account's forms, filters and links may offer or accept."""
    users = get_user_model().objects.all()
    if account is None:
        return users.none()
    return users.filter(memberships__account=account).order_by("username")


def api_key_by_prefix(prefix: str) -> ApiKey | None:
    with unscoped():
        return ApiKey.objects.select_related("account").filter(prefix=prefix).first()


def api_key_list(account: Account) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(account=account, revoked_at__isnull=True)


def agent_list(account: Account) -> QuerySet[Agent]:
    return Agent.objects.filter(account=account)


def agent_by_external_id(account: Account, external_id: str) -> Agent | None:
    return Agent.objects.filter(account=account, external_id=external_id).first()
