"""Every write of customers and their interactions."""

import uuid
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError, Value
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from accounts.models import Account
from accounts.services import sequence_reserve
from crm_project.datetimes import account_today
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.writes import CREATED, SKIPPED, UPDATED, unique_conflicts
from customers import selectors
from customers.models import (
    Customer,
    HealthThresholds,
    Interaction,
)
from loyalty import selectors as loyalty_selectors

CONTACT_REQUIRED = "A customer needs an email or a phone."
# Ids are global: an id that another account's customer has cannot be given, and a 409
# saying so would confirm that it exists.
ID_UNAVAILABLE = "This id cannot be used for a new customer: leave id_client out."


def _taken_id(customer: Customer) -> Exception:
    """A new customer's id is taken: by a customer of this account (a 409 it may see),
    or by one it cannot see (a plain 400, as for any id it may not use)."""
    if Customer.objects.filter(account_id=customer.account_id, pk=customer.pk).exists():
        return Conflict({"id_client": ["A customer with this id exists."]}, code="duplicate_id")
    return Invalid({"id_client": [FieldError(ID_UNAVAILABLE, code="invalid")]})


def _unique_customer_keys(customer: Customer) -> AbstractContextManager[None]:
    """Run a write in a savepoint: the unique indexes decide, and a key taken by another
    customer is a 409 on that field; the contact check constraint is a 400 (the
    serializers check it first)."""
    return unique_conflicts(
        {
            "customer_unique_email": lambda: Conflict(
                {"email": ["A customer with this email exists."]}, code="duplicate_email"
            ),
            "customer_unique_external_id": lambda: Conflict(
                {"external_id": ["A customer with this external_id exists."]},
                code="duplicate_external_id",
            ),
            "customer_unique_source_lead": lambda: Conflict(
                {"source_lead": ["Another customer was converted from this lead."]},
                code="duplicate_source_lead",
            ),
            "customers_customer_pkey": lambda: _taken_id(customer),
            "customer_needs_email_or_phone": lambda: Invalid(
                CONTACT_REQUIRED, code="email_or_phone_required"
            ),
        }
    )


def _require_contact(customer: Customer) -> None:
    if not (customer.email or "").strip() and not (customer.phone or "").strip():
        raise Invalid(CONTACT_REQUIRED, code="email_or_phone_required")


def _merged_metadata(
    current: dict[str, Any], fields: dict[str, Any], metadata_extra: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The metadata to store, or None to leave it: a given `metadata` replaces the
    stored object; seed keys that land in metadata (`montant`, `age`, ...) are set on
    top of it (or of the stored object when no `metadata` is given)."""
    if "metadata" not in fields and not metadata_extra:
        return None
    base = fields.get("metadata", current)
    return {**(base or {}), **(metadata_extra or {})}


# --- Customers ------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    *,
    account: Account,
    customer_id: uuid.UUID | None = None,
    metadata_extra: dict[str, Any] | None = None,
    **fields: Any,
) -> Customer:
    """A new customer with the account's next number. A given `customer_id` is kept
    when no customer has it (else 409 `duplicate_id` when the account's own customer
    has it, a plain 400 on `id_client` when it is another account's)."""
    metadata = _merged_metadata({}, fields, metadata_extra)
    if metadata is not None:
        fields["metadata"] = metadata
    customer = Customer(account=account, **fields)
    if customer_id is not None:
        customer.pk = customer_id
    _require_contact(customer)
    with _unique_customer_keys(customer):
        customer.number = sequence_reserve(account_id=account.pk, name="customer")
        # force_insert: a taken id must fail, never update the row that has it.
        customer.save(force_insert=True)
    return customer


def _changes(
    customer: Customer, fields: dict[str, Any], metadata_extra: dict[str, Any] | None
) -> dict[str, Any]:
    changes = {
        name: value
        for name, value in fields.items()
        if name != "metadata" and getattr(customer, name) != value
    }
    metadata = _merged_metadata(customer.metadata, fields, metadata_extra)
    if metadata is not None and metadata != customer.metadata:
        changes["metadata"] = metadata
    return changes


@transaction.atomic
def customer_update(
    *, customer: Customer, metadata_extra: dict[str, Any] | None = None, **fields: Any
) -> Customer:
    """Change the given fields (the others stay); a given `metadata` replaces the
    stored object."""
    changes = _changes(customer, fields, metadata_extra)
    if not changes:
        return customer
    for name, value in changes.items():
        setattr(customer, name, value)
    _require_contact(customer)
    with _unique_customer_keys(customer):
        # Only the changed columns: the spend aggregates belong to the order writes,
        # which may be refreshing them concurrently.
        customer.save(update_fields=[*changes, "updated_at"])
    return customer


@transaction.atomic
def customer_unsubscribe(*, customer: Customer, channel: str, at: datetime) -> None:
    """The customer asked to receive no more of `channel` (`email` or `sms`): its
    opt-in goes off and `unsubscribed_at` keeps the first time they asked. One
    conditional UPDATE of those columns: idempotent, and it races no other write."""
    opt_in = "email_opt_in" if channel == "email" else "sms_opt_in"
    Customer.objects.filter(pk=customer.pk).update(
        **{opt_in: False},
        unsubscribed_at=Coalesce("unsubscribed_at", Value(at)),
        updated_at=Now(),
    )


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    """Delete a customer and their interactions; one with orders is a 409 `has_orders`
    (orders are records of sales: cancel or refund them, never lose them), one holding
    loyalty cards or credit requests a 409 `has_loyalty_history`. The row is
    locked first, and an order write locks it too, so no order can slip in between."""
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if selectors.customer_has_orders(customer):
        raise Conflict("This customer has orders and cannot be deleted.", code="has_orders")
    if loyalty_selectors.customer_has_loyalty(customer.account_id, customer.pk):
        raise Conflict(
            "This customer holds loyalty cards or credit requests (their history is kept) "
            "and cannot be deleted.",
            code="has_loyalty_history",
        )
    try:
        with transaction.atomic():
            customer.delete()
    except (ProtectedError, IntegrityError):
        raise Conflict(
            "This customer has orders and cannot be deleted.", code="has_orders"
        ) from None


@transaction.atomic
def customer_upsert(
    *,
    account: Account,
    customer_id: uuid.UUID | None = None,
    metadata_extra: dict[str, Any] | None = None,
    **fields: Any,
) -> tuple[Customer, str]:
    """Create or update the customer a bulk row names: by its id, else its
    external_id, else its email (case-insensitively). Returns (customer,
    created|updated|skipped); skipped means nothing would change.

    A row whose email belongs to a customer with another external_id is a 409 on
    `email`, not a silent merge. Two concurrent upserts of one new key: the loser's
    insert waits on the unique index, fails, and retries as an update."""
    external_id = fields.get("external_id")
    email = fields.get("email")
    for attempt in range(2):
        customer, matched_by = selectors.customer_for_upsert(
            account, customer_id=customer_id, external_id=external_id, email=email
        )
        if customer is None:
            try:
                created = customer_create(
                    account=account,
                    customer_id=customer_id,
                    metadata_extra=metadata_extra,
                    **fields,
                )
            except Conflict as exc:
                if attempt == 0 and exc.code in {
                    "duplicate_email",
                    "duplicate_external_id",
                }:
                    continue
                raise
            return created, CREATED
        if (
            matched_by == "email"
            and external_id
            and customer.external_id not in (None, external_id)
        ):
            raise Conflict(
                {"email": ["A customer with this email has another external_id."]},
                code="duplicate_email",
            )
        if not _changes(customer, fields, metadata_extra):
            return customer, SKIPPED
        return customer_update(customer=customer, metadata_extra=metadata_extra, **fields), UPDATED
    raise Conflict("This customer is being written concurrently.", code="conflict")


# --- Credit refusals ------------------------------------------------------------------


def customer_refusals_add(*, customer: Customer, refusals: int = 1) -> Customer:
    """Count `refusals` more credit refusals (loyalty's allow-credit) in one UPDATE, so
    that concurrent refusals all add up; returns the customer with the fresh count."""
    Customer.objects.filter(account_id=customer.account_id, pk=customer.pk).update(
        refusals_count=F("refusals_count") + refusals, updated_at=timezone.now()
    )
    customer.refresh_from_db(fields=["refusals_count", "updated_at"])
    return customer


# --- Health thresholds ----------------------------------------------------------------
#
# Beat refreshes the thresholds of every account whose snapshot is older than
# HEALTH_THRESHOLDS_REFRESH_AFTER (customers.tasks); a request refreshes them itself
# only when there are none yet, they summarise no buyer, they are of a day more than one
# away, or they are older than HEALTH_THRESHOLDS_MAX_AGE (beat not keeping up).

HEALTH_THRESHOLDS_REFRESH_AFTER = timedelta(minutes=10)
HEALTH_THRESHOLDS_MAX_AGE = timedelta(minutes=30)


@transaction.atomic
def health_thresholds_refresh(
    *, account: Account, now: datetime | None = None
) -> selectors.Thresholds:
    """Compute the account's quintile thresholds and store them (its one row; two
    concurrent refreshes both end with it, the later one's values kept)."""
    thresholds = selectors.health_thresholds_compute(account, now=now)
    table = HealthThresholds._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                (id, account_id, as_of, computed_at, buyers, recency, frequency, monetary)
            VALUES (crm_uuid7(), %s, %s, now(), %s, %s, %s, %s)
            ON CONFLICT (account_id) DO UPDATE SET
                as_of = EXCLUDED.as_of, computed_at = EXCLUDED.computed_at,
                buyers = EXCLUDED.buyers, recency = EXCLUDED.recency,
                frequency = EXCLUDED.frequency, monetary = EXCLUDED.monetary
            """,  # noqa: S608  (the table name from the model)
            [
                account.pk,
                thresholds.as_of,
                thresholds.buyers,
                thresholds.recency,
                thresholds.frequency,
                thresholds.monetary,
            ],
        )
    return thresholds


def health_thresholds_current(
    *, account: Account, now: datetime | None = None
) -> selectors.Thresholds:
    """The thresholds health and lifecycle read: the stored ones, refreshed first when
    missing, empty, of a day more than one away from today, or too old."""
    stored = selectors.health_thresholds_stored(account)
    today = account_today(account, now)
    if (
        stored is None
        or stored.buyers == 0
        or abs((today - stored.as_of).days) > 1
        or stored.computed_at < timezone.now() - HEALTH_THRESHOLDS_MAX_AGE
    ):
        return health_thresholds_refresh(account=account, now=now)
    return selectors.Thresholds.of(stored)


# --- Interactions ---------------------------------------------------------------------


@transaction.atomic
def interaction_create(
    *, account: Account, customer: Customer | None = None, lead: Any = None, **fields: Any
) -> Interaction:
    """An interaction with the customer or the lead (exactly one; a lead's go through
    leads.services, which keeps the lead's last_contact)."""
    if (customer is None) == (lead is None):
        raise ValueError("An interaction is with a customer or with a lead.")
    return Interaction.objects.create(account=account, customer=customer, lead=lead, **fields)


@transaction.atomic
def interaction_update(*, interaction: Interaction, **fields: Any) -> Interaction:
    for name, value in fields.items():
        setattr(interaction, name, value)
    interaction.save()
    return interaction


@transaction.atomic
def interaction_delete(*, interaction: Interaction) -> None:
    interaction.delete()
