"""Jobs: chunked progress, cancel between chunks (keeping what was committed), a worker
that dies mid-import (the job resumes from its checkpoint, or fails saying what was
committed), and the periodic reaper."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from imports import engine, services
from imports.models import ImportJob
from tests.imports.conftest import csv_bytes, customers, fresh, report_rows, run_import

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the engine or the service catches it."""


def rows(n, *, bad_every=0):
    data = [["external_id", "email"]]
    for i in range(1, n + 1):
        email = "broken" if bad_every and i % bad_every == 0 else f"c{i}@example.com"
        data.append([f"C{i}", email])
    return csv_bytes(data)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(engine, "FIRST_CHUNK", 10)
    monkeypatch.setattr(engine, "MIN_CHUNK", 10)
    monkeypatch.setattr(engine, "MAX_CHUNK", 10)


def test_processed_rows_advance_chunk_by_chunk(account, small_chunks):
    seen = []
    with account_scope(account):
        job = services.import_job_create(
            account=account, kind="customers", filename="c.csv", chunks=[rows(35)], enqueue=False
        )
    services.import_job_run(
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
    assert services.import_job_run(account_id=account.pk, job_id=job.pk) is None

    _age_heartbeat(account, job, minutes=5)
    services.import_job_run(account_id=account.pk, job_id=job.pk)

    job = fresh(account, job)
    assert (job.status, job.attempts, job.processed_rows) == ("succeeded", 2, 35)
    assert (job.created, job.failed) == (30, 5)
    assert len(customers(account)) == 30
    # The error report has each failed row once, in line order.
    assert [int(r["line"]) for r in report_rows(job)] == [8, 15, 22, 29, 36]
    assert job.error_count == 5
    assert len(job.errors) == 5


def test_the_reaper_resumes_a_stalled_job(account, small_chunks):
    def die(lo, hi):
        if lo == 11:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(account, "customers", rows(25), chunk_hook=die)
    job = _only_job(account)
    _age_heartbeat(account, job, minutes=5)

    outcome = services.import_jobs_reap()  # Celery is eager in tests: it runs at once

    assert outcome == {"resumed": 1, "failed": 0, "requeued": 0}
    job = fresh(account, job)
    assert (job.status, job.created) == ("succeeded", 25)


def test_the_reaper_fails_a_job_that_stopped_too_often_saying_what_was_kept(account):
    job = run_import(account, "customers", rows(5))
    with account_scope(account):
        ImportJob.objects.filter(pk=job.pk).update(
            status="running", attempts=services.MAX_ATTEMPTS, finished_at=None
        )
    _age_heartbeat(account, job, minutes=5)

    outcome = services.import_jobs_reap()

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

    assert services.import_job_run(account_id=account.pk, job_id=job.pk) is None
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

    original = engine.FlatApplier.apply
    calls = []

    def apply(self, lo, hi):
        calls.append((lo, hi))
        if lo != hi:
            raise IntegrityError("duplicate key value violates unique constraint")
        if lo == 3:
            raise IntegrityError("still taken")
        return original(self, lo, hi)

    monkeypatch.setattr(engine.FlatApplier, "apply", apply)
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
    monkeypatch.setattr(engine, "HEARTBEAT_SECONDS", 0.05)
    original = engine.FlatApplier.plan
    seen = []

    def slow_plan(self):
        seen.append(ImportJob.objects.get(pk=self.job.pk).heartbeat_at)
        time.sleep(0.5)
        seen.append(ImportJob.objects.get(pk=self.job.pk).heartbeat_at)
        return original(self)

    monkeypatch.setattr(engine.FlatApplier, "plan", slow_plan)
    job = run_import(account, "customers", rows(3))

    assert (job.status, job.created) == ("succeeded", 3)
    assert seen[1] > seen[0]
