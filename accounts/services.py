"""Every write of the accounts app."""

import contextlib
import copy
import hashlib
import hmac
import re
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
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
    # API-key requests read their account from the key cache: not a stale copy of it.
    api_key_cache_invalidate()
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
    # An inactive account's keys are refused from the next request on.
    api_key_cache_invalidate()
    return account


@transaction.atomic
def account_delete(*, account: Account) -> None:
    account.delete()
    api_key_cache_invalidate()


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
    """Revoked at once: the next request with it is refused, in every worker process
    (the key cache's generation moves on at the commit)."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key_cache_invalidate()


# The key cache. Each process keeps the live keys it has authenticated (their record and
# their account's), so a request does not ask PostgreSQL for its key: an entry answers
# only while the cache's generation, a counter in Redis that every request reads in its
# one round trip (crm_project.api.budgets), is the one it was filled at, and for
# KEY_CACHE_SECONDS at most. Whatever changes what authentication decides (a revoke, an
# account's status or settings, an account's deletion) moves the generation on after its
# commit, so the next request in any process reads PostgreSQL again. The generation is
# read before the key is, so an entry filled from a snapshot older than the change
# carries the older generation and never answers.
API_KEY_CACHE_GENERATION = "api-key-cache-generation"
KEY_CACHE_SECONDS = 30
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class _CachedKey:
    generation: int
    filled_at: float  # time.monotonic()
    api_key: ApiKey  # with its account; never handed out, copies are
    secret_hash: str


_key_cache: dict[str, _CachedKey] = {}


def api_key_cache_generation() -> int | None:
    """The key cache's generation (None: gone again before it was read). A missing
    counter starts at the clock in microseconds: after Redis lost it, the new values are
    never ones an entry was filled at (crm_project.api.budgets' script starts it the same
    way)."""
    cache.add(API_KEY_CACHE_GENERATION, time.time_ns() // 1000, timeout=None)
    value = cache.get(API_KEY_CACHE_GENERATION)
    return None if value is None else int(value)


def _key_cache_bump() -> None:
    api_key_cache_generation()
    with contextlib.suppress(ValueError):  # gone in between: the next reader restarts it
        cache.incr(API_KEY_CACHE_GENERATION)


def api_key_cache_invalidate() -> None:
    """Every process's cached keys stop answering: now (so this transaction's own later
    requests, and tests, see the change) and again after the commit (so an entry filled
    in between, from the snapshot before the commit, is dropped too)."""
    _key_cache_bump()
    transaction.on_commit(_key_cache_bump)


def _live_copy(entry: _CachedKey) -> ApiKey:
    """A request's own copies: a view may change its account object (account_update)."""
    api_key = copy.copy(entry.api_key)
    api_key.account = copy.copy(entry.api_key.account)
    return api_key


def _shaped(raw_key: str) -> bool:
    return bool(KEY_SHAPE.fullmatch(raw_key)) and len(raw_key) > STORED_PREFIX_LENGTH


def api_key_cached_id(*, raw_key: str) -> Any:
    """The id of the live key this process last authenticated for `raw_key` (hash
    compared), at whatever generation, or None: names the request's budget before the
    generation is read. Not an authentication: `api_key_authenticate` decides."""
    entry = _key_cache.get(raw_key[:STORED_PREFIX_LENGTH]) if _shaped(raw_key) else None
    if entry is None or not hmac.compare_digest(entry.secret_hash, _hash_secret(raw_key)):
        return None
    return entry.api_key.pk


def api_key_authenticate(*, raw_key: str, generation: int | None = None) -> ApiKey | None:
    """The live key matching `raw_key`, or None. The hash comparison is constant-time.
    With `generation` (the key cache's, read from Redis before this call) the process's
    key cache may answer, and is refilled from PostgreSQL when it cannot; without, the
    key is read from PostgreSQL."""
    if not _shaped(raw_key):
        return None
    prefix = raw_key[:STORED_PREFIX_LENGTH]
    secret_hash = _hash_secret(raw_key)
    entry = _key_cache.get(prefix) if generation is not None else None
    if (
        entry is not None
        and entry.generation == generation
        and time.monotonic() - entry.filled_at < KEY_CACHE_SECONDS
    ):
        if not hmac.compare_digest(entry.secret_hash, secret_hash):
            return None
        return _live_copy(entry)
    _key_cache.pop(prefix, None)
    api_key = api_key_by_prefix(prefix)
    if api_key is None or api_key.revoked:
        return None
    if not hmac.compare_digest(api_key.secret_hash, secret_hash):
        return None
    if generation is not None:
        if len(_key_cache) >= KEY_CACHE_SIZE:
            _key_cache.clear()
        _key_cache[prefix] = _CachedKey(
            generation=generation,
            filled_at=time.monotonic(),
            api_key=api_key,
            secret_hash=api_key.secret_hash,
        )
        return _live_copy(_key_cache[prefix])
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
