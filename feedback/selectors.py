"""Every non-trivial read of feedback: the requests and answers, the requests due for a
reminder, and the request a public token names."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from accounts.models import Account
from crm_project.tenancy import account_scope, unscoped
from feedback.models import Feedback

REMINDER_BATCH = 1000


def feedback_list(account: Account) -> QuerySet[Feedback]:
    return Feedback.objects.filter(account=account).select_related("customer")


def feedback_due_for_reminder(
    account: Account, *, due_before: datetime, max_reminders: int
) -> list[Feedback]:
    """Unanswered requests last sent before `due_before` with reminders left, locked
    (rows another run holds are skipped), oldest send first, at most REMINDER_BATCH."""
    rows = (
        Feedback.objects.filter(
            account=account,
            answered_at__isnull=True,
            last_sent_at__lte=due_before,
            reminders_sent__lt=max_reminders,
        )
        .select_related("customer", "account")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("last_sent_at", "id")
    )
    return list(rows[:REMINDER_BATCH])


def feedback_account_id(feedback_id: uuid.UUID) -> uuid.UUID | None:
    """The account of a request, across accounts (the public form's one cross-account
    read; None: no such request)."""
    with unscoped():
        return Feedback.objects.filter(pk=feedback_id).values_list("account_id", flat=True).first()


@contextmanager
def feedback_in_its_scope(feedback_id: uuid.UUID) -> Iterator[Feedback | None]:
    """The request, with the block running in its account's scope; None (and no scope)
    when there is no such request."""
    account_id = feedback_account_id(feedback_id)
    if account_id is None:
        yield None
        return
    with account_scope(account_id):
        yield Feedback.objects.select_related("account", "customer").filter(pk=feedback_id).first()


def customer_feedback(account: Account, customer_id: Any, limit: int) -> list[Feedback]:
    """The customer's newest `limit` requests by their timeline time (the answer's, or
    the request's while unanswered), newest first."""
    rows = Feedback.objects.filter(account=account, customer_id=customer_id).annotate(
        at=Coalesce("answered_at", "requested_at")
    )
    return list(rows.order_by("-at", "-id")[:limit])
