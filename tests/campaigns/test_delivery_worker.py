"""The delivery path through real Celery worker processes (tests/conftest.py's
start_celery_worker), against the test database, the real Redis broker and local
providers: a campaign reaches `sent`, and a worker killed with SIGKILL at 30% of a
2,000-message SMS campaign loses nothing and sends nothing twice."""

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import Account
from campaigns.models import Message
from crm_project.tenancy import account_scope
from tests.campaigns.ledger import (
    assert_stats_match_the_ledger,
    campaign_start,
    campaign_status,
    customers_bulk,
    status_counts,
)
from tests.campaigns.smtp import smtp_server
from tests.factories import AccountFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

TOKEN = "sms-test-token"


def wait_until(check, seconds=40.0, every=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def unlimited_account():
    account = AccountFactory()
    Account.objects.filter(pk=account.pk).update(send_rate_per_second=0)
    return account


class CountingProvider:
    """A local SMS provider: a threaded keep-alive HTTP server that answers 200 after
    `delay` seconds and, as a real provider does, accepts each Idempotency-Key once (a
    resend of a key is answered as the first was, and counted)."""

    def __init__(self, delay):
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = Counter()  # Idempotency-Key -> requests received
        self.first = {}  # Idempotency-Key -> the body it was accepted with
        self.bodies = defaultdict(set)  # Idempotency-Key -> every body sent with it
        self.problems = []

    def receive(self, headers, body):
        key = headers.get("Idempotency-Key", "")
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            self.problems.append(f"bad Authorization on {key}")
        if set(body) != {"to", "body", "message_id"} or body["message_id"] != key:
            self.problems.append(f"Idempotency-Key {key}: body {body}")
        with self.lock:
            self.requests[key] += 1
            self.first.setdefault(key, body)
            self.bodies[key].add((body.get("to"), body.get("body"), body.get("message_id")))
        time.sleep(self.delay)
        return {"id": f"prov-{key}"}

    def delivered(self):
        with self.lock:
            return len(self.first)

    @contextmanager
    def serving(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # One write per answer and no Nagle: no 40 ms delayed-ACK stall per request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self):
                with suppress(ConnectionError):  # the killed worker's connections
                    super().handle()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                answer = provider.receive(self.headers, json.loads(self.rfile.read(length)))
                payload = json.dumps(answer).encode()
                self.wfile.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def test_a_campaign_sent_through_a_real_worker_reaches_sent(start_celery_worker):
    with smtp_server() as smtp:
        start_celery_worker(EMAIL_URL=smtp.url)
        account = unlimited_account()
        customers_bulk(account, 12)
        customers_bulk(account, 1, start=100, email_opt_in=False)
        campaign = campaign_start(
            account, name="Spring", message="<p>Hi {{ first_name }}</p>", subject="Spring"
        )

        assert wait_until(lambda: campaign_status(account, campaign) == "sent")
        assert sorted(smtp.recipients()) == sorted(f"c{n}@example.com" for n in range(1, 13))
    assert status_counts(account, campaign) == {"delivered": 12, "skipped": 1}
    stats = assert_stats_match_the_ledger(account, campaign)
    assert (stats["audience_size"], stats["sent"], stats["delivered"]) == (13, 12, 12)


SMS_CAMPAIGN_SIZE = 2000


def test_a_worker_killed_at_30_percent_of_an_sms_campaign_loses_and_duplicates_nothing(
    start_celery_worker,
):
    provider = CountingProvider(delay=0.003)
    with provider.serving() as url:
        env = {
            "SMS_PROVIDER": "http",
            "SMS_HTTP_URL": url + "/sms",
            "SMS_HTTP_TOKEN": TOKEN,
            "SMS_HTTP_CONCURRENCY": "4",
            # 30% (600) falls mid-chunk: the kill leaves a chunk partly sent.
            "MESSAGE_CHUNK_SIZE": "80",
        }
        first = start_celery_worker(**env)
        account = unlimited_account()
        customers_bulk(account, SMS_CAMPAIGN_SIZE)
        campaign = campaign_start(account, channel="sms", message="Hi {{ first_name }}!")

        assert wait_until(lambda: provider.delivered() >= 0.3 * SMS_CAMPAIGN_SIZE, every=0.005)
        first.kill()  # SIGKILL: no shutdown, its claims stay `sending`
        first.wait(timeout=10)
        at_kill = provider.delivered()
        with account_scope(account):
            in_flight = Message.objects.filter(campaign=campaign.pk, status="sending").count()
        assert at_kill < SMS_CAMPAIGN_SIZE, "the campaign finished before the kill"

        start_celery_worker(**env)
        assert wait_until(lambda: campaign_status(account, campaign) == "sent", seconds=45), (
            f"{provider.delivered()} delivered, {status_counts(account, campaign)}"
        )

    assert provider.problems == []
    with account_scope(account):
        messages = list(
            Message.objects.filter(campaign=campaign.pk).values_list("id", "customer_id", "address")
        )
    ids = {str(message_id) for message_id, _, _ in messages}
    # 0 lost: every message of the campaign reached the provider.
    assert len(messages) == SMS_CAMPAIGN_SIZE
    assert set(provider.first) == ids
    # 0 duplicates: each customer has one message, each phone got one message id, and a
    # key sent twice was a resend of the very same message (the provider dropped it).
    assert len({customer for _, customer, _ in messages}) == SMS_CAMPAIGN_SIZE
    ids_by_phone = defaultdict(set)
    for key, body in provider.first.items():
        ids_by_phone[body["to"]].add(key)
    assert all(len(keys) == 1 for keys in ids_by_phone.values())
    assert len(ids_by_phone) == SMS_CAMPAIGN_SIZE
    assert all(len(bodies) == 1 for bodies in provider.bodies.values())
    resent = [key for key, count in provider.requests.items() if count > 1]
    # Only what the killed worker had claimed can have gone out twice.
    assert len(resent) <= in_flight
    # Stats exact.
    assert status_counts(account, campaign) == {"sent": SMS_CAMPAIGN_SIZE}
    stats = assert_stats_match_the_ledger(account, campaign)
    assert (stats["sent"], stats["queued"], stats["failed"]) == (SMS_CAMPAIGN_SIZE, 0, 0)
