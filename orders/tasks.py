"""Orders' beat: every hour, `order_stats_refresh_all` reads which accounts have buyers
whose 365-day order statistics are due (an order left the window, or the account's
timezone changed) and sends each `order_stats_refresh`, which computes them again.
Safe to run twice at once (the refresh locks the customers it rewrites)."""

from accounts.models import Account
from crm_project.celery import PlatformTask, TenantTask, app
from crm_project.tenancy import account_scope, unscoped
from customers import selectors as customer_selectors
from orders import services


@app.task(base=PlatformTask)
def order_stats_refresh_all() -> int:
    """Send the statistics refresh of every account with buyers due; returns how many
    were sent."""
    with unscoped():  # the one place that reads across accounts: which work exists
        account_ids = customer_selectors.accounts_with_order_stats_due()
    for account_id in account_ids:
        order_stats_refresh.delay_on_commit_for(account_id)
    return len(account_ids)


# Not atomic: each batch of customers commits on its own (the service opens the
# account's scope per batch).
@app.task(bind=True, atomic=False)
def order_stats_refresh(self: TenantTask) -> int:
    with account_scope(self.account_id):
        account = Account.objects.filter(pk=self.account_id).first()
    if account is None:  # deleted since the task was sent
        return 0
    return services.customer_order_stats_refresh(account=account)
