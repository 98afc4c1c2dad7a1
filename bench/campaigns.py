"""Benchmark: campaign delivery through the ledger, against one Celery task per message.

    .venv/bin/python bench/campaigns.py [--customers 100000] [--naive 5000]
                                        [--concurrency 2] [--skip-seed]

In its own database (`crm_bench_campaigns` on DATABASE_URL's server, created, migrated and
seeded with --customers demo customers on the first run, all made reachable: opted in,
active), account `bench-campaigns` with no send rate limit (0), a real Celery worker
process with --concurrency pool processes (prefork), and in one run:

1. email: a campaign to every customer through the product's delivery path, the mail
   backend building each message in full and counting it (bench/mail.py); then the
   naive baseline (bench/naive_tasks.py): --naive messages, one task each, same render
   and send;
2. SMS over HTTP: the same through the `http` provider to a local keep-alive stub
   (bench/sms_stub.py, its own process, counting requests and distinct
   Idempotency-Keys); then its naive baseline.

Prints, per run, messages/s from launch to the last mark, launch to first send, and
the worker processes' RSS (first sample, peak, last), and the ratio to the baseline.
Aims: email >= 5,000 msg/s with 2 worker processes, SMS over HTTP >= 1,500/s, each
>= 10x its baseline; launch to first send < 1 s; worker RSS flat (< 200 MB)."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PY, ROOT, bench_database, seeded_account

DATABASE = "crm_bench_campaigns"
ACCOUNT = "bench-campaigns"
SETTINGS = "bench.campaign_settings"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class RssSampler(threading.Thread):
    """Samples the RSS of the worker's pool processes every 0.5 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: dict[int, list[float]] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            for pid in [self.pid, *children(self.pid)]:
                self.samples.setdefault(pid, []).append(rss_mb(pid))

    def summary(self) -> str:
        parts = []
        for pid, values in self.samples.items():
            values = [v for v in values if v]
            if values:
                kind = "main" if pid == self.pid else "pool"
                parts.append(f"{kind} {values[0]:.0f}/{max(values):.0f}/{values[-1]:.0f}")
        return "RSS MB first/peak/last: " + ", ".join(parts)


class Worker:
    def __init__(self, env: dict, concurrency: int) -> None:
        self.process = subprocess.Popen(
            [PY, "-m", "celery", "-A", "crm_project", "worker", "--pool", "prefork",
             "--concurrency", str(concurrency), "-I", "bench.naive_tasks",
             "--without-gossip", "--without-mingle", "--loglevel", "warning"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.sampler = RssSampler(self.process.pid)

    def wait_ready(self, app) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if app.control.ping(timeout=0.5):
                self.sampler.start()
                return
        raise SystemExit("The Celery worker did not start.")

    def stop(self) -> None:
        self.sampler.stopped.set()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def prepare(args: argparse.Namespace) -> dict:
    env, _url = bench_database(DATABASE, DJANGO_SETTINGS_MODULE=SETTINGS)
    if not args.skip_seed:
        seeded_account(env, ACCOUNT, customers=args.customers, orders=0)
    return env


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def make_reachable(account) -> None:
    """Every customer opted in and active, the account unlimited: the audience is the
    whole table (the skips have their own tests)."""
    from django.db import connection

    from accounts.models import Account
    from crm_project.tenancy import account_scope

    Account.objects.filter(pk=account.pk).update(send_rate_per_second=0, status="active")
    with account_scope(account), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET email_opt_in = true, sms_opt_in = true, "
            "status = 'active', unsubscribed_at = NULL WHERE NOT (email_opt_in AND "
            "sms_opt_in AND status = 'active')"
        )


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise SystemExit("Timed out waiting.")


def run_ledger(account, channel: str) -> dict:
    """A campaign to every customer; messages/s from launch to its last mark."""
    from django.db.models import Count, Max, Min, Q
    from django.utils import timezone

    from campaigns import services
    from campaigns.models import Campaign, Message
    from crm_project.tenancy import account_scope
    from segments.rules import validate_rule

    rule = validate_rule({"field": "lifetime_spend", "operator": ">=", "value": 0})
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name=f"Bench {channel} {time.time():.0f}",
            channel=channel,
            subject="News for {{ first_name|default:'you' }}",
            message="Hello {{ first_name|default:'there' }}, see https://example.com/offer "
            "and {{ metadata.loyalty_tier }} perks. Stop: {{ unsubscribe_url }}",
            rules=rule,
            draft=True,
        )
    started = timezone.now()
    with account_scope(account):
        services.campaign_launch(campaign=campaign)

    def first_send():
        with account_scope(account):
            return Message.objects.filter(campaign=campaign.pk, sent_at__isnull=False).exists()

    wait_for(first_send, 120, 0.02)

    def done():
        with account_scope(account):
            return Campaign.objects.filter(pk=campaign.pk, status="sent").exists()

    wait_for(done, 1800, 0.2)
    with account_scope(account):
        figures = Message.objects.filter(campaign=campaign.pk).aggregate(
            total=Count("id"),
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            first=Min("sent_at"),
            last=Max("sent_at"),
            materialized=Max("campaign__materialized_at"),
        )
    elapsed = (figures["last"] - started).total_seconds()
    return {
        "messages": figures["sent"],
        "audience": figures["total"],
        "seconds": elapsed,
        "rate": figures["sent"] / elapsed,
        "first_send": (figures["first"] - started).total_seconds(),
    }


def run_naive(account, channel: str, count: int) -> dict:
    """`count` messages, one Celery task each, enqueued from here (as naive code would)."""
    from django.db.models import Max
    from django.utils import timezone

    from bench.naive_tasks import naive_send
    from campaigns import services
    from campaigns.models import Message
    from crm_project.tenancy import account_scope
    from customers.models import Customer
    from segments.rules import validate_rule

    rule = validate_rule({"field": "lifetime_spend", "operator": ">=", "value": 0})
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name=f"Naive {channel} {time.time():.0f}",
            channel=channel,
            subject="News for {{ first_name|default:'you' }}",
            message="Hello {{ first_name|default:'there' }}, see https://example.com/offer "
            "and {{ metadata.loyalty_tier }} perks. Stop: {{ unsubscribe_url }}",
            rules=rule,
            draft=True,
        )
        customer_ids = list(Customer.objects.order_by("id").values_list("pk", flat=True)[:count])
    started = timezone.now()
    for customer_id in customer_ids:
        naive_send.delay_on_commit_for(account.pk, str(campaign.pk), str(customer_id))

    def done():
        with account_scope(account):
            return Message.objects.filter(
                campaign=campaign.pk, sent_at__isnull=False
            ).count() >= len(customer_ids)

    wait_for(done, 1800, 0.2)
    with account_scope(account):
        last = Message.objects.filter(campaign=campaign.pk).aggregate(last=Max("sent_at"))["last"]
    elapsed = (last - started).total_seconds()
    return {"messages": len(customer_ids), "seconds": elapsed, "rate": len(customer_ids) / elapsed}


def report(name: str, ledger: dict, naive: dict, worker: Worker, aim: float) -> None:
    ratio = ledger["rate"] / naive["rate"]
    print(f"\n== {name}")
    print(
        f"ledger: {ledger['messages']:,} of {ledger['audience']:,} recipients sent in "
        f"{ledger['seconds']:.2f} s = {ledger['rate']:,.0f} msg/s (aim >= {aim:,.0f}); "
        f"launch to first send {ledger['first_send']:.2f} s (aim < 1 s)"
    )
    print(
        f"naive:  {naive['messages']:,} sent in {naive['seconds']:.2f} s = "
        f"{naive['rate']:,.0f} msg/s; ledger / naive = {ratio:.1f}x (aim >= 10x)"
    )
    print(worker.sampler.summary() + " (aim: flat, < 200 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--only", choices=["email", "sms"])
    args = parser.parse_args()
    env = prepare(args)
    setup_django(env)

    import redis
    from django.conf import settings

    from accounts.models import Account
    from bench.mail import COUNTER
    from crm_project.celery import app

    account = Account.objects.get(slug=ACCOUNT)
    make_reachable(account)
    app.control.purge()
    counters = redis.Redis.from_url(settings.REDIS_URL)

    if args.only in (None, "email"):
        counters.delete(COUNTER)
        worker = Worker(env, args.concurrency)
        try:
            worker.wait_ready(app)
            ledger = run_ledger(account, "email")
            naive = run_naive(account, "email", args.naive)
        finally:
            worker.stop()
        report("email (counting mail backend)", ledger, naive, worker, 5_000)
        print(f"mail backend counted {int(counters.get(COUNTER) or 0):,} messages")

    if args.only in (None, "sms"):
        port = free_port()
        stub = subprocess.Popen(
            [PY, str(ROOT / "bench" / "sms_stub.py"), str(port)], stdout=subprocess.PIPE, text=True
        )
        stub.stdout.readline()
        sms_env = {
            **env,
            "SMS_PROVIDER": "http",
            "SMS_HTTP_URL": f"http://127.0.0.1:{port}/sms",
            "SMS_HTTP_TOKEN": "bench",
        }
        worker = Worker(sms_env, args.concurrency)
        try:
            worker.wait_ready(app)
            ledger = run_ledger(account, "sms")
            naive = run_naive(account, "sms", args.naive)
        finally:
            worker.stop()
            import httpx

            stats = httpx.get(f"http://127.0.0.1:{port}/stats").json()
            stub.terminate()
        report("SMS over HTTP (local keep-alive stub)", ledger, naive, worker, 1_500)
        print(f"stub: {stats['requests']:,} requests, {stats['distinct']:,} distinct keys")


if __name__ == "__main__":
    main()
