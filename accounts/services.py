"""Every write of the accounts app."""

import hashlib
import hmac
import re
import secrets
from contextlib import AbstractContextManager
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Account, AccountStatus, Agent, ApiKey, Membership, Role
from accounts.selectors import api_key_by_prefix
from crm_project.errors import Conflict
from crm_project.writes import CREATED, SKIPPED, UPDATED, unique_conflicts

KEY_PREFIX = "crm_live_"
# The part of a key stored in clear: the marker plus 8 random characters.
STORED_PREFIX_LENGTH = len(KEY_PREFIX) + 8
# What `api_key_create` makes: the marker and URL-safe base64. Anything else is not
# looked up at all.
KEY_SHAPE = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]+")


def _hash_secret(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


# --- Accounts -------------------------------------------------------------------------


def unique_slug(name: str) -> str:
    base = slugify(name)[:40].strip("-") or "account"
    slug, n = base, 1
    while Account.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def account_create(*, name: str, slug: str | None = None, **fields: Any) -> Account:
    slug = (slug or unique_slug(name)).lower()
    if Account.objects.filter(slug=slug).exists():
        raise Conflict(f"An account with slug {slug!r} exists.", code="duplicate_slug")
    account = Account(name=name, slug=slug, **fields)
    account.full_clean()
    account.save()
    sequences_create(account_id=account.pk)
    return account


@transaction.atomic
def account_update(*, account: Account, **fields: Any) -> Account:
    for name, value in fields.items():
        setattr(account, name, value)
    account.full_clean()
    account.save()
    return account


# Which statuses each status change starts from.
STATUS_TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "pause": ({AccountStatus.ACTIVE}, AccountStatus.PAUSED),
    "unpause": ({AccountStatus.PAUSED}, AccountStatus.ACTIVE),
    "inactivate": ({AccountStatus.ACTIVE, AccountStatus.PAUSED}, AccountStatus.INACTIVE),
    "activate": ({AccountStatus.INACTIVE}, AccountStatus.ACTIVE),
}


@transaction.atomic
def account_change_status(*, account: Account, action: str) -> Account:
    """Pause, unpause, inactivate or activate; a change from the wrong status is 409.
    A conditional UPDATE makes concurrent changes safe."""
    sources, target = STATUS_TRANSITIONS[action]
    changed = Account.objects.filter(pk=account.pk, status__in=sources).update(
        status=target, updated_at=timezone.now()
    )
    account.refresh_from_db()
    if not changed:
        raise Conflict(
            f"Cannot {action} an account that is {account.status}.", code="invalid_status"
        )
    return account


@transaction.atomic
def account_delete(*, account: Account) -> None:
    account.delete()


# --- API keys -------------------------------------------------------------------------


@transaction.atomic
def api_key_create(
    *, account: Account, role: str = Role.MEMBER, name: str = "", created_by: Any = None
) -> tuple[ApiKey, str]:
    """A new key and its secret. The secret is returned once and never stored."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        account=account,
        name=name,
        role=role,
        prefix=raw_key[:STORED_PREFIX_LENGTH],
        secret_hash=_hash_secret(raw_key),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoked at once: the next request with it is refused."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The live key matching `raw_key`, or None. The hash comparison is constant-time."""
    if not KEY_SHAPE.fullmatch(raw_key) or len(raw_key) <= STORED_PREFIX_LENGTH:
        return None
    api_key = api_key_by_prefix(raw_key[:STORED_PREFIX_LENGTH])
    if api_key is None or api_key.revoked:
        return None
    if not hmac.compare_digest(api_key.secret_hash, _hash_secret(raw_key)):
        return None
    return api_key


@transaction.atomic
def api_key_mark_used(*, api_key_id: Any, used_at: Any) -> None:
    ApiKey.objects.filter(pk=api_key_id).exclude(last_used_at__gte=used_at).update(
        last_used_at=used_at
    )


# --- Users and memberships ------------------------------------------------------------


@transaction.atomic
def user_create(
    *, username: str, password: str, account: Account, role: str, email: str = ""
) -> Any:
    """A back-office user with a membership in `account` (an existing user gets the
    membership and the new password)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    if email:
        user.email = email
    user.is_staff = True  # the admin site, scoped to the user's account
    user.save()
    membership_set(account=account, user=user, role=role)
    return user


@transaction.atomic
def membership_set(*, account: Account, user: Any, role: str) -> Membership:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    membership, _ = Membership.objects.update_or_create(
        account=account, user=user, defaults={"role": role}
    )
    return membership


# --- Agents ---------------------------------------------------------------------------


def _unique_agent_external_id(external_id: Any) -> AbstractContextManager[None]:
    """The unique index decides; its violation becomes a 409 naming the value."""
    return unique_conflicts(
        {
            "agent_unique_external_id": lambda: Conflict(
                f"An agent with external_id {external_id!r} exists.",
                code="duplicate_external_id",
            )
        }
    )


@transaction.atomic
def agent_create(*, account: Account, **fields: Any) -> Agent:
    with _unique_agent_external_id(fields.get("external_id")):
        return Agent.objects.create(account=account, **fields)


@transaction.atomic
def agent_update(*, agent: Agent, **fields: Any) -> Agent:
    for name, value in fields.items():
        setattr(agent, name, value)
    with _unique_agent_external_id(agent.external_id):
        agent.save()
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    agent.delete()


@transaction.atomic
def agent_upsert(*, account: Account, external_id: str, **fields: Any) -> tuple[Agent, str]:
    """Create or update the agent with `external_id`: (agent, created|updated|skipped).
    Concurrent upserts of one new id: the loser's insert hits the unique index and
    retries as an update."""
    for _attempt in range(2):
        agent = (
            Agent.objects.select_for_update()
            .filter(account=account, external_id=external_id)
            .first()
        )
        if agent is None:
            try:
                with transaction.atomic():
                    created = Agent.objects.create(
                        account=account, external_id=external_id, **fields
                    )
                return created, CREATED
            except IntegrityError:
                continue
        changed = {k: v for k, v in fields.items() if getattr(agent, k) != v}
        if not changed:
            return agent, SKIPPED
        return agent_update(agent=agent, **changed), UPDATED
    raise Conflict(f"Agent {external_id!r} is being written concurrently.", code="conflict")


# --- Per-account sequences ------------------------------------------------------------

# The records numbered per account; each has its sequence from the account's creation.
NUMBERED = ("customer", "order")


def sequence_reserve(*, account_id: Any, name: str, count: int = 1) -> int:
    """Reserve `count` consecutive numbers of the account's `name` sequence and return
    the first. A PostgreSQL sequence (accounts migration 0005): no lock is held past
    this call, so a long transaction creating many records never makes another create
    of the account wait; numbers never repeat, and a rollback leaves a gap."""
    if count < 1:
        raise ValueError("count must be >= 1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT crm_number_reserve(%s, %s, %s)", [account_id, name, count])
        return int(cursor.fetchone()[0])


def sequences_create(*, account_id: Any) -> None:
    """Create the account's number sequences (otherwise made by the first number of
    each kind, whose transaction would then hold back a concurrent first create)."""
    with connection.cursor() as cursor:
        for name in NUMBERED:
            cursor.execute("SELECT crm_number_reserve(%s, %s, 0)", [account_id, name])
