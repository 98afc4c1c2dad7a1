"""Beat's feedback work: once a day, `feedback_reminders_process_all` reads which active
accounts have unanswered requests with reminders left and sends each of them
`feedback_reminders_process`, which reminds the due ones in the account's scope."""

from django.db.models import Exists, F, OuterRef

from accounts.models import Account, AccountStatus
from crm_project.celery import PlatformTask, app
from crm_project.tenancy import require_account_id, unscoped
from feedback import services
from feedback.models import Feedback


@app.task(base=PlatformTask)
def feedback_reminders_process_all() -> int:
    """Send the reminder run of every active account with requests awaiting an answer
    and reminders left; returns how many were sent."""
    with unscoped():  # the one place that reads across accounts: which work exists
        waiting = Feedback.objects.filter(
            account_id=OuterRef("pk"),
            answered_at__isnull=True,
            reminders_sent__lt=F("account__feedback_max_reminders"),
        )
        account_ids = list(
            Account.objects.filter(status=AccountStatus.ACTIVE)
            .filter(Exists(waiting))
            .values_list("pk", flat=True)
        )
    for account_id in account_ids:
        feedback_reminders_process.delay_on_commit_for(account_id)
    return len(account_ids)


@app.task
def feedback_reminders_process() -> int:
    """The account's due reminders (feedback.services.feedback_reminders_process: a
    round is written once; concurrent runs share the rows)."""
    account = Account.objects.filter(pk=require_account_id()).first()
    if account is None:  # deleted since the task was sent
        return 0
    return services.feedback_reminders_process(account=account).reminded
