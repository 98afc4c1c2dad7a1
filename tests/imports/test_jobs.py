"""Jobs: chunked progress, cancel between chunks (keeping what was committed), a worker
that dies mid-import (the job resumes from its checkpoint, or fails saying what was
committed), and the periodic reaper."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from crm_project.tenancy import account_scope
from imports import jobs, runner, services
from imports import tasks as import_tasks
from imports.applier import FlatApplier
from imports.models import ImportJob
from tests.factories import ImportJobFactory
from tests.imports.conftest import (
    WorkerKilled,
    csv_bytes,
    customers,
    fresh,
    report_rows,
    run_import,
)

pytestmark = pytest.mark.django_db


def rows(n, *, bad_every=0):
    data = [["external_id", "email"]]
    for i in range(1, n + 1):
        email = "broken" if bad_every and i % bad_every == 0 else f"c{i}@example.com"
        data.append([f"C{i}", email])
    return csv_bytes(data)


def test_processed_rows_advance_chunk_by_chunk(account, small_chunks):
    seen = []
    job = ImportJobFactory(account=account, content=rows(35))
    jobs.import_job_run(
        account_id=account.pk,
        job_id=job.pk,
        on_progress=lambda j: seen.append((j.phase, j.processed_rows, j.heartbeat_at)),
    )

    applied = [p for phase, p, _ in seen if phase == "applying"]
    assert applied[-4:] == [10, 20, 30, 35]
    assert all(beat is not None for *_, beat in seen)
    assert fresh(account, job).status == "succeeded"


def test_cancel_stops_between_chunks_and_keeps_what_was_committed(account, small_chunks):
    def cancel_during_first_chunk(lo, hi):
        if lo == 1:
            ImportJob.objects.filter(account=account).update(cancel_requested=True)

    job = run_import(account, "customers", rows(35), chunk_hook=cancel_during_first_chunk)

    assert job.status == "cancelled"
    assert (job.processed_rows, job.created) == (10, 10)
    assert len(customers(account)) == 10
    assert "Cancelled after 10 of 35 rows" in job.message
    assert "they are kept" in job.message
    assert job.finished_at is not None


def test_a_killed_worker_leaves_a_job_that_resumes_from_its_checkpoint(account, small_chunks):
    def die_in_third_chunk(lo, hi):
        if lo == 21:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "customers", rows(35, bad_every=7), chunk_hook=die_in_third_chunk)
    job = _only_job(account)
    assert (job.status, job.checkpoint, job.processed_rows) == ("running", 20, 20)
    assert (job.created, job.failed) == (18, 2)
    assert len(customers(account)) == 18

    # Not stale yet: a second delivery of the task leaves it alone.
    assert jobs.import_job_run(account_id=account.pk, job_id=job.pk) is None

    _age_heartbeat(account, job, minutes=5)
    jobs.import_job_run(account_id=account.pk, job_id=job.pk)

    job = fresh(account, job)
    assert (job.status, job.attempts, job.processed_rows) == ("succeeded", 2, 35)
    assert (job.created, job.failed) == (30, 5)
    assert len(customers(account)) == 30
    # The error report has each failed row once, in line order.
    assert [int(r["line"]) for r in report_rows(job)] == [8, 15, 22, 29, 36]
    assert job.error_count == 5
    assert len(job.errors) == 5


def test_the_reaper_resumes_a_stalled_job(
    account, small_chunks, django_capture_on_commit_callbacks
):
    def die(lo, hi):
        if lo == 11:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "customers", rows(25), chunk_hook=die)
    job = _only_job(account)
    _age_heartbeat(account, job, minutes=5)

    # Celery is eager in tests: the task runs when the (test's) transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        outcome = import_tasks.import_jobs_reap()

    assert outcome == {"resumed": 1, "failed": 0, "requeued": 0}
    job = fresh(account, job)
    assert (job.status, job.created) == ("succeeded", 25)


def test_the_reaper_fails_a_job_that_stopped_too_often_saying_what_was_kept(account):
    job = run_import(account, "customers", rows(5))
    with account_scope(account):
        ImportJob.objects.filter(pk=job.pk).update(
            status="running", attempts=jobs.MAX_ATTEMPTS, finished_at=None
        )
    _age_heartbeat(account, job, minutes=5)

    outcome = import_tasks.import_jobs_reap()

    assert outcome["failed"] == 1
    job = fresh(account, job)
    assert job.status == "failed"
    assert "stopped 3 times" in job.message
    assert "5 of 5 rows were committed" in job.message
    assert "Upload the file again" in job.message


def test_an_internal_error_fails_the_job_clearly(account, small_chunks):
    def boom(lo, hi):
        if lo == 11:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_import(account, "customers", rows(25), chunk_hook=boom)

    job = _only_job(account)
    assert job.status == "failed"
    assert "internal error (RuntimeError) after 10 rows" in job.message


def test_a_job_runs_once_even_if_its_task_is_delivered_twice(account):
    job = run_import(account, "customers", rows(3))

    assert jobs.import_job_run(account_id=account.pk, job_id=job.pk) is None
    assert fresh(account, job).attempts == 1


def _only_job(account):
    with account_scope(account):
        return ImportJob.objects.get(account=account)


def _age_heartbeat(account, job, *, minutes):
    with account_scope(account):
        ImportJob.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - timedelta(minutes=minutes)
        )


def test_a_chunk_hitting_a_unique_key_is_retried_row_by_row(account, monkeypatch, small_chunks):
    """A concurrent writer taking a key between the checks and the write makes the
    chunk's statement fail: the chunk is retried one row at a time, each in its own
    savepoint, and only the row that still conflicts fails."""
    from django.db import IntegrityError

    original = FlatApplier.apply
    calls = []

    def apply(self, lo, hi):
        calls.append((lo, hi))
        if lo != hi:
            raise IntegrityError("duplicate key value violates unique constraint")
        if lo == 3:
            raise IntegrityError("still taken")
        return original(self, lo, hi)

    monkeypatch.setattr(FlatApplier, "apply", apply)
    job = run_import(account, "customers", rows(5))

    assert calls[0] == (1, 5)
    assert (job.created, job.failed) == (4, 1)
    assert job.errors[0]["line"] == 4
    assert job.errors[0]["message"].startswith("Conflict (409)")
    assert sorted(c.external_id for c in customers(account)) == ["C1", "C2", "C4", "C5"]


def test_an_interrupted_command_cancels_its_job_keeping_what_was_committed(account, small_chunks):
    def interrupt(lo, hi):
        if lo == 11:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(account, "customers", rows(25), chunk_hook=interrupt)
    job = _only_job(account)
    with account_scope(account):
        services.import_job_interrupt(job=job)

    job = fresh(account, job)
    assert job.status == "cancelled"
    assert job.message.startswith("Interrupted after 10 of 25 rows")
    assert len(customers(account)) == 10


@pytest.mark.django_db(transaction=True)
def test_a_long_plan_keeps_the_heartbeat_moving(account, monkeypatch):
    """The plan of a big file is one long transaction: a thread beats meanwhile, so the
    reaper does not take the job for one whose worker died."""
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)
    original = FlatApplier.plan
    seen = []

    def slow_plan(self):
        seen.append(ImportJob.objects.get(pk=self.job.pk).heartbeat_at)
        time.sleep(0.5)
        seen.append(ImportJob.objects.get(pk=self.job.pk).heartbeat_at)
        return original(self)

    monkeypatch.setattr(FlatApplier, "plan", slow_plan)
    job = run_import(account, "customers", rows(3))

    assert (job.status, job.created) == ("succeeded", 3)
    assert seen[1] > seen[0]


def elsewhere(account, write):
    """Run `write` (in `account`'s scope) as another worker would: in another thread,
    on its own connection, committed at once."""

    def target():
        try:
            with account_scope(account):
                write()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_attempt_was_taken_over_writes_nothing_more_and_stops(account, small_chunks):
    """The reaper found this run's heartbeat stale and another worker claimed the job
    (attempt 2) while chunk 2 was being applied: that chunk rolls back, and the run
    stops without touching the job again."""

    def taken_over_in_second_chunk(lo, hi):
        if lo == 11:
            elsewhere(
                account,
                lambda: ImportJob.objects.filter(account=account).update(
                    attempts=F("attempts") + 1, heartbeat_at=timezone.now()
                ),
            )

    job = run_import(account, "customers", rows(25), chunk_hook=taken_over_in_second_chunk)

    assert (job.status, job.attempts) == ("running", 2)  # the new owner's
    assert (job.checkpoint, job.processed_rows, job.created) == (10, 10, 10)
    assert (job.message, job.finished_at) == ("", None)
    assert {c.external_id for c in customers(account)} == {f"C{i}" for i in range(1, 11)}


@pytest.mark.django_db(transaction=True)
def test_a_slow_apply_phase_keeps_its_heartbeat_fresh(account, monkeypatch):
    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)
    seen = []

    def slow_chunk(lo, hi):
        seen.append(ImportJob.objects.get(account=account).heartbeat_at)
        time.sleep(0.5)
        seen.append(ImportJob.objects.get(account=account).heartbeat_at)

    job = run_import(account, "customers", rows(3), chunk_hook=slow_chunk)

    assert (job.status, job.created) == ("succeeded", 3)
    assert seen[1] > seen[0]


def test_a_statement_past_the_import_timeout_fails_the_job_saying_so(account, settings):
    settings.DB_IMPORT_STATEMENT_TIMEOUT = 1

    def slow_statement(lo, hi):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(3)")

    job = run_import(account, "customers", rows(3), chunk_hook=slow_statement)

    assert job.status == "failed"
    assert job.message.startswith("A statement of this import ran longer than its limit (1 s")
    assert "DB_IMPORT_STATEMENT_TIMEOUT" in job.message
    assert (job.processed_rows, customers(account)) == (0, [])
