"""Every non-trivial read of segments: lists, look-ups, and their customers (through
the rule compiler, one SQL query each)."""

import logging
import uuid
from typing import Any

from django.db.models import BooleanField, Case, Exists, Q, QuerySet, Value, When
from rest_framework.exceptions import ValidationError

from accounts.models import Account
from customers.models import Customer
from segments import compiler
from segments.models import Segment

log = logging.getLogger(__name__)

# The order of a segment's customers unless the caller asks for another one.
CUSTOMER_ORDERING = ("last_name", "first_name", "id")
SAMPLE_SIZE = 10
# What compiling a stored rule raises when the language has moved on since it was saved.
STORED_RULE_ERRORS = (ValueError, TypeError, KeyError, ValidationError)


def segment_list(account: Account) -> QuerySet[Segment]:
    return Segment.objects.filter(account=account)


def segment_get(account: Account, segment_id: Any) -> Segment | None:
    """The account's segment with this id; None when it is missing, another account's,
    or not a UUID at all (the caller answers 404, or 400 for an id in a body)."""
    try:
        key = segment_id if isinstance(segment_id, uuid.UUID) else uuid.UUID(str(segment_id))
    except ValueError:
        return None
    return segment_list(account).filter(pk=key).first()


def matching_customers(account: Account, rule: dict[str, Any]) -> QuerySet[Customer]:
    """The customers a (normalized) rule selects, in one query, active segment or not."""
    return compiler.matching_customers(account, rule)


def segment_customers(account: Account, segment: Segment) -> QuerySet[Customer]:
    """A segment's customers now (inactive segments too: they can be previewed)."""
    return matching_customers(account, segment.rules)


def rule_preview(account: Account, rule: dict[str, Any]) -> dict[str, Any]:
    """How many customers a rule selects and the first SAMPLE_SIZE of them."""
    sample = list(matching_customers(account, rule).order_by(*CUSTOMER_ORDERING)[:SAMPLE_SIZE])
    return {"count": compiler.count(account, rule), "sample": sample}


def customer_ids_in_segment(account: Account, segment_id: Any) -> QuerySet:
    """The ids of a segment's customers, as a subquery for `Customer.objects.filter(
    pk__in=...)` (the customer list's `segment` filter). A segment that is not this
    account's (or no segment at all) is a 400 on `segment`, as a foreign id in a
    request is."""
    segment = segment_get(account, segment_id)
    if segment is None:
        raise ValidationError(
            {"segment": [f"No segment {segment_id} in this account."]}, code="does_not_exist"
        )
    return segment_customers(account, segment).order_by().values("pk")


def customers_with_tags(tags: list[str]) -> Q:
    """A filter of customers holding every one of `tags` as spelled (the customer list's
    `?tag=`). It first asks the segments' case-insensitive tag condition, which is
    leakproof and reads its GIN index under row-level security (`tags @>` alone is not
    leakproof: every row of the account would be read), then keeps the exact spelling."""
    condition = Q()
    for tag in tags:
        condition &= compiler.tags_predicate("contains", tag)
    return condition & Q(tags__contains=tags)


def active_segments_containing(account: Account, customer: Customer) -> list[Segment]:
    """The account's active segments whose rule selects `customer`, by name.

    One query over the active segments: each segment's row evaluates only its own
    rule, restricted to this customer (`CASE WHEN id = <segment> THEN EXISTS (...)`),
    so PostgreSQL runs each rule once, for one customer."""
    active = segment_list(account).filter(active=True)
    rules = list(active.values_list("pk", "rules"))
    branches = []
    for segment_id, rule in rules:
        try:
            members = matching_customers(account, rule).filter(pk=customer.pk)
        except STORED_RULE_ERRORS as exc:
            log.warning("Segment %s: its stored rule does not compile: %s", segment_id, exc)
            continue
        branches.append(When(pk=segment_id, then=Exists(members)))
    if not branches:
        return []
    contains = Case(*branches, default=Value(False), output_field=BooleanField())
    return list(
        active.filter(pk__in=[segment_id for segment_id, _rule in rules])
        .alias(contains_customer=contains)
        .filter(contains_customer=True)
        .order_by("name", "id")
    )
