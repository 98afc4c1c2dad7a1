"""Every write of the imports app: creating a job from an upload (or a local file) and
sending its first run, interrupting and cancelling it. Running a job and reaping runs
whose worker stopped are imports.jobs (called by the tasks); the rows a run writes
are the engine's (imports.runner and the kinds' appliers)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from crm_project.errors import Conflict
from imports import csvio, kinds, tasks
from imports.models import ImportJob, ImportPhase, ImportStatus
from imports.report import counts

log = logging.getLogger(__name__)


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
        tasks.import_job_run.delay_on_commit(str(job.pk))
    return job


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
