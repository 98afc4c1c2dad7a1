"""Every write of the imports app: creating a job from an upload (or a local file),
running it, cancelling it, and reaping jobs whose worker stopped.

A job moves queued -> running -> succeeded | failed | cancelled. `running` is claimed
with a conditional UPDATE (a queued job, or a running one whose heartbeat is stale), so
a task delivered twice runs once, and a job whose worker died is resumed by the next
claim from its last committed chunk."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from crm_project.api.exceptions import Conflict
from crm_project.tenancy import account_scope, unscoped
from imports import csvio, kinds
from imports.models import ImportJob, ImportPhase, ImportStatus
from imports.report import counts
from imports.runner import Runner
from orders.services import customer_aggregates_refresh

log = logging.getLogger(__name__)

# A running job whose heartbeat is older than this has lost its worker (the runner
# beats every HEARTBEAT_SECONDS, and at each chunk or read batch).
STALE_AFTER = timedelta(minutes=2)
# A queued job no worker has claimed for this long is sent again (a lost message).
REQUEUE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3


def _precheck(job: ImportJob) -> str | None:
    """Why the file cannot be processed at all (empty, binary, no header, a missing
    required column), found before queueing so the job fails at once; None if fine."""
    try:
        fmt = csvio.inspect(job.source_file)
        kinds.map_header(kinds.get_kind(job.kind), fmt.header)
    except (csvio.UnreadableFile, kinds.MissingColumns) as exc:
        return str(exc)
    return None


def _fail_now(job: ImportJob, message: str) -> None:
    now = timezone.now()
    job.status = ImportStatus.FAILED
    job.phase = ImportPhase.DONE
    job.message = message
    job.started_at = job.finished_at = now
    job.save(
        update_fields=["status", "phase", "message", "started_at", "finished_at", "updated_at"]
    )


@transaction.atomic
def import_job_create(
    *,
    account: Account,
    kind: str,
    filename: str,
    chunks: Iterable[bytes] | None = None,
    path: Path | None = None,
    on_conflict: str = "update",
    dry_run: bool = False,
    date_format: str = "auto",
    created_by: Any = None,
    enqueue: bool = True,
) -> ImportJob:
    """A job for `kind`. The file is an upload (`chunks`, stored under
    MEDIA_ROOT/imports/<account>/<job>/source.csv) or a local file read in place
    (`path`, the commands). A file that cannot be processed fails the job at once;
    otherwise the job is queued for a worker after commit (unless `enqueue` is off:
    the commands run it in-process)."""
    kinds.get_kind(kind)  # KeyError for an unknown kind: the callers validate first
    job = ImportJob(
        id=uuid.uuid4(),
        account=account,
        kind=kind,
        filename=Path(filename).name[:255] or "import.csv",
        on_conflict=on_conflict,
        dry_run=dry_run,
        date_format=date_format,
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    if path is not None:
        job.source_path = str(Path(path).resolve())
        job.file_size = Path(path).stat().st_size if Path(path).exists() else 0
    else:
        directory = job.directory
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "source.csv"
        size = 0
        with open(target, "wb") as out:
            for chunk in chunks or ():
                out.write(chunk)
                size += len(chunk)
        job.source_path = str(target.relative_to(Path(settings.MEDIA_ROOT)))
        job.file_size = size
    job.save(force_insert=True)
    problem = _precheck(job)
    if problem is not None:
        _fail_now(job, problem)
        return job
    if enqueue:
        from imports.tasks import import_job_run

        import_job_run.delay_on_commit(str(job.pk))
    return job


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


@transaction.atomic
def import_job_interrupt(*, job: ImportJob) -> None:
    """A command stopped by its operator (Ctrl-C): the job ends cancelled, keeping what
    its committed chunks wrote, rather than waiting for the reaper to resume it."""
    job.refresh_from_db()
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
        status=ImportStatus.CANCELLED,
        phase=ImportPhase.DONE,
        message=(
            f"Interrupted after {job.processed_rows} of {job.total_rows or 0} rows: what "
            f"those rows changed is kept ({counts(job)})."
        ),
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """A queued job is cancelled at once; a running one stops before its next chunk,
    keeping what its committed chunks wrote. A finished job is a 409."""
    now = timezone.now()
    if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CANCELLED,
        cancel_requested=True,
        phase=ImportPhase.DONE,
        message="Cancelled before it started: nothing was imported.",
        finished_at=now,
        updated_at=now,
    ):
        job.refresh_from_db()
        return job
    if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
        cancel_requested=True, updated_at=now
    ):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    raise Conflict(f"This import has already finished ({job.status}).", code="invalid_status")


def import_jobs_reap() -> dict[str, int]:
    """Jobs whose worker stopped (no heartbeat for STALE_AFTER): sent again to resume
    from their checkpoint, or failed with what they committed once MAX_ATTEMPTS runs
    have stopped. Queued jobs nobody claimed for REQUEUE_AFTER are sent again."""
    from imports.tasks import import_job_run as task

    now = timezone.now()
    resumed = failed = requeued = 0
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
        task.delay_on_commit_for(row["account_id"], str(row["pk"]))
    for row in waiting:
        with account_scope(row["account_id"]):
            ImportJob.objects.filter(pk=row["pk"], status=ImportStatus.QUEUED).update(
                heartbeat_at=now, updated_at=now
            )
        task.delay_on_commit_for(row["account_id"], str(row["pk"]))
        requeued += 1
    return {"resumed": resumed, "failed": failed, "requeued": requeued}


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
