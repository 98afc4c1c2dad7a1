"""Feedback requests go out through the ledger's one delivery path (held while the
account is paused, sent on unpause), and unanswered ones are reminded on the account's
schedule: never twice for one round, never after an answer, at most the account's
maximum, and a second run at once reminds nothing (also when runs race)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_change_status
from campaigns import delivery, tasks
from campaigns.models import Message
from crm_project.tenancy import account_scope
from feedback import selectors, services
from feedback import tasks as feedback_tasks
from feedback.models import Feedback
from tests.factories import AccountFactory, CustomerFactory, make_api_key


def customer_of(account, **fields):
    values = {"first_name": "Ada", "email": "ada@example.com", "email_opt_in": True, **fields}
    return CustomerFactory(account=account, **values)


def ask(account, customer):
    with account_scope(account):
        return services.feedback_request(account=account, customer=customer)


def sent_earlier(account, feedback, days):
    """The request's last send was `days` ago."""
    with account_scope(account):
        Feedback.objects.filter(pk=feedback.pk).update(
            last_sent_at=timezone.now() - timedelta(days=days)
        )


def remind(account):
    with account_scope(account):
        return services.feedback_reminders_process(account=Account.objects.get(pk=account.pk))


def messages(account, feedback):
    with account_scope(account):
        return list(
            Message.objects.filter(source_key__startswith=f"feedback:{feedback.pk}:")
            .order_by("created_at")
            .values_list("source", "source_key")
        )


@pytest.mark.django_db
def test_reminders_follow_the_accounts_delay_and_maximum():
    account = AccountFactory(feedback_reminder_days=3, feedback_max_reminders=2)
    feedback = ask(account, customer_of(account))
    sent_earlier(account, feedback, 2)
    assert remind(account).reminded == 0  # not due yet
    sent_earlier(account, feedback, 3)
    assert remind(account).reminded == 1
    assert remind(account).reminded == 0  # at once again: nothing
    sent_earlier(account, feedback, 3)
    assert remind(account).reminded == 1
    sent_earlier(account, feedback, 30)
    assert remind(account).reminded == 0  # the maximum is reached
    assert messages(account, feedback) == [
        ("feedback", f"feedback:{feedback.pk}:0"),
        ("reminder", f"feedback:{feedback.pk}:1"),
        ("reminder", f"feedback:{feedback.pk}:2"),
    ]


@pytest.mark.django_db
def test_an_answered_request_is_never_reminded():
    account = AccountFactory()
    feedback = ask(account, customer_of(account))
    with account_scope(account):
        services.feedback_answer(feedback=feedback, rating=4)
    sent_earlier(account, feedback, 10)
    assert remind(account).reminded == 0
    assert len(messages(account, feedback)) == 1


@pytest.mark.django_db
def test_the_reminders_endpoint_answers_how_many_and_is_scoped(
    api_client, other_api_client, account
):
    feedback = ask(account, customer_of(account))
    sent_earlier(account, feedback, 5)
    assert other_api_client.post("/api/v1/feedback/process-reminders/").json() == {"reminded": 0}
    assert api_client.post("/api/v1/feedback/process-reminders/").json() == {"reminded": 1}
    assert api_client.post("/api/v1/feedback/process-reminders/").json() == {"reminded": 0}


@pytest.mark.django_db(transaction=True)
def test_a_run_skips_the_requests_another_run_holds_and_reminds_each_round_once():
    account = AccountFactory()
    requests = [ask(account, customer_of(account, email=f"c{n}@example.com")) for n in range(6)]
    for feedback in requests:
        sent_earlier(account, feedback, 5)
    held, release = threading.Event(), threading.Event()

    def other_run():
        # Another run has claimed (locked) every due request and not committed yet.
        try:
            with account_scope(account), transaction.atomic():
                claimed = selectors.feedback_due_for_reminder(
                    account, due_before=timezone.now(), max_reminders=2
                )
                assert len(claimed) == 6
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    assert held.wait(timeout=30)
    assert remind(account).reminded == 0  # every row is held: skipped, not waited for
    release.set()
    thread.join()
    assert remind(account).reminded == 6
    assert remind(account).reminded == 0
    with account_scope(account):
        assert Message.objects.filter(source="reminder").count() == 6
        assert set(Feedback.objects.values_list("reminders_sent", flat=True)) == {1}


@pytest.mark.django_db
def test_beat_sends_the_reminder_run_to_active_accounts_only(django_capture_on_commit_callbacks):
    active, paused = AccountFactory(), AccountFactory()
    for account in (active, paused):
        sent_earlier(account, ask(account, customer_of(account)), 5)
    account_change_status(account=paused, action="pause")
    with django_capture_on_commit_callbacks() as sent:
        assert feedback_tasks.feedback_reminders_process_all() == 1
    assert len(sent) == 1
    # The account's run, as the worker runs it (in the account's scope).
    with account_scope(active):
        assert feedback_tasks.feedback_reminders_process() == 1
        assert Message.objects.filter(source="reminder").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_paused_accounts_request_waits_and_goes_out_on_unpause(mailoutbox):
    account = AccountFactory()
    make_api_key(account)
    account_change_status(account=account, action="pause")
    feedback = ask(account, customer_of(account))
    assert delivery.messages_send_chunk(account_id=account.pk).claimed == 0
    tasks.messages_reap()
    assert mailoutbox == []
    account_change_status(account=account, action="unpause")
    tasks.messages_reap()
    assert len(mailoutbox) == 1
    sent = mailoutbox[0]
    assert sent.to == ["ada@example.com"]
    with account_scope(account):
        message = Message.objects.get(source_key=f"feedback:{feedback.pk}:0")
    # The form's link, tracked like every link of the ledger (the click redirects to it).
    assert message.links == [message.context["feedback_url"]]
    assert "/t/c/" in sent.body
