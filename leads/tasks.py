"""Leads' beat. Nurturing: every minute, `nurture_write_due_all` reads which active accounts
have leads due a step and sends each `nurture_write_due`, which writes their steps to
the outbound ledger (leads.nurture). (The leads report's rollup is folded by
crm_project.tasks.rollups_compact_all.) All are safe to run twice at once."""

from django.utils import timezone

from accounts.models import Account
from crm_project.celery import PlatformTask, TenantTask, app
from crm_project.tenancy import account_scope, unscoped
from leads import nurture


@app.task(base=PlatformTask)
def nurture_write_due_all() -> int:
    """Send the due-step writer of every active account with a lead due; returns how
    many were sent."""
    with unscoped():  # the one place that reads across accounts: which work exists
        account_ids = nurture.accounts_with_due_steps(now=timezone.now())
    for account_id in account_ids:
        nurture_write_due.delay_on_commit_for(account_id)
    return len(account_ids)


# Not atomic: each batch of due leads commits with its messages (leads.nurture opens
# the account's scope per batch).
@app.task(bind=True, atomic=False)
def nurture_write_due(self: TenantTask) -> dict[str, int]:
    with account_scope(self.account_id):
        account = Account.objects.filter(pk=self.account_id).first()
    if account is None:  # deleted since the task was sent
        return {"leads": 0, "messages": 0}
    written = nurture.nurture_write_due(account=account)
    return {"leads": written.leads, "messages": written.messages, "queued": written.queued}
