"""Every non-trivial read of leads: lists, search, look-ups by the integrator's keys."""

import uuid
from contextlib import suppress

from django.db.models import Q, QuerySet

from accounts.models import Account
from crm_project.phones import account_region
from customers.selectors import (
    EMAIL_LOWER,
    person_search_condition,
    phone_filter_value,
)
from leads.models import Lead

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
    queryset = lead_list(account)
    if email:
        queryset = queryset.alias(search_email=EMAIL_LOWER).filter(
            search_email=email.strip().lower()
        )
    if phone:
        queryset = queryset.filter(
            phone=phone_filter_value(phone, phone_region=account_region(account))
        )
    if external_id:
        queryset = queryset.filter(external_id=external_id.strip())
    return queryset.order_by("-created_at", "-id").first()


def lead_for_upsert(account: Account, *, external_id: str | None) -> Lead | None:
    """The lead a bulk row updates (by its external_id), locked."""
    if not external_id:
        return None
    return lead_list(account).select_for_update().filter(external_id=external_id).first()


def lead_locked(lead: Lead) -> Lead | None:
    """The lead as stored now, its row locked until the transaction ends (None when it
    was deleted meanwhile)."""
    return lead_list_for(lead).select_for_update().filter(pk=lead.pk).first()


def lead_list_for(lead: Lead) -> QuerySet[Lead]:
    return Lead.objects.filter(account_id=lead.account_id)
