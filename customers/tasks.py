"""Periodic health thresholds and follow-ups.

Celery beat runs `health_thresholds_refresh_all` (settings.CELERY_BEAT_SCHEDULE): it
reads which accounts have customers and thresholds older than
customers.services.HEALTH_THRESHOLDS_REFRESH_AFTER (or none), and sends each of them
`health_thresholds_refresh`, which recomputes them in the account's scope.

It runs `followups_process_all` every 5 minutes: it reads which accounts have
interactions awaiting their follow-up and sends each of them `followups_process`."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Account, AccountStatus
from crm_project.celery import PlatformTask, app
from crm_project.tenancy import require_account_id, unscoped
from customers import followups, selectors, services
from customers.models import Customer, HealthThresholds


@app.task(base=PlatformTask)
def health_thresholds_refresh_all() -> int:
    """Send the refresh of every account whose thresholds are due; returns how many
    were sent."""
    fresh_since = timezone.now() - services.HEALTH_THRESHOLDS_REFRESH_AFTER
    with unscoped():  # the one place that reads across accounts: which work exists
        account_ids = list(
            Account.objects.exclude(status=AccountStatus.INACTIVE)
            .filter(Exists(Customer.objects.filter(account=OuterRef("pk"))))
            .exclude(
                pk__in=HealthThresholds.objects.filter(computed_at__gte=fresh_since).values(
                    "account_id"
                )
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for account_id in account_ids:
        health_thresholds_refresh.delay_on_commit_for(account_id)
    return len(account_ids)


@app.task(statement_timeout_setting="DB_COUNT_STATEMENT_TIMEOUT")
def health_thresholds_refresh() -> None:
    """Recompute the account's thresholds. Safe to run twice."""
    account = Account.objects.filter(pk=require_account_id()).first()
    if account is not None:  # else deleted since the task was sent
        services.health_thresholds_refresh(account=account)


@app.task(base=PlatformTask)
def followups_process_all() -> int:
    """Send the follow-up processing of every account with an interaction awaiting its
    follow-up; returns how many were sent."""
    now = timezone.now()
    with unscoped():  # the one place that reads across accounts: which work exists
        account_ids = selectors.accounts_awaiting_followups(now=now)
    for account_id in account_ids:
        followups_process.delay_on_commit_for(account_id)
    return len(account_ids)


@app.task
def followups_process() -> None:
    """The account's due interactions get their follow-ups, agents notified once. Safe
    to run twice (customers.followups.followups_process)."""
    account = Account.objects.filter(pk=require_account_id()).first()
    if account is not None:  # else deleted since the task was sent
        followups.followups_process(account=account)
