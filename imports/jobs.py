"""Who runs an import job: the claim of a run, and the reaper of runs whose worker
stopped. imports.tasks calls these (the management commands call `import_job_run` in
process); they never send a task themselves — the reaper answers which jobs to send
again and its task sends them — so this module and the tasks do not import each other,
and imports.services (which sends the first run of a new job) imports the tasks.

A job moves queued -> running -> succeeded | failed | cancelled. `running` is claimed
with a conditional UPDATE (a queued job, or a running one whose heartbeat is stale), so
a task delivered twice runs once, and a job whose worker died is resumed by the next
claim from its last committed chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm_project.tenancy import account_scope, unscoped
from imports.models import ImportJob, ImportPhase, ImportStatus
from imports.report import counts
from imports.runner import Runner
from orders.services import customer_aggregates_refresh

# A running job whose heartbeat is older than this has lost its worker (the runner
# beats every HEARTBEAT_SECONDS, and at each chunk or read batch).
STALE_AFTER = timedelta(minutes=2)
# A queued job no worker has claimed for this long is sent again (a lost message).
REQUEUE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3


def _claim(job_id: Any) -> ImportJob | None:
    """The job, now running as this caller's attempt (`attempts` + 1), or None. A
    queued job is claimed, or a running one whose worker stopped beating: that run's
    next write of the job then finds another attempt, and stops."""
    now = timezone.now()
    claimed = (
        ImportJob.objects.filter(pk=job_id, attempts__lt=MAX_ATTEMPTS, cancel_requested=False)
        .filter(
            Q(status=ImportStatus.QUEUED)
            | Q(status=ImportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
        )
        .update(
            status=ImportStatus.RUNNING,
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            started_at=Coalesce("started_at", now),
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return ImportJob.objects.get(pk=job_id)


def import_job_run(
    *,
    account_id: Any,
    job_id: Any,
    on_progress: Callable[[ImportJob], None] | None = None,
    chunk_hook: Callable[[int, int], None] | None = None,
) -> ImportJob | None:
    """Claim the job and run it to its end; None when it is not this caller's to run
    (already running elsewhere, finished, or cancelled), or stopped being so (another
    worker took it over). Call outside a transaction: the runner commits chunk by
    chunk."""
    with account_scope(account_id):
        job = _claim(job_id)
    if job is None:
        return None
    return Runner(job, on_progress=on_progress, chunk_hook=chunk_hook).run()


@dataclass
class Reaped:
    """What a pass of the reaper did, and the (account id, job id) to send again."""

    counts: dict[str, int]
    to_send: list[tuple[Any, Any]] = field(default_factory=list)


def import_jobs_reap() -> Reaped:
    """Jobs whose worker stopped (no heartbeat for STALE_AFTER): sent again to resume
    from their checkpoint, or failed with what they committed once MAX_ATTEMPTS runs
    have stopped. Queued jobs nobody claimed for REQUEUE_AFTER are sent again. Sends
    nothing itself: its task sends the jobs of `to_send`."""
    now = timezone.now()
    resumed = failed = requeued = 0
    to_send: list[tuple[Any, Any]] = []
    with unscoped():
        stale = list(
            ImportJob.objects.filter(
                status=ImportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER
            ).values("pk", "account_id", "attempts", "cancel_requested")
        )
        waiting = list(
            ImportJob.objects.filter(status=ImportStatus.QUEUED)
            .filter(Q(heartbeat_at__lt=now - REQUEUE_AFTER) | Q(heartbeat_at__isnull=True))
            .filter(created_at__lt=now - REQUEUE_AFTER)
            .values("pk", "account_id")
        )
    for row in stale:
        with account_scope(row["account_id"]):
            job = ImportJob.objects.filter(pk=row["pk"]).first()
            if job is None or job.status != ImportStatus.RUNNING:
                continue
            if row["attempts"] >= MAX_ATTEMPTS or row["cancel_requested"]:
                failed += _fail_stopped(job, now)
                continue
            if not _stale(job, now).update(
                message=f"The worker stopped; resuming after row {job.processed_rows}.",
                updated_at=now,
            ):
                continue  # it beat meanwhile: alive after all
            resumed += 1
        to_send.append((row["account_id"], row["pk"]))
    for row in waiting:
        with account_scope(row["account_id"]):
            ImportJob.objects.filter(pk=row["pk"], status=ImportStatus.QUEUED).update(
                heartbeat_at=now, updated_at=now
            )
        to_send.append((row["account_id"], row["pk"]))
        requeued += 1
    return Reaped(
        counts={"resumed": resumed, "failed": failed, "requeued": requeued}, to_send=to_send
    )


def _stale(job: ImportJob, now: Any) -> QuerySet[ImportJob]:
    """The job, if it is still the attempt the reaper read and has not beaten since:
    a run that is alive after all keeps its job."""
    return ImportJob.objects.filter(
        pk=job.pk,
        status=ImportStatus.RUNNING,
        attempts=job.attempts,
        heartbeat_at__lt=now - STALE_AFTER,
    )


def _fail_stopped(job: ImportJob, now: Any) -> bool:
    """End a job whose runs stopped too often (or that was cancelled meanwhile);
    whether it ended."""
    if job.cancel_requested:
        status, message = (
            ImportStatus.CANCELLED,
            f"Cancelled: the worker stopped after {job.processed_rows} of "
            f"{job.total_rows or 0} rows; what those rows changed is kept ({counts(job)}).",
        )
    else:
        status, message = (
            ImportStatus.FAILED,
            f"The worker running this import stopped {job.attempts} times. "
            f"{job.processed_rows} of {job.total_rows or 0} rows were committed "
            f"({counts(job)}) and are kept. Upload the file again to import the rest: rows "
            "already imported are skipped.",
        )
    if not _stale(job, now).update(
        status=status, phase=ImportPhase.DONE, message=message, finished_at=now, updated_at=now
    ):
        return False
    if job.kind == "orders" and not job.dry_run and job.checkpoint:
        # Its runs stopped without settling: customers whose last order in the file was
        # never reached may wait for a refresh. Which ones died with the worker's
        # session, so the account's are all recomputed (rows already right are kept).
        customer_aggregates_refresh(account_id=job.account_id, customer_ids=None)
    return True
