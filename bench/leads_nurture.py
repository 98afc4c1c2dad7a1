"""Benchmark: nurturing's beat cycle through the ledger, against a campaign's delivery.

    .venv/bin/python bench/leads_nurture.py [--leads 100000] [--concurrency 2] [--no-baseline]

In its own database (`crm_bench_nurture` on DATABASE_URL's server, the counting mail
backend of bench/campaign_settings.py), account `bench-nurture` with no send rate limit:

1. --leads leads (names, emails, a third with an attribute), all enrolled in the
   default sequence (an email step with the lead's fields, `{{ attributes.KEY }}` and
   `{{ account.name }}`, then a second step a day later), their first step made due;
2. one beat cycle: `leads.tasks.nurture_write_due_all` sent to a real Celery worker
   (--concurrency prefork processes), which sends the account's `nurture_write_due`,
   which writes every due step to the ledger in batches; the ledger's pumps send them.
   Timed from the beat to the last message sent: the write alone (beat to the last
   lead moved on) and the whole cycle (messages/s);
3. the baseline in the same run: a campaign to as many customers (bench/campaigns.py's
   run_ledger) through the same delivery path and worker.

Aim: the nurture cycle at the campaign ledger's rate (ratio ~1)."""

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.campaigns import Worker, make_reachable, run_ledger, setup_django, wait_for
from bench.common import bench_database, seeded_account

DATABASE = "crm_bench_nurture"
ACCOUNT = "bench-nurture"
SETTINGS = "bench.campaign_settings"

STEP_1 = (
    "Hello {{ first_name|default:'there' }}, {{ account.name }} has news for "
    "{{ company|default:'you' }}{% if attributes.plan %} on the {{ attributes.plan }} "
    "plan{% endif %}: https://example.com/offer"
)

_LEADS_SQL = """
INSERT INTO leads_lead (
    id, account_id, external_id, source_id, first_name, last_name, email, phone, company,
    source, status, score, notes, street, city, state, zip, jornaya_lead_id,
    trusted_form_id, attributes, nurture_state, created_at, updated_at
)
SELECT crm_uuid7(), %(account)s, 'nl-' || g, '', 'Lead' || g, 'Bench', 'lead' || g ||
       '@bench.example', '', 'Company ' || (g %% 997), 'website', 'new', g %% 101, '', '',
       '', '', '', '', '',
       CASE WHEN g %% 3 = 0 THEN '{"plan": "gold"}'::jsonb ELSE '{}'::jsonb END,
       'idle', now(), now()
  FROM generate_series(1, %(count)s) AS g
"""


def prepare_leads(account, count: int) -> None:
    """`count` leads in the account (made once), enrolled afresh, their first step due."""
    from django.db import connection
    from django.utils import timezone

    from crm_project.tenancy import account_scope
    from leads import selectors, services
    from leads.models import Lead, LeadNurture, NurtureSequence

    with account_scope(account):
        have = Lead.objects.count()
        if have < count:
            Lead.objects.all().delete()
            with connection.cursor() as cursor:
                cursor.execute(_LEADS_SQL, {"account": account.pk, "count": count})
                cursor.execute("ANALYZE leads_lead")
        sequence = selectors.nurture_default_sequence(account)
        if sequence is None:
            sequence = services.sequence_create(
                account=account,
                name="Bench welcome",
                is_default=True,
                steps=[
                    {"channel": "email", "delay_hours": 1, "subject": "Hi", "message": STEP_1},
                    {"channel": "email", "delay_hours": 24, "subject": "Again", "message": "Hi"},
                ],
            )
        assert isinstance(sequence, NurtureSequence)
        Lead.objects.update(nurture_state="idle")
        started = services.nurture_start(account=account)
        assert started.enrolled == count, started
        # The first step was an hour away: make it due now.
        LeadNurture.objects.filter(next_at__isnull=False).update(
            next_at=timezone.now() - timezone.timedelta(seconds=1)
        )


def run_cycle(account, count: int) -> dict:
    from django.db.models import Count, Max, Min, Q
    from django.utils import timezone

    from campaigns.models import Message
    from crm_project.tenancy import account_scope
    from leads.models import LeadNurture
    from leads.tasks import nurture_write_due_all

    with account_scope(account):
        Message.objects.filter(source="nurture").delete()
    started = timezone.now()
    nurture_write_due_all.delay()

    def written():
        with account_scope(account):
            return not LeadNurture.objects.filter(step=0, next_at__isnull=False).exists()

    wait_for(written, 1800, 0.1)
    written_at = timezone.now()

    def sent():
        with account_scope(account):
            return Message.objects.filter(source="nurture", sent_at__isnull=False).count() >= count

    wait_for(sent, 1800, 0.2)
    with account_scope(account):
        figures = Message.objects.filter(source="nurture").aggregate(
            total=Count("id"),
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            first=Min("sent_at"),
            last=Max("sent_at"),
        )
    elapsed = (figures["last"] - started).total_seconds()
    return {
        "messages": figures["sent"],
        "written": figures["total"],
        "write_seconds": (written_at - started).total_seconds(),
        "seconds": elapsed,
        "rate": figures["sent"] / elapsed,
        "first_send": (figures["first"] - started).total_seconds(),
    }


def run(leads: int = 100_000, concurrency: int = 2, baseline: bool = True) -> dict:
    env, _url = bench_database(DATABASE, DJANGO_SETTINGS_MODULE=SETTINGS)
    if baseline:
        seeded_account(env, ACCOUNT, customers=leads, orders=0)
    else:
        from bench.common import manage

        with contextlib.suppress(subprocess.CalledProcessError):  # made by an earlier run
            manage("create_account", ACCOUNT, "--name", "Bench Nurture", env=env)
    setup_django(env)

    from accounts.models import Account
    from crm_project.celery import app

    account = Account.objects.get(slug=ACCOUNT)
    make_reachable(account)
    prepare_leads(account, leads)
    app.control.purge()
    worker = Worker(env, concurrency)
    try:
        worker.wait_ready(app)
        nurture = run_cycle(account, leads)
        campaign = run_ledger(account, "email") if baseline else None
    finally:
        worker.stop()
    print(f"\n== nurture: one beat cycle, {leads:,} leads due their first step")
    print(
        f"written: {nurture['written']:,} messages, beat to the last lead moved on "
        f"{nurture['write_seconds']:.2f} s ({nurture['written'] / nurture['write_seconds']:,.0f}"
        f" steps/s); beat to first send {nurture['first_send']:.2f} s"
    )
    print(
        f"sent: {nurture['messages']:,} in {nurture['seconds']:.2f} s = "
        f"{nurture['rate']:,.0f} msg/s"
    )
    if campaign is not None:
        print(
            f"baseline, a campaign to {campaign['audience']:,} customers: "
            f"{campaign['rate']:,.0f} msg/s; nurture / campaign = "
            f"{nurture['rate'] / campaign['rate']:.2f} (aim ~1)"
        )
    print(worker.sampler.summary())
    return {"nurture": nurture, "campaign": campaign}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    run(args.leads, args.concurrency, not args.no_baseline)
    print(f"(bench ran {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
