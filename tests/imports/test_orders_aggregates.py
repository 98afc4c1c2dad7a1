"""Customer aggregates during an orders import that spans chunks: a customer is
refreshed once, in the chunk holding the last order naming it, and the aggregates are
exact whenever the job ends: finished, cancelled, failed, interrupted, resumed after a
killed worker, or given up by the reaper."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

import imports.orders
import orders.services
from crm_project.tenancy import account_scope
from customers.models import Customer
from imports import jobs, services
from imports import tasks as import_tasks
from imports.models import ImportJob
from orders.models import Order
from tests.factories import CustomerFactory
from tests.imports.conftest import WorkerKilled, csv_bytes, fresh, run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(account):
    return [
        CustomerFactory(account=account, external_id=f"C{n}", email=f"c{n}@example.com")
        for n in (1, 2, 3)
    ]


@pytest.fixture
def refreshed(monkeypatch):
    """The customer ids of each aggregate refresh the orders applier makes."""
    calls: list[list[str]] = []
    original = orders.services.customer_aggregates_refresh

    def spy(*, account_id, customer_ids):
        calls.append(sorted(str(pk) for pk in customer_ids or []))
        return original(account_id=account_id, customer_ids=customer_ids)

    monkeypatch.setattr(imports.orders, "customer_aggregates_refresh", spy)
    return calls


def orders_file(n=30):
    """n orders, customers C1, C2, C3 in turn (by external id, or by email for every
    fifth order), the ninth cancelled."""
    rows = [
        ["order_id", "customer_external_id", "customer_email", "ordered_at", "status", "amount"]
    ]
    for i in range(1, n + 1):
        who = f"C{i % 3 + 1}"
        by_email = i % 5 == 0
        rows.append(
            [
                f"O-{i:03d}",
                "" if by_email else who,
                f"c{i % 3 + 1}@example.com" if by_email else "",
                f"2024-01-{i % 28 + 1:02d} 10:00",
                "cancelled" if i == 9 else "completed",
                f"{i}.50",
            ]
        )
    return csv_bytes(rows)


def assert_exact(account):
    """Every customer's stored aggregates are what its counted orders make."""
    with account_scope(account):
        for c in Customer.objects.all():
            counted = Order.objects.filter(customer=c).exclude(status__in=["cancelled", "refunded"])
            agg = counted.aggregate(
                total=Sum("amount"), n=Count("id"), first=Min("ordered_at"), last=Max("ordered_at")
            )
            assert (c.lifetime_spend, c.total_orders) == (agg["total"] or Decimal(0), agg["n"])
            assert (c.first_order_date, c.last_order_date) == (agg["first"], agg["last"])


def only_job(account):
    with account_scope(account):
        return ImportJob.objects.get(account=account)


def age_heartbeat(account, job):
    with account_scope(account):
        ImportJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=5)
        )


def test_each_customer_is_refreshed_once_in_the_chunk_of_its_last_order(
    account, people, small_chunks, refreshed
):
    job = run_import(account, "orders", orders_file())

    assert (job.status, job.created, job.failed) == ("succeeded", 30, 0)
    assert_exact(account)
    ids = [pk for call in refreshed for pk in call]
    assert sorted(ids) == sorted(str(c.pk) for c in people)
    with account_scope(account):
        assert Customer.objects.get(pk=people[0].pk).total_orders == 9  # 3, 6, ... but 9
        assert Customer.objects.get(pk=people[1].pk).total_orders == 10  # 1, 4, ..., 28


def test_a_cancelled_import_leaves_exact_aggregates(account, people, small_chunks):
    def cancel_in_first_chunk(lo, hi):
        if lo == 1:
            ImportJob.objects.filter(account=account).update(cancel_requested=True)

    job = run_import(account, "orders", orders_file(), chunk_hook=cancel_in_first_chunk)

    assert (job.status, job.created) == ("cancelled", 10)
    assert_exact(account)
    with account_scope(account):
        assert Customer.objects.filter(total_orders__gt=0).count() == 3


def test_an_import_failing_on_an_internal_error_leaves_exact_aggregates(
    account, people, small_chunks
):
    def boom(lo, hi):
        if lo == 11:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_import(account, "orders", orders_file(), chunk_hook=boom)

    assert only_job(account).status == "failed"
    assert_exact(account)


def test_an_interrupted_command_leaves_exact_aggregates(account, people, small_chunks):
    def interrupt(lo, hi):
        if lo == 21:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(account, "orders", orders_file(), chunk_hook=interrupt)
    with account_scope(account):
        services.import_job_interrupt(job=only_job(account))

    assert only_job(account).created == 20
    assert_exact(account)


def test_a_resumed_import_ends_with_exact_aggregates(account, people, small_chunks):
    def die(lo, hi):
        if lo == 11:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "orders", orders_file(), chunk_hook=die)
    job = only_job(account)
    age_heartbeat(account, job)

    jobs.import_job_run(account_id=account.pk, job_id=job.pk)

    job = fresh(account, job)
    assert (job.status, job.created, job.attempts) == ("succeeded", 30, 2)
    assert_exact(account)


def test_the_reaper_giving_up_an_import_leaves_exact_aggregates(account, people, small_chunks):
    def die(lo, hi):
        if lo == 21:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "orders", orders_file(), chunk_hook=die)
    job = only_job(account)
    with account_scope(account):
        ImportJob.objects.filter(pk=job.pk).update(attempts=jobs.MAX_ATTEMPTS)
    age_heartbeat(account, job)

    assert import_tasks.import_jobs_reap()["failed"] == 1
    assert fresh(account, job).status == "failed"
    assert_exact(account)


def test_after_a_resume_a_customer_whose_last_order_fails_is_still_refreshed(
    account, people, small_chunks
):
    """Dan's first order is committed before the worker dies, waiting for his last
    one; the resumed run never writes an order of his (the last one is bad), and still
    refreshes him in the chunk of that last order."""
    dan = CustomerFactory(account=account, external_id="D1", email="dan@example.com")
    header = ["order_id", "customer_external_id", "ordered_at", "amount"]
    rows = [header, ["O-D1", "D1", "2024-02-01", "12.00"]]
    rows += [[f"O-{i:03d}", "C1", "2024-02-02", "1.00"] for i in range(2, 31)]
    rows += [["O-D2", "D1", "2024-02-03", "not a number"]]

    def die(lo, hi):
        if lo == 11:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "orders", csv_bytes(rows), chunk_hook=die)
    job = only_job(account)
    age_heartbeat(account, job)
    jobs.import_job_run(account_id=account.pk, job_id=job.pk)

    assert (fresh(account, job).created, fresh(account, job).failed) == (30, 1)
    assert_exact(account)
    with account_scope(account):
        assert Customer.objects.get(pk=dan.pk).lifetime_spend == Decimal("12.00")
