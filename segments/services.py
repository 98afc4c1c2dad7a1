"""Every write of the segments app: segments themselves and their customer counts.

A count is one `UPDATE segments_segment SET customers_count = (SELECT count(*) FROM
(<the rule's query>) ...)` statement: PostgreSQL counts, no customer row comes to
Python, and customers are only read (no lock beyond the segment row being updated)."""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import Account
from segments import compiler
from segments.models import Segment
from segments.selectors import STORED_RULE_ERRORS

log = logging.getLogger(__name__)

UPDATABLE_FIELDS = frozenset({"name", "description", "rules"})


def _count_expression(*, account: Account, rule: dict[str, Any]) -> RawSQL:
    """`(SELECT count(*) FROM (<rule query>) AS matching)`: the rule compiled to SQL
    once (compiler.count_sql, as a preview counts), counted by PostgreSQL inside the
    UPDATE that stores it."""
    # The SQL is the ORM's own compilation of the rule; every value is a parameter.
    sql, params = compiler.count_sql(account, rule)
    return RawSQL(sql, params)  # noqa: S611


@transaction.atomic
def segment_refresh_count(*, segment: Segment) -> Segment:
    """Count the segment's customers now (one UPDATE) and put the figures on `segment`."""
    Segment.objects.filter(account=segment.account_id, pk=segment.pk).update(
        customers_count=_count_expression(account=segment.account, rule=segment.rules),
        counted_at=timezone.now(),
    )
    segment.customers_count, segment.counted_at = (
        Segment.objects.filter(account=segment.account_id, pk=segment.pk)
        .values_list("customers_count", "counted_at")
        .get()
    )
    return segment


@transaction.atomic
def segment_create(
    *,
    account: Account,
    name: str,
    rules: dict[str, Any],
    description: str = "",
    active: bool = True,
) -> Segment:
    """`rules` is already normalized (segments.rules.validate_rule). Counted at once."""
    segment = Segment.objects.create(
        account=account, name=name, description=description, active=active, rules=rules
    )
    return segment_refresh_count(segment=segment)


@transaction.atomic
def segment_update(*, segment: Segment, **fields: Any) -> Segment:
    """Change name, description or rules (normalized), and `active` through
    activate/deactivate; the count is refreshed in the same transaction."""
    active = fields.pop("active", None)
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"segment_update() got unexpected fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(segment, name, value)
    if fields:
        segment.save(update_fields=[*fields, "updated_at"])
    if active is not None:
        _set_active(segment=segment, active=active)
    return segment_refresh_count(segment=segment)


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    segment.delete()


def _set_active(*, segment: Segment, active: bool) -> bool:
    """A conditional UPDATE: True when the state changed (so repeats are no-ops)."""
    changed = Segment.objects.filter(
        account=segment.account_id, pk=segment.pk, active=not active
    ).update(active=active, updated_at=timezone.now())
    segment.active = active
    if changed:
        segment.refresh_from_db(fields=["updated_at"])
    return bool(changed)


@transaction.atomic
def segment_activate(*, segment: Segment) -> Segment:
    """Active again: counted now, since the periodic count skipped it while inactive.
    Activating an active segment changes nothing."""
    if _set_active(segment=segment, active=True):
        segment_refresh_count(segment=segment)
    return segment


@transaction.atomic
def segment_deactivate(*, segment: Segment) -> Segment:
    """Inactive segments keep their rule and can be previewed and read; campaigns,
    `/customers/{id}/segments/` and the periodic count ignore them."""
    _set_active(segment=segment, active=False)
    return segment


@transaction.atomic
def segment_counts_refresh(*, account: Account, segment_ids: Iterable[Any] | None = None) -> int:
    """Recount the account's active segments (or those of `segment_ids` that are still
    active): one UPDATE each, skipping a segment deactivated in the meantime. A stored
    rule that no longer compiles is logged and skipped, never fatal for the others.
    Returns how many segments were counted."""
    active = Segment.objects.filter(account=account, active=True)
    if segment_ids is not None:
        active = active.filter(pk__in=list(segment_ids))
    now = timezone.now()
    counted = 0
    for segment_id, rule in active.order_by("pk").values_list("pk", "rules"):
        try:
            expression_ready = _count_expression(account=account, rule=rule)
        except STORED_RULE_ERRORS as exc:
            log.warning("Segment %s: its stored rule does not compile: %s", segment_id, exc)
            continue
        counted += Segment.objects.filter(account=account, pk=segment_id, active=True).update(
            customers_count=expression_ready, counted_at=now
        )
    return counted
