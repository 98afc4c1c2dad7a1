"""Every write of leads, and their conversion into customers."""

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.writes import CREATED, SKIPPED, UPDATED, unique_conflicts
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.inputs import NAME_PART_MAX as CUSTOMER_NAME_MAX
from customers.models import Customer
from leads import inputs, selectors
from leads.models import Lead, LeadStatus, NurtureState


def _unique_lead_keys() -> AbstractContextManager[None]:
    """Run a write in a savepoint: the unique index decides whether an external_id is
    taken (409); the check constraints repeat the rules checked first in Python."""
    return unique_conflicts(
        {
            "lead_unique_external_id": lambda: Conflict(
                {"external_id": ["A lead with this external_id exists."]},
                code="duplicate_external_id",
            ),
            "lead_needs_email_or_phone": lambda: Invalid(
                inputs.CONTACT_REQUIRED, code="email_or_phone_required"
            ),
            "lead_needs_a_name": lambda: Invalid(inputs.NAME_REQUIRED, code="name_required"),
        }
    )


def _refuse_converted_status(fields: dict[str, Any], current: str | None = None) -> None:
    """Only the conversion makes a lead converted (an unchanged status passes)."""
    if fields.get("status") == LeadStatus.CONVERTED and current != LeadStatus.CONVERTED:
        raise Invalid({"status": [FieldError(inputs.CONVERT_ONLY, code="use_convert")]})


def _require_name_and_contact(lead: Lead) -> None:
    if not lead.first_name.strip() and not lead.last_name.strip():
        raise Invalid(inputs.NAME_REQUIRED, code="name_required")
    if not lead.email.strip() and not lead.phone.strip():
        raise Invalid(inputs.CONTACT_REQUIRED, code="email_or_phone_required")


@transaction.atomic
def lead_create(*, account: Account, **fields: Any) -> Lead:
    """A new lead. With the account's `lead_consent_required`, seed 002's consent data
    is required too (each missing field named)."""
    _refuse_converted_status(fields)
    if account.lead_consent_required:
        errors = inputs.consent_errors(fields)
        if errors:
            raise Invalid(errors, code="required")
    lead = Lead(account=account, **fields)
    _require_name_and_contact(lead)
    with _unique_lead_keys():
        lead.save(force_insert=True)
    return lead


def _changes(lead: Lead, fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if getattr(lead, name) != value}


@transaction.atomic
def lead_update(*, lead: Lead, **fields: Any) -> Lead:
    """Change the given fields (the others stay); a given `attributes` replaces the
    stored object. Only the changed columns are written."""
    _refuse_converted_status(fields, lead.status)
    changes = _changes(lead, fields)
    if not changes:
        return lead
    for name, value in changes.items():
        setattr(lead, name, value)
    _require_name_and_contact(lead)
    with _unique_lead_keys():
        lead.save(update_fields=[*changes, "updated_at"])
    return lead


@transaction.atomic
def lead_delete(*, lead: Lead) -> None:
    lead.delete()


@transaction.atomic
def lead_upsert(*, account: Account, create: bool = True, **fields: Any) -> tuple[Lead, str]:
    """Create or update the lead a bulk row names by its external_id. Returns (lead,
    created|updated|skipped); skipped means nothing would change. With `create` False
    a row whose external_id names no lead fails (a 400 on external_id). Two concurrent
    upserts of one new external_id: the loser's insert fails on the unique index and
    retries as an update."""
    external_id = fields.get("external_id")
    if not create and not external_id:
        raise Invalid(
            {"external_id": [FieldError("An update names its lead by external_id.", "required")]}
        )
    for attempt in range(2):
        lead = selectors.lead_for_upsert(account, external_id=external_id)
        if lead is None:
            if not create:
                raise Invalid(
                    {"external_id": [FieldError("No lead has this external_id.", "not_found")]}
                )
            try:
                return lead_create(account=account, **fields), CREATED
            except Conflict as exc:
                if attempt == 0 and exc.code == "duplicate_external_id":
                    continue
                raise
        if not _changes(lead, fields):
            return lead, SKIPPED
        return lead_update(lead=lead, **fields), UPDATED
    raise Conflict("This lead is being written concurrently.", code="conflict")


def _customer_fields(lead: Lead) -> dict[str, Any]:
    """A new customer's fields from the lead (names cut to the customers' length)."""
    return {
        "first_name": lead.first_name[:CUSTOMER_NAME_MAX],
        "last_name": lead.last_name[:CUSTOMER_NAME_MAX],
        "email": lead.email,
        "phone": lead.phone,
        "company": lead.company,
        "street": lead.street,
        "city": lead.city,
        "state": lead.state,
        "zip": lead.zip,
        "assigned_to": lead.assigned_to,
        "metadata": dict(lead.attributes or {}),
        "source_lead": lead.pk,
    }


def _existing_customer(account: Account, lead: Lead) -> Customer | None:
    if not lead.email.strip():
        return None
    return customer_selectors.customer_lookup(account, email=lead.email)


@transaction.atomic
def lead_convert(
    *, account: Account, lead: Lead, now: datetime | None = None
) -> tuple[Customer, bool]:
    """Convert the lead into a customer: (customer, whether it was created).

    The account's customer with the lead's email (case-insensitively) is linked; else
    one is created through customers.services. The lead then gets status converted,
    the customer, the time, and its nurture stops; the customer gets `source_lead`
    (unless it already came from another lead).

    Idempotent, even when two calls race: the lead's row is locked first, so the
    second call waits and then finds it converted (its customer, not created). Two
    leads with one email converting at once: the customers' unique email index lets
    one create the customer, and the other links it."""
    locked = selectors.lead_locked(lead)
    if locked is None:
        raise Conflict("This lead no longer exists.", code="not_found")
    lead = locked
    if lead.status == LeadStatus.CONVERTED and lead.converted_customer_id is not None:
        customer = customer_selectors.customer_by_ref(account, str(lead.converted_customer_id))
        if customer is not None:
            return customer, False
    created = False
    customer = _existing_customer(account, lead)
    if customer is None:
        try:
            customer = customer_services.customer_create(account=account, **_customer_fields(lead))
            created = True
        except Conflict as exc:
            if exc.code != "duplicate_email":
                raise
            customer = _existing_customer(account, lead)
            if customer is None:
                raise
    if not created and customer.source_lead is None:
        customer = customer_services.customer_update(customer=customer, source_lead=lead.pk)
    converted_at = now or timezone.now()
    # Conditional on the lead not being converted to a customer yet: the locked row
    # decided it above, and the UPDATE says so again.
    Lead.objects.filter(account_id=lead.account_id, pk=lead.pk).exclude(
        status=LeadStatus.CONVERTED, converted_customer__isnull=False
    ).update(
        status=LeadStatus.CONVERTED,
        converted_customer=customer,
        converted_at=converted_at,
        nurture_state=NurtureState.STOPPED,
        updated_at=timezone.now(),
    )
    return customer, created
