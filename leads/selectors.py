"""Every non-trivial read of leads: lists, search, look-ups by the integrator's keys."""

import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import Count, Max, Q, QuerySet

from accounts.models import Account
from campaigns import selectors as campaign_selectors
from crm_project.api.pagination import row_counts
from crm_project.phones import account_region
from customers import selectors as customer_selectors
from customers.models import Interaction
from customers.selectors import (
    EMAIL_LOWER,
    person_lookup,
    person_search_condition,
    phone_filter_value,
)
from leads.models import (
    LEAD_STATUS_COUNTER,
    Lead,
    LeadStatus,
    NurtureSequence,
    NurtureStep,
)

EXTERNAL_PREFIX = "ext:"


def lead_list(account: Account) -> QuerySet[Lead]:
    return Lead.objects.filter(account=account)


def lead_ref_filter(ref: str) -> Q | None:
    """How a path's `{id}` names a lead: its UUID, or `ext:<external_id>`. None when it
    can be neither (the caller answers 404)."""
    ref = str(ref).strip()
    if ref.startswith(EXTERNAL_PREFIX):
        external_id = ref[len(EXTERNAL_PREFIX) :].strip()
        return Q(external_id=external_id) if external_id else None
    try:
        return Q(pk=uuid.UUID(ref))
    except ValueError:
        return None


def lead_by_ref(account: Account, ref: str) -> Lead | None:
    condition = lead_ref_filter(ref)
    if condition is None:
        return None
    return lead_list(account).filter(condition).first()


def lead_search_filter(q: str, *, phone_region: str) -> Q:
    """`?q=`: the full name and the email as case-insensitive substrings (the trigram
    indexes), the phone by its digits, and the id and external_id exactly."""
    term = q.strip()
    if not term:
        return Q()
    condition = person_search_condition(term, phone_region=phone_region)
    with suppress(ValueError):
        condition |= Q(pk=uuid.UUID(term))
    return condition


def lead_lookup(
    account: Account,
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
) -> Lead | None:
    """The lead with all the given keys (email compared case-insensitively, phone in
    E.164). Emails and phones are not unique: the most recently created lead wins."""
    lead: Lead | None = person_lookup(
        lead_list(account), account, email=email, phone=phone, external_id=external_id
    )
    return lead


def lead_for_upsert(account: Account, *, external_id: str | None) -> Lead | None:
    """The lead a bulk row updates (by its external_id), locked."""
    if not external_id:
        return None
    return lead_list(account).select_for_update().filter(external_id=external_id).first()


def external_ids_taken(account: Account, external_ids: list[str]) -> set[str]:
    """Which of `external_ids` name a lead of the account."""
    if not external_ids:
        return set()
    taken = (
        lead_list(account)
        .filter(external_id__in=set(external_ids))
        .values_list("external_id", flat=True)
    )
    return {external_id for external_id in taken if external_id}


def lead_locked(lead: Lead) -> Lead | None:
    """The lead as stored now, its row locked until the transaction ends (None when it
    was deleted meanwhile)."""
    return lead_list_for(lead).select_for_update().filter(pk=lead.pk).first()


def lead_list_for(lead: Lead) -> QuerySet[Lead]:
    return Lead.objects.filter(account_id=lead.account_id)


def leads_matching(
    account: Account,
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
) -> list[uuid.UUID]:
    """The ids of every lead of the account with this email (ignoring case), phone (in
    E.164, read in the account's region) or external_id; the first key given decides."""
    queryset = lead_list(account)
    if email and email.strip():
        queryset = queryset.alias(search_email=EMAIL_LOWER).filter(
            search_email=email.strip().lower()
        )
    elif phone and phone.strip():
        queryset = queryset.filter(
            phone=phone_filter_value(phone, phone_region=account_region(account))
        )
    elif external_id and external_id.strip():
        queryset = queryset.filter(external_id=external_id.strip())
    else:
        return []
    return list(queryset.order_by("pk").values_list("pk", flat=True))


# --- Interactions -----------------------------------------------------------------------


def lead_interactions(account: Account, lead: Lead) -> QuerySet[Interaction]:
    return customer_selectors.interaction_list(account, lead=lead)


# --- Nurturing --------------------------------------------------------------------------

# A lead can be enrolled when it is not unsubscribed, its status is none of these, and
# its nurture_state is idle (SPEC "Nurturing"); setting one of them ends its sequence.
ENDED_STATUSES = (LeadStatus.CONVERTED, LeadStatus.LOST, LeadStatus.WON)


def nurture_sequence_list(account: Account) -> QuerySet[NurtureSequence]:
    return NurtureSequence.objects.filter(account=account)


def nurture_sequence_get(account: Account, sequence_id: Any) -> NurtureSequence | None:
    return nurture_sequence_list(account).filter(pk=sequence_id).first()


def nurture_default_sequence(account: Account) -> NurtureSequence | None:
    return nurture_sequence_list(account).filter(is_default=True).first()


def nurture_steps(sequence: NurtureSequence) -> QuerySet[NurtureStep]:
    return NurtureStep.objects.filter(
        account_id=sequence.account_id, sequence_id=sequence.pk
    ).order_by("order")


# --- Statistics -------------------------------------------------------------------------

QUALIFIED_STATUSES = (
    LeadStatus.QUALIFIED,
    LeadStatus.PROPOSAL,
    LeadStatus.NEGOTIATION,
    LeadStatus.WON,
    LeadStatus.CONVERTED,
)


@dataclass(frozen=True)
class LeadStatistics:
    delivered_count: int
    qualified: bool
    last_delivered_at: datetime | None
    interactions_count: int
    nurture_step: int
    nurture_state: str


def lead_statistics(account: Account, lead: Lead) -> LeadStatistics:
    """What the ledger delivered to the lead, how far it is, and its interactions."""
    delivered = campaign_selectors.lead_deliveries(account, lead.pk)
    interactions = lead_interactions(account, lead).aggregate(n=Count("id"), last=Max("date"))
    return LeadStatistics(
        delivered_count=delivered.count,
        qualified=lead.status in QUALIFIED_STATUSES,
        last_delivered_at=delivered.last_at,
        interactions_count=interactions["n"],
        nurture_step=lead.nurture_step,
        nurture_state=lead.nurture_state,
    )


def lead_ids_for_refs(account: Account, refs: list[str]) -> list[uuid.UUID]:
    """The ids of the account's leads named by UUID or `ext:<external_id>`; names of
    no lead of the account are left out."""
    uuids: list[uuid.UUID] = []
    external_ids: list[str] = []
    for ref in refs:
        condition = lead_ref_filter(ref)
        if condition is None:
            continue
        key, value = cast(tuple[str, Any], condition.children[0])
        (uuids if key == "pk" else external_ids).append(value)
    found = lead_list(account).filter(Q(pk__in=uuids) | Q(external_id__in=external_ids))
    return list(found.order_by("pk").values_list("pk", flat=True))


# --- The pipeline board -----------------------------------------------------------------


def lead_status_counts(leads: QuerySet[Lead], *, whole_table: bool = False) -> dict[str, int]:
    """How many of `leads` (the account's, filtered) are in each status, every status
    named (zeros included). `whole_table` (nothing filtered): the counts kept with the
    rows (LEAD_STATUS_COUNTER), not a count of a million rows."""
    if whole_table:
        counted = row_counts([f"{LEAD_STATUS_COUNTER}{status}" for status in LeadStatus.values])
        return {status: counted[f"{LEAD_STATUS_COUNTER}{status}"] for status in LeadStatus.values}
    counts = dict(leads.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in LeadStatus.values}


def lead_column(leads: QuerySet[Lead], status: str, limit: int) -> list[Lead]:
    """The newest `limit` of `leads` in `status` (a board column's cards)."""
    return list(
        leads.filter(status=status)
        .select_related("assigned_to")
        .order_by("-created_at", "-id")[:limit]
    )
