"""Every write of leads, and their conversion into customers."""

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from accounts.models import Account
from campaigns import services as campaign_services
from campaigns.errors import InvalidTemplate
from campaigns.models import SkipReason
from crm_project.errors import Conflict, FieldError, Invalid, ServiceError
from crm_project.writes import CREATED, SKIPPED, UPDATED, unique_conflicts
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.inputs import NAME_PART_MAX as CUSTOMER_NAME_MAX
from customers.models import Customer, Interaction
from leads import inputs, selectors, tasks
from leads.models import (
    Lead,
    LeadNurture,
    LeadStatus,
    NurtureChannel,
    NurtureSequence,
    NurtureState,
    NurtureStep,
)
from leads.selectors import ENDED_STATUSES


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


def _new_lead(account: Account, fields: dict[str, Any]) -> Lead:
    """The lead `fields` would create, checked (not saved). With the account's
    `lead_consent_required`, seed 002's consent data is required too (each missing
    field named)."""
    _refuse_converted_status(fields)
    if account.lead_consent_required:
        errors = inputs.consent_errors(fields)
        if errors:
            raise Invalid(errors, code="required")
    lead = Lead(account=account, **fields)
    _require_name_and_contact(lead)
    return lead


@transaction.atomic
def lead_create(*, account: Account, **fields: Any) -> Lead:
    """A new lead (see _new_lead for what it must have)."""
    lead = _new_lead(account, fields)
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
    ended = "status" in changes and lead.status in ENDED_STATUSES
    if ended and lead.nurture_state == NurtureState.ACTIVE:
        # Lost or won: the lead's sequence ends.
        lead.nurture_state = NurtureState.STOPPED
        changes.update(nurture_state=lead.nurture_state)
        _nurture_end(lead.account_id, [lead.pk])
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


Outcome = tuple[str, Any] | Exception  # (created|updated|skipped, the lead's id) or why not


@transaction.atomic
def leads_upsert_many(
    *, account: Account, rows: list[dict[str, Any]], create: bool = True
) -> list[Outcome]:
    """lead_upsert of each row (validated fields), in order, with the answer of each:
    (outcome, lead id), or the exception that refused it (the row written nothing).

    The new leads are written by one INSERT (one trigger run for the counters, one
    round trip, whatever their number); the rows that update a lead, or name an
    external_id an earlier row of the call creates, go one by one through
    lead_upsert, each in its savepoint. Should the INSERT fail (an external_id taken
    meanwhile by another call), its rows go one by one too, each with its own answer."""
    outcomes: list[Outcome | None] = [None] * len(rows)
    existing = selectors.external_ids_taken(
        account, [fields["external_id"] for fields in rows if fields.get("external_id")]
    )
    one_by_one: list[int] = []
    new: list[tuple[int, Lead]] = []
    for index, fields in enumerate(rows):
        external_id = fields.get("external_id")
        if not create or (external_id and external_id in existing):
            one_by_one.append(index)
            continue
        try:
            lead = _new_lead(account, fields)
        except ServiceError as exc:
            outcomes[index] = exc
            continue
        if external_id:
            existing.add(external_id)  # a later row with it updates this lead
        new.append((index, lead))
    if new:
        try:
            with transaction.atomic():
                Lead.objects.bulk_create([lead for _index, lead in new])
        except IntegrityError:
            one_by_one.extend(index for index, _lead in new)
        else:
            for index, lead in new:
                outcomes[index] = (CREATED, lead.pk)
    for index in sorted(one_by_one):
        try:
            with transaction.atomic():
                lead, outcome = lead_upsert(account=account, create=create, **rows[index])
        except Exception as exc:  # noqa: BLE001 - every refusal is that row's answer
            outcomes[index] = exc
        else:
            outcomes[index] = (outcome, lead.pk)
    assert all(outcome is not None for outcome in outcomes)
    return cast(list[Outcome], outcomes)


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
            # Another customer holds the email, or came from this lead already (the
            # unique source_lead): link that one.
            if exc.code == "duplicate_email":
                customer = _existing_customer(account, lead)
            elif exc.code == "duplicate_source_lead":
                customer = customer_selectors.customer_from_lead(account, lead.pk)
            else:
                raise
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
    _nurture_end(lead.account_id, [lead.pk])
    return customer, created


# --- Interactions -----------------------------------------------------------------------
#
# A lead's interactions are customers.Interaction rows with `lead` set (one model for
# both), written through customers.services; the lead's `last_contact` follows them.


def _refresh_last_contact(account: Account, lead: Lead) -> None:
    latest = (
        customer_selectors.interaction_list(account, lead=lead).order_by("-date").values("date")[:1]
    )
    Lead.objects.filter(account_id=account.pk, pk=lead.pk).update(last_contact=Subquery(latest))


@transaction.atomic
def lead_interaction_create(*, account: Account, lead: Lead, **fields: Any) -> Interaction:
    """A new interaction with the lead: `date` defaults to now, `agent` (when not
    given) to the lead's assigned_to."""
    fields.setdefault("date", timezone.now())
    if "agent" not in fields:
        fields["agent"] = lead.assigned_to
    interaction = customer_services.interaction_create(account=account, lead=lead, **fields)
    _refresh_last_contact(account, lead)
    return interaction


@transaction.atomic
def lead_interaction_update(
    *, account: Account, lead: Lead, interaction: Interaction, **fields: Any
) -> Interaction:
    interaction = customer_services.interaction_update(interaction=interaction, **fields)
    _refresh_last_contact(account, lead)
    return interaction


@transaction.atomic
def lead_interaction_delete(*, account: Account, lead: Lead, interaction: Interaction) -> None:
    customer_services.interaction_delete(interaction=interaction)
    _refresh_last_contact(account, lead)


# --- Nurture sequences ------------------------------------------------------------------


def _steps_checked(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps in their order, numbered 1..n (given orders first, in their order, then
    the steps without one as listed); each template must compile: a 400 on
    `steps.<i>.message` or `.subject`, `i` its position as given."""
    if not steps:
        raise Invalid({"steps": [FieldError("A sequence has at least one step.", "required")]})
    given = [step["order"] for step in steps if step.get("order") is not None]
    if len(set(given)) != len(given):
        raise Invalid({"steps": [FieldError("Two steps have the same order.", "unique")]})
    for index, step in enumerate(steps):
        try:
            campaign_services.campaign_templates_check(
                channel=step["channel"], subject=step.get("subject", ""), message=step["message"]
            )
        except InvalidTemplate as exc:
            errors: list[dict[str, Any]] = [{} for _ in steps]
            errors[index] = {exc.attr or "message": [FieldError(exc.message, exc.code)]}
            raise Invalid({"steps": errors}, code=exc.code) from None
    positioned = sorted(
        enumerate(steps),
        key=lambda pair: (pair[1].get("order") is None, pair[1].get("order") or 0, pair[0]),
    )
    return [
        {
            "order": number,
            "delay_hours": step.get("delay_hours", 0),
            "channel": step["channel"],
            "subject": step.get("subject", "") if step["channel"] == NurtureChannel.EMAIL else "",
            "message": step["message"],
        }
        for number, (_index, step) in enumerate(positioned, start=1)
    ]


def _unique_sequence_keys() -> AbstractContextManager[None]:
    return unique_conflicts(
        {
            "nurture_unique_name": lambda: Conflict(
                {"name": ["A sequence with this name exists."]}, code="duplicate_name"
            ),
            "nurture_one_default": lambda: Conflict(
                {"is_default": ["Another sequence became the default meanwhile."]},
                code="conflict",
            ),
        }
    )


def _write_steps(sequence: NurtureSequence, steps: list[dict[str, Any]]) -> None:
    NurtureStep.objects.filter(account_id=sequence.account_id, sequence=sequence).delete()
    NurtureStep.objects.bulk_create(
        NurtureStep(account_id=sequence.account_id, sequence=sequence, **step) for step in steps
    )


def _take_default(sequence: NurtureSequence) -> None:
    """The account's other default sequence stops being one (one default per account)."""
    NurtureSequence.objects.filter(account_id=sequence.account_id, is_default=True).exclude(
        pk=sequence.pk
    ).update(is_default=False, updated_at=timezone.now())


@transaction.atomic
def sequence_create(
    *, account: Account, steps: list[dict[str, Any]], **fields: Any
) -> NurtureSequence:
    """A new sequence with its steps; `is_default` makes it the account's default (the
    previous default stops being one)."""
    checked = _steps_checked(steps)
    sequence = NurtureSequence(account=account, **fields)
    if sequence.is_default:
        _take_default(sequence)
    with _unique_sequence_keys():
        sequence.save(force_insert=True)
    _write_steps(sequence, checked)
    return sequence


@transaction.atomic
def sequence_update(
    *, sequence: NurtureSequence, steps: list[dict[str, Any]] | None = None, **fields: Any
) -> NurtureSequence:
    """Change the given fields; given `steps` replace the steps (its leads go on with
    the step after the ones they were sent, in the new list)."""
    checked = _steps_checked(steps) if steps is not None else None
    for name, value in fields.items():
        setattr(sequence, name, value)
    if fields.get("is_default"):
        _take_default(sequence)
    with _unique_sequence_keys():
        sequence.save()
    if checked is not None:
        _write_steps(sequence, checked)
    return sequence


@transaction.atomic
def sequence_delete(*, sequence: NurtureSequence) -> None:
    """Delete the sequence; the nurturing of its active leads stops."""
    places = LeadNurture.objects.filter(account_id=sequence.account_id, sequence=sequence)
    Lead.objects.filter(
        account_id=sequence.account_id,
        pk__in=places.values("lead_id"),
        nurture_state=NurtureState.ACTIVE,
    ).update(nurture_state=NurtureState.STOPPED, updated_at=timezone.now())
    places.update(next_at=None)
    sequence.delete()


# --- Enrolment, stop, reset, unsubscribe ------------------------------------------------


@dataclass(frozen=True)
class Started:
    enrolled: int
    skipped: int
    sent: int  # first steps due at once, for leads with an address for their channel


# The eligible leads made active, and each one's place set at step 0 of a new run (its
# row made at its first enrolment).
_ENROL_SQL = f"""
WITH enrolled AS (
    UPDATE {Lead._meta.db_table} l
       SET nurture_state = 'active', updated_at = %(now)s
     WHERE l.account_id = %(account)s
       AND l.nurture_state = 'idle'
       AND l.unsubscribed_at IS NULL
       AND l.status <> ALL(%(ended)s)
       AND (%(every)s OR l.id = ANY(%(ids)s::uuid[]))
    RETURNING l.id, CASE WHEN %(channel)s = 'email' THEN l.email ELSE l.phone END AS address
),
placed AS (
    INSERT INTO {LeadNurture._meta.db_table} AS n
        (id, account_id, lead_id, sequence_id, step, run, next_at)
    SELECT crm_uuid7(), %(account)s, id, %(sequence)s, 0, 1, %(first_due)s FROM enrolled
    ON CONFLICT (lead_id) DO UPDATE
       SET sequence_id = EXCLUDED.sequence_id, step = 0, run = n.run + 1,
           next_at = EXCLUDED.next_at
)
SELECT count(*), count(*) FILTER (WHERE btrim(address) <> '') FROM enrolled
"""  # noqa: S608 - the table names are the models' own


def _sequence_to_run(account: Account, sequence: NurtureSequence | None) -> NurtureSequence:
    if sequence is None:
        sequence = selectors.nurture_default_sequence(account)
        if sequence is None:
            raise Conflict(
                "The account has no default nurture sequence: name one, or make one the default.",
                code="no_default_sequence",
            )
    if not sequence.active:
        raise Invalid({"sequence": [FieldError("This sequence is inactive.", "inactive")]})
    return sequence


@transaction.atomic
def nurture_start(
    *,
    account: Account,
    lead_ids: list[Any] | None = None,
    sequence: NurtureSequence | None = None,
    now: datetime | None = None,
) -> Started:
    """Enrol the named leads (with none named, every lead of the account) that are
    eligible (not unsubscribed, idle, their status none of ENDED_STATUSES) in
    `sequence`, else in the account's
    default (none: a 409). `skipped` counts the named leads (or the account's) not
    enrolled; `sent` the first steps due at once (no delay) for leads with an address:
    beat's writer is sent for them when this transaction commits.

    One UPDATE whose WHERE is the eligibility: a lead enrolled by a concurrent call is
    no longer idle when this one reaches its row, and is not enrolled twice."""
    sequence = _sequence_to_run(account, sequence)
    first = selectors.nurture_steps(sequence).first()
    now = now or timezone.now()
    delay = timedelta(hours=first.delay_hours if first is not None else 0)
    ids = sorted({str(pk) for pk in lead_ids}) if lead_ids is not None else []
    with connection.cursor() as cursor:
        cursor.execute(
            _ENROL_SQL,
            {
                "sequence": sequence.pk,
                "first_due": now + delay,
                "now": now,
                "account": account.pk,
                "ended": list(ENDED_STATUSES),
                "every": lead_ids is None,
                "ids": ids,
                "channel": first.channel if first is not None else NurtureChannel.EMAIL,
            },
        )
        enrolled, reachable = cursor.fetchone()
    considered = len(ids) if lead_ids is not None else selectors.lead_list(account).count()
    due_now = enrolled > 0 and delay == timedelta(0)
    if due_now:
        tasks.nurture_write_due.delay_on_commit_for(account.pk)
    return Started(enrolled, max(considered - enrolled, 0), reachable if due_now else 0)


def _nurture_end(account_id: Any, lead_ids: list[Any]) -> None:
    """Nothing more is due for these leads (their place keeps its step and run)."""
    LeadNurture.objects.filter(
        account_id=account_id, lead_id__in=lead_ids, next_at__isnull=False
    ).update(next_at=None)


def _locked_or_gone(lead: Lead) -> Lead:
    locked = selectors.lead_locked(lead)
    if locked is None:
        raise Conflict("This lead no longer exists.", code="not_found")
    return locked


@transaction.atomic
def nurture_stop(*, lead: Lead) -> Lead:
    """Stop the lead's sequence: an active lead becomes stopped; any other state stays
    as it is (stopping twice changes nothing)."""
    lead = _locked_or_gone(lead)
    if lead.nurture_state == NurtureState.ACTIVE:
        lead.nurture_state = NurtureState.STOPPED
        lead.save(update_fields=["nurture_state", "updated_at"])
        _nurture_end(lead.account_id, [lead.pk])
    return lead


@transaction.atomic
def nurture_reset(*, account: Account, lead: Lead, now: datetime | None = None) -> Lead:
    """Restart the lead's sequence (its own, else the account's default) at step 1,
    whatever its state: a new run, so steps sent before are sent again. An unsubscribed
    or converted lead cannot be (409)."""
    lead = _locked_or_gone(lead)
    if lead.unsubscribed_at is not None:
        raise Conflict("This lead unsubscribed: it cannot be nurtured.", code="unsubscribed")
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict("This lead was converted: it is a customer now.", code="converted")
    current = None
    if lead.nurture_sequence_id is not None:
        current = selectors.nurture_sequence_get(account, lead.nurture_sequence_id)
    sequence = _sequence_to_run(account, current)
    first = selectors.nurture_steps(sequence).first()
    now = now or timezone.now()
    lead.nurture_state = NurtureState.ACTIVE
    lead.save(update_fields=["nurture_state", "updated_at"])
    place = lead.nurture_place or LeadNurture(account_id=lead.account_id, lead=lead)
    place.sequence, place.step, place.run = sequence, 0, place.run + 1
    place.next_at = now + timedelta(hours=first.delay_hours if first else 0)
    place.save()
    if place.next_at <= now:
        tasks.nurture_write_due.delay_on_commit_for(account.pk)
    return lead


_UNSUBSCRIBE_SQL = f"""
UPDATE {Lead._meta.db_table}
   SET unsubscribed_at = coalesce(unsubscribed_at, %(now)s),
       nurture_state = CASE WHEN nurture_state = 'active' THEN 'stopped'
                            ELSE nurture_state END,
       updated_at = %(now)s
 WHERE account_id = %(account)s AND id = ANY(%(ids)s::uuid[])
"""  # noqa: S608 - the table name is the model's own


def _unsubscribe(account: Account, lead_ids: list[Any], now: datetime) -> None:
    """The leads unsubscribed (the first time kept), their nurturing ended, their
    queued messages skipped (the ledger's own rule for an unsubscribed recipient)."""
    if not lead_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _UNSUBSCRIBE_SQL,
            {"now": now, "account": account.pk, "ids": sorted(str(pk) for pk in lead_ids)},
        )
    _nurture_end(account.pk, lead_ids)
    campaign_services.messages_skip_for_leads(
        account=account, lead_ids=lead_ids, reason=SkipReason.UNSUBSCRIBED
    )


@transaction.atomic
def lead_unsubscribe(*, account: Account, lead: Lead, now: datetime | None = None) -> Lead:
    """Unsubscribe the lead: `unsubscribed_at` (kept from the first time), its nurture
    ended, nothing queued for it sent."""
    _unsubscribe(account, [lead.pk], now or timezone.now())
    lead.refresh_from_db()
    return lead


@transaction.atomic
def leads_unsubscribe(
    *,
    account: Account,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Unsubscribe every lead of the account with this email (ignoring case), phone (in
    E.164) or external_id; answers how many match (0: none, the caller's 404). A lead
    unsubscribed before counts and keeps its first time."""
    matching = list(
        selectors.leads_matching(account, email=email, phone=phone, external_id=external_id)
    )
    _unsubscribe(account, matching, now or timezone.now())
    return len(matching)
