"""The delivery path against the faults of SPEC "Messages: one outbound ledger", in
process (Celery eager) with real servers: an SMTP server (aiosmtpd) answering 4xx, 5xx
or dropping the connection; an SMS provider (tests/campaigns/stubs.py) answering 503
with Retry-After, 400, or not listening at all; paused accounts; the per-account rate;
concurrent launches; cancel mid-send; stale and dead claims; scheduled campaigns.

In eager mode a task sent for later (a retry's pump) is not run (crm_project.celery):
each retry is driven here by moving the message's `next_attempt_at` into the past and
running a pass of campaigns.delivery.messages_send_chunk."""

import os
import socket
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_change_status
from campaigns import delivery, services, tasks, tracking
from campaigns.channels import (
    HttpSmsChannel,
)
from campaigns.models import Campaign, Message
from crm_project.errors import Conflict
from crm_project.tenancy import account_scope
from tests.campaigns.ledger import (
    assert_stats_match_the_ledger,
    by_customer,
    campaign_start,
    campaign_status,
    customers_bulk,
    messages_of,
    status_counts,
)
from tests.campaigns.smtp import DROP, parsed, smtp_server
from tests.campaigns.stubs import Answer, stub_server
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "tok-faults"


# --- Helpers ------------------------------------------------------------------------------


@pytest.fixture
def smtp(settings):
    """The default mailer sends to a real SMTP server on 127.0.0.1."""
    with smtp_server() as server:
        settings.MAILERS = {**settings.MAILERS, "default": server.mailer()}
        yield server


@pytest.fixture
def provider(settings):
    """The `http` SMS provider is a local stub answering 200 unless a test says else."""
    with stub_server(lambda request: Answer(200, {"id": "p-" + request.json()["to"]})) as server:
        settings.SMS_PROVIDER = "http"
        settings.SMS_HTTP_URL = server.url + "/sms"
        settings.SMS_HTTP_TOKEN = TOKEN
        yield server


def make_due(account, campaign=None):
    """Every queued message of the account (of `campaign`) is due now: the retry's
    wait has passed."""
    with account_scope(account):
        messages = Message.objects.filter(status="queued", next_attempt_at__isnull=False)
        if campaign is not None:
            messages = messages.filter(campaign=campaign.pk)
        return messages.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def send_pass(account):
    return delivery.messages_send_chunk(account_id=account.pk)


def one_message(account, campaign, customer):
    with account_scope(account):
        return Message.objects.get(campaign=campaign.pk, customer=customer.pk)


def pause(account):
    account_change_status(account=account, action="pause")


def unpause(account):
    account_change_status(account=account, action="unpause")


def set_rate(account, rate):
    Account.objects.filter(pk=account.pk).update(send_rate_per_second=rate)


def keys(server):
    return [request.headers["Idempotency-Key"] for request in server.requests]


# --- SMTP -------------------------------------------------------------------------------


def test_an_smtp_4xx_queues_the_message_again_with_the_reply_and_the_next_pass_sends_it(smtp):
    busy_once = set()

    def rcpt(address):
        if address.startswith("busy@") and address not in busy_once:
            busy_once.add(address)
            return "451 4.3.2 Mailbox busy, try again later"
        return None

    smtp.rcpt = rcpt
    account = AccountFactory()
    ok = CustomerFactory(account=account, email="ok@example.com")
    busy = CustomerFactory(account=account, email="busy@example.com")
    campaign = campaign_start(account)
    before = timezone.now()

    message = one_message(account, campaign, busy)
    assert message.status == "queued"
    assert message.error == "451 4.3.2 Mailbox busy, try again later"
    assert message.tries == 1
    assert message.next_attempt_at > before
    assert one_message(account, campaign, ok).status == "delivered"
    assert campaign_status(account, campaign) == "sending"
    assert smtp.recipients() == ["ok@example.com"]

    make_due(account)
    pumped = send_pass(account)

    assert (pumped.claimed, pumped.sent) == (1, 1)
    message = one_message(account, campaign, busy)
    assert (message.status, message.tries) == ("delivered", 2)
    assert sorted(smtp.recipients()) == ["busy@example.com", "ok@example.com"]
    assert campaign_status(account, campaign) == "sent"
    assert_stats_match_the_ledger(account, campaign)


def test_an_smtp_5xx_fails_the_message_with_the_servers_reply(smtp):
    smtp.rcpt = lambda address: (
        "550 5.1.1 <nobody@example.com>: Recipient address rejected"
        if address.startswith("nobody@")
        else None
    )
    smtp.data = lambda envelope: (
        "554 5.7.1 Message rejected as spam" if envelope.rcpt_tos == ["spam@example.com"] else None
    )
    account = AccountFactory()
    nobody = CustomerFactory(account=account, email="nobody@example.com")
    spam = CustomerFactory(account=account, email="spam@example.com")
    ok = CustomerFactory(account=account, email="ok@example.com")

    campaign = campaign_start(account)

    statuses = by_customer(account, campaign)
    assert statuses[nobody.pk] == (
        "failed",
        "550 5.1.1 <nobody@example.com>: Recipient address rejected",
    )
    assert statuses[spam.pk] == ("failed", "554 5.7.1 Message rejected as spam")
    assert statuses[ok.pk] == ("delivered", "")
    assert one_message(account, campaign, nobody).failed_at is not None
    # A campaign ends `sent` when every message has left the queue, even if some failed.
    assert campaign_status(account, campaign) == "sent"
    stats = assert_stats_match_the_ledger(account, campaign)
    assert (stats["failed"], stats["sent"]) == (2, 1)


def test_a_connection_dropped_mid_chunk_retries_the_rest_and_sends_nothing_twice(smtp):
    dropped = []

    def data(envelope):
        if envelope.rcpt_tos == ["c3@example.com"] and not dropped:
            dropped.append(envelope)
            return DROP
        return None

    smtp.data = data
    account = AccountFactory()
    customers_bulk(account, 6)

    campaign = campaign_start(account)

    assert dropped, "the server never dropped the connection"
    counts = status_counts(account, campaign)
    assert counts["delivered"] + counts["queued"] == 6
    assert counts["queued"] >= 1
    assert "c3@example.com" not in smtp.recipients()
    assert smtp.connections >= 2  # the chunk went on over a new connection

    for _ in range(3):
        if not make_due(account):
            break
        send_pass(account)

    assert status_counts(account, campaign) == {"delivered": 6}
    assert sorted(smtp.recipients()) == sorted(f"c{n}@example.com" for n in range(1, 7))
    assert campaign_status(account, campaign) == "sent"
    assert_stats_match_the_ledger(account, campaign)


def test_each_try_of_an_email_carries_the_same_message_id_and_one_click_unsubscribe(smtp):
    tries = []

    def data(envelope):
        tries.append(parsed(envelope))
        return "451 4.7.1 Greylisted, try again" if len(tries) == 1 else None

    smtp.data = data
    account = AccountFactory()
    customer = CustomerFactory(account=account, email="grey@example.com")

    campaign = campaign_start(account)
    assert one_message(account, campaign, customer).status == "queued"
    make_due(account)
    send_pass(account)

    message = one_message(account, campaign, customer)
    assert message.status == "delivered"
    first, second = tries
    assert first["Message-ID"] == second["Message-ID"] == f"<{message.pk}@localhost>"
    unsubscribe = tracking.unsubscribe_url(message.pk)
    assert second["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert second["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert tracking.read_token("unsubscribe", unsubscribe.rsplit("/", 1)[1]) == (message.pk, None)


def test_an_html_email_carries_the_pixel_and_tracked_links_in_both_parts(smtp):
    account = AccountFactory()
    customer = CustomerFactory(account=account, email="html@example.com", first_name="Zoé")
    campaign = campaign_start(
        account,
        subject="Offer for {{ first_name }}",
        message=(
            '<p>Hello {{ first_name }}, see <a href="https://shop.example/offer?a=1&amp;b=2">'
            'the offer</a> and <a href="https://shop.example/faq">the FAQ</a>.</p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        ),
    )

    message = one_message(account, campaign, customer)
    assert message.status == "delivered"
    assert message.links == ["https://shop.example/offer?a=1&b=2", "https://shop.example/faq"]
    (email,) = smtp.messages()
    assert email["Subject"] == "Offer for Zoé"
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content()
    offer, faq = tracking.click_url(message.pk, 0), tracking.click_url(message.pk, 1)
    assert tracking.open_url(message.pk) in html
    assert offer in html
    assert faq in html
    assert "shop.example" not in html
    # The unsubscribe link is not rewritten: it must work without a redirect.
    assert tracking.unsubscribe_url(message.pk) in html
    assert "Hello Zoé" in text
    assert offer in text
    assert faq in text
    assert "shop.example" not in text
    assert "<p>" not in text


# --- SMS over HTTP ------------------------------------------------------------------------


def test_a_503_with_retry_after_is_retried_later_with_the_same_idempotency_key(provider):
    answers = iter([Answer(503, {"error": "busy"}, headers={"Retry-After": "2"})])
    provider.answer_with(lambda request: next(answers, Answer(200, {"id": "p-1"})))
    account = AccountFactory()
    customer = CustomerFactory(account=account, email="", phone="+33612345678", first_name="Al")
    before = timezone.now()

    campaign = campaign_start(account, channel="sms", message="Hi {{ first_name }}")

    message = one_message(account, campaign, customer)
    assert message.status == "queued"
    assert message.error == "HTTP 503: busy"
    assert message.next_attempt_at >= before + timedelta(seconds=2)
    assert len(provider.requests) == 1
    # Not due yet: a pass now sends nothing.
    assert send_pass(account).claimed == 0
    assert len(provider.requests) == 1

    make_due(account)
    send_pass(account)

    message = one_message(account, campaign, customer)
    assert (message.status, message.tries, message.provider_id) == ("sent", 2, "p-1")
    assert keys(provider) == [str(message.pk), str(message.pk)]
    for request in provider.requests:
        assert request.path == "/sms"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.json() == {
            "to": "+33612345678",
            "body": "Hi Al",
            "message_id": str(message.pk),
        }
    assert campaign_status(account, campaign) == "sent"
    assert_stats_match_the_ledger(account, campaign)


def test_a_retry_after_longer_than_the_backoff_is_honoured(provider):
    provider.answer_with(lambda request: Answer(429, {}, headers={"Retry-After": "120"}))
    account = AccountFactory()
    customer = CustomerFactory(account=account, email="", phone="+33612345678")
    before = timezone.now()

    campaign = campaign_start(account, channel="sms")

    message = one_message(account, campaign, customer)
    assert message.status == "queued"
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert message.next_attempt_at < before + timedelta(seconds=130)


def test_a_provider_400_fails_the_message_with_its_reason(provider):
    provider.answer_with(
        lambda request: (
            Answer(400, {"error": {"message": "Invalid destination number"}})
            if request.json()["to"].endswith("0000")
            else Answer(200, {"id": "p"})
        )
    )
    account = AccountFactory()
    bad = CustomerFactory(account=account, email="", phone="+33600000000")
    good = CustomerFactory(account=account, email="", phone="+33611111111")

    campaign = campaign_start(account, channel="sms")

    statuses = by_customer(account, campaign)
    assert statuses[bad.pk] == ("failed", "HTTP 400: Invalid destination number")
    assert statuses[good.pk] == ("sent", "")
    assert len(provider.requests) == 2  # a permanent failure is not retried
    make_due(account)
    assert send_pass(account).claimed == 0
    assert campaign_status(account, campaign) == "sent"


def test_a_provider_down_then_back_gets_everything_once(settings):
    down = socket.socket()
    down.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{down.getsockname()[1]}/sms"
    settings.SMS_HTTP_TOKEN = TOKEN
    account = AccountFactory()
    customers_bulk(account, 8)
    try:
        campaign = campaign_start(account, channel="sms")  # the first try
        make_due(account)
        send_pass(account)  # the second
    finally:
        down.close()
    messages = messages_of(account, campaign)
    assert {(m.status, m.tries) for m in messages} == {("queued", 2)}
    assert all(m.error.startswith("connection error") for m in messages)

    with stub_server(lambda request: Answer(200, {"id": "p"})) as back:
        settings.SMS_HTTP_URL = back.url + "/sms"
        make_due(account)
        send_pass(account)

    messages = messages_of(account, campaign)
    assert status_counts(account, campaign) == {"sent": 8}
    assert sorted(keys(back)) == sorted(str(m.pk) for m in messages)
    assert campaign_status(account, campaign) == "sent"
    assert_stats_match_the_ledger(account, campaign)


def test_a_message_fails_after_five_transient_tries(provider):
    provider.answer_with(lambda request: Answer(503, {"error": "overloaded"}))
    account = AccountFactory()
    customer = CustomerFactory(account=account, email="", phone="+33612345678")

    campaign = campaign_start(account, channel="sms")
    for _ in range(10):
        if not make_due(account):
            break
        send_pass(account)

    message = one_message(account, campaign, customer)
    assert message.status == "failed"
    assert message.tries == 5
    assert message.error == "Gave up after 5 tries: HTTP 503: overloaded"
    assert keys(provider) == [str(message.pk)] * 5
    assert campaign_status(account, campaign) == "sent"
    assert_stats_match_the_ledger(account, campaign)


# --- Paused accounts, the per-account rate -----------------------------------------------


def test_a_paused_account_holds_its_messages_and_sends_them_on_unpause(provider):
    account = AccountFactory()
    customers_bulk(account, 5)
    pause(account)

    campaign = campaign_start(account, channel="sms")

    assert status_counts(account, campaign) == {"queued": 5}
    assert send_pass(account).claimed == 0
    tasks.messages_reap()
    assert provider.requests == []
    assert status_counts(account, campaign) == {"queued": 5}

    unpause(account)
    tasks.messages_reap()  # beat's pass: the account has due messages and no pump

    assert status_counts(account, campaign) == {"sent": 5}
    assert len(set(keys(provider))) == len(provider.requests) == 5
    assert campaign_status(account, campaign) == "sent"


def test_a_pump_claims_no_more_than_the_accounts_rate_grants(mailoutbox):
    account = AccountFactory()
    customers_bulk(account, 12)
    set_rate(account, 5)
    pause(account)
    campaign = campaign_start(account)
    unpause(account)

    first = send_pass(account)
    second = send_pass(account)  # at once: the bucket is empty

    assert (first.claimed, first.again) == (5, 0.0)
    assert second.claimed <= 1  # what refilled meanwhile, at 5 a second
    assert 0 < second.again <= 1.0
    sent = first.claimed + second.claimed
    assert len(mailoutbox) == sent
    assert status_counts(account, campaign)["queued"] == 12 - sent


def test_a_pump_takes_tokens_only_for_the_messages_due(mailoutbox):
    account = AccountFactory()
    customers_bulk(account, 3, tags=["first"])
    customers_bulk(account, 3, start=10, tags=["second"])
    set_rate(account, 10)

    first = campaign_start(
        account, rule={"field": "tags", "operator": "contains", "value": "first"}
    )
    second = campaign_start(
        account, rule={"field": "tags", "operator": "contains", "value": "second"}
    )

    # Within the same second: 6 of the 10 tokens a second, none wasted.
    assert status_counts(account, first) == {"delivered": 3}
    assert status_counts(account, second) == {"delivered": 3}
    assert len(mailoutbox) == 6


def test_with_no_rate_a_pump_claims_a_whole_chunk(mailoutbox, settings):
    settings.MESSAGE_CHUNK_SIZE = 7
    account = AccountFactory()
    customers_bulk(account, 10)
    set_rate(account, 0)
    pause(account)
    campaign_start(account)
    unpause(account)

    assert send_pass(account).claimed == 7
    assert send_pass(account).claimed == 3
    assert len(mailoutbox) == 10


# --- Concurrency: launches, cancel ----------------------------------------------------------


def test_two_concurrent_launches_start_the_campaign_once(mailoutbox):
    account = AccountFactory()
    customers_bulk(account, 20)
    campaign = campaign_start(account, draft=True)
    barrier = threading.Barrier(2)
    outcomes = []

    def launch():
        try:
            with account_scope(account):
                draft = Campaign.objects.get(pk=campaign.pk)
                barrier.wait()
                services.campaign_launch(campaign=draft)
            outcomes.append("started")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["campaign_not_launchable", "started"]
    assert campaign_status(account, campaign) == "sent"
    messages = messages_of(account, campaign)
    assert len(messages) == 20
    assert len({m.customer_id for m in messages}) == 20
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f"c{n}@example.com" for n in range(1, 21))


def test_cancel_mid_send_skips_the_queue_and_lets_the_claimed_chunk_finish(
    provider, settings, monkeypatch
):
    settings.MESSAGE_CHUNK_SIZE = 4
    settings.SMS_HTTP_CONCURRENCY = 4
    monkeypatch.setattr(HttpSmsChannel, "PROBE", 0)  # the whole chunk in parallel at once
    release = threading.Event()
    in_flight = threading.Semaphore(0)

    def slow(request):
        in_flight.release()
        release.wait(20)
        return Answer(200, {"id": "p"})

    provider.answer_with(slow)
    account = AccountFactory()
    customers_bulk(account, 10)
    set_rate(account, 0)
    pause(account)
    campaign = campaign_start(account, channel="sms")
    unpause(account)

    def pump():
        try:
            send_pass(account)
        finally:
            connection.close()

    sender = threading.Thread(target=pump)
    sender.start()
    for _ in range(4):
        assert in_flight.acquire(timeout=10)
    with account_scope(account):
        services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
    assert status_counts(account, campaign) == {"sending": 4, "skipped": 6}
    release.set()
    sender.join(30)

    statuses = [(m.status, m.error) for m in messages_of(account, campaign)]
    assert sorted(statuses) == [("sent", "")] * 4 + [("skipped", "cancelled")] * 6
    assert send_pass(account).claimed == 0
    assert len(provider.requests) == len(set(keys(provider))) == 4
    assert campaign_status(account, campaign) == "cancelled"
    assert_stats_match_the_ledger(account, campaign)


# --- Stale and dead claims, scheduled campaigns ------------------------------------------


def _claim_as(account, campaign, claimant, *, age):
    """Every queued message of the campaign left `sending` by `claimant`, claimed `age`
    ago, as a worker that stopped mid-chunk leaves them."""
    with account_scope(account):
        return Message.objects.filter(campaign=campaign.pk, status="queued").update(
            status="sending",
            claim_token=uuid.uuid4(),
            claimed_by=claimant,
            claimed_at=timezone.now() - age,
            tries=1,
        )


def test_a_claim_older_than_the_lease_is_queued_again_by_the_reaper_and_sent_once(
    provider, settings
):
    settings.MESSAGE_CLAIM_LEASE_SECONDS = 300
    account = AccountFactory()
    customers_bulk(account, 3)
    fresh = AccountFactory()
    customers_bulk(fresh, 2)
    for each in (account, fresh):
        pause(each)
    stale_campaign = campaign_start(account, channel="sms")
    fresh_campaign = campaign_start(fresh, channel="sms")
    assert _claim_as(account, stale_campaign, "gone:1", age=timedelta(seconds=301)) == 3
    assert _claim_as(fresh, fresh_campaign, "busy:1", age=timedelta(seconds=200)) == 2
    for each in (account, fresh):
        unpause(each)

    reaped = tasks.messages_reap()

    assert reaped["reclaimed"] == 3
    assert status_counts(account, stale_campaign) == {"sent": 3}
    assert [m.tries for m in messages_of(account, stale_campaign)] == [2, 2, 2]
    assert len(provider.requests) == len(set(keys(provider))) == 3
    assert campaign_status(account, stale_campaign) == "sent"
    # A claim within its lease belongs to its (slow) worker still.
    assert status_counts(fresh, fresh_campaign) == {"sending": 2}


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_starting_worker_requeues_the_claims_of_dead_workers_of_its_host(provider):
    host = socket.gethostname()
    account = AccountFactory()
    customers_bulk(account, 2)
    alive, elsewhere, idle = AccountFactory(), AccountFactory(), AccountFactory()
    customers_bulk(alive, 1)
    customers_bulk(elsewhere, 1)
    customers_bulk(idle, 2)
    for each in (account, alive, elsewhere, idle):
        pause(each)
    dead_campaign = campaign_start(account, channel="sms")
    alive_campaign = campaign_start(alive, channel="sms")
    elsewhere_campaign = campaign_start(elsewhere, channel="sms")
    # Queued and due, but its pump was lost: nothing is claimed.
    idle_campaign = campaign_start(idle, channel="sms")
    _claim_as(account, dead_campaign, f"{host}:{_dead_pid()}", age=timedelta(seconds=5))
    _claim_as(alive, alive_campaign, f"{host}:{os.getpid()}", age=timedelta(seconds=5))
    _claim_as(elsewhere, elsewhere_campaign, "another-host:1", age=timedelta(seconds=5))
    for each in (account, alive, elsewhere, idle):
        unpause(each)

    tasks._reclaim_on_start()  # what worker_ready runs

    assert status_counts(account, dead_campaign) == {"sent": 2}
    assert status_counts(idle, idle_campaign) == {"sent": 2}
    assert status_counts(alive, alive_campaign) == {"sending": 1}
    assert status_counts(elsewhere, elsewhere_campaign) == {"sending": 1}
    assert len(provider.requests) == len(set(keys(provider))) == 4


def test_a_scheduled_campaign_is_started_by_beat_once_its_time_has_come(mailoutbox):
    account = AccountFactory()
    customers_bulk(account, 3)
    later = timezone.now() + timedelta(hours=1)
    due = campaign_start(account, delivery_mode="scheduled", scheduled_at=later)
    not_yet = campaign_start(account, delivery_mode="scheduled", scheduled_at=later)
    assert campaign_status(account, due) == "scheduled"
    with account_scope(account):
        Campaign.objects.filter(pk=due.pk).update(
            scheduled_at=timezone.now() - timedelta(seconds=30)
        )

    assert tasks.campaigns_start_due() == 1
    assert tasks.campaigns_start_due() == 0

    assert campaign_status(account, due) == "sent"
    assert status_counts(account, due) == {"delivered": 3}
    assert campaign_status(account, not_yet) == "scheduled"
    assert messages_of(account, not_yet) == []
    assert len(mailoutbox) == 3
