"""The import engine's runner: one job, one kind (imports.kinds), from its file to its
end, or to a cancel, or a failure that stops it.

1. Read (`reading`): the file is streamed and `COPY`ed into the staging table
   (imports.staging), a batch per half second, so that `total_rows` moves.
2. Plan (`planning`): set-based SQL over the staged file: the day/month order of each
   date column (with date format `auto`), then the applier's plan (duplicates inside
   the file, order groups).
3. Apply (`applying`), in chunks sized to take about CHUNK_SECONDS, each one
   transaction that commits the rows with the job's counters, its checkpoint and the
   error report's size (imports.report): a resumed job starts after its checkpoint. A
   chunk that hits a concurrent writer's unique key is retried one unit (row, or
   order) at a time, each in its own savepoint, so one never blocks the others.
   Between chunks the runner looks for a cancel request.

The run owns its job through the attempt it claimed (imports.services): every write of
the job is conditional on that attempt, and on the job still running. When the reaper
has handed the job to another worker (this one's heartbeat looked stale), the next
write finds another attempt: the run stops there, its current chunk rolled back,
writing nothing more. A thread beats the job's heartbeat for the whole run, whatever
one statement takes, and every statement runs under the import's statement timeout
(settings.DB_IMPORT_STATEMENT_TIMEOUT); one that runs past it fails the job saying so.

Memory stays flat: Python holds one chunk's failed rows and Python-checked values at
most; everything else is in PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from crm_project.datetimes import account_zone
from crm_project.phones import account_region
from crm_project.tenancy import (
    account_scope,
    dangerously_as_database_owner,
    is_statement_timeout,
    statement_timeout,
)
from imports import csvio, kinds
from imports.applier import Applier, FlatApplier, check_foreign_keys
from imports.kinds import T
from imports.models import ImportJob, ImportPhase, ImportStatus
from imports.orders import OrdersApplier
from imports.report import Outcome, Report, counts, kept_errors
from imports.sql import execute
from imports.staging import (
    Staged,
    copy_records,
    create_stage,
    drop_temp_tables,
    ensure_phone_rules,
    index_stage,
    infer_date_orders,
)

log = logging.getLogger(__name__)

APPLIERS: dict[str, type[Applier]] = {"flat": FlatApplier, "orders": OrdersApplier}

CHUNK_SECONDS = 0.75  # the time a chunk aims at: progress moves at least every second
FIRST_CHUNK = 1_000
MIN_CHUNK = 200
MAX_CHUNK = 50_000
READ_BATCH_SECONDS = 0.5
HEARTBEAT_SECONDS = 20  # the reaper takes a job whose heartbeat is 2 minutes old
# Jobs writing at least this many rows refresh the planner's statistics at the end,
# and during the import after ANALYZE_FIRST rows, then each time the rows written
# quadruple.
ANALYZE_AFTER_ROWS = 50_000
ANALYZE_FIRST = 1
# The job's fields a chunk moves (restored on the job object when the chunk fails).
CHUNK_FIELDS = (
    "checkpoint",
    "processed_rows",
    "created",
    "updated",
    "skipped",
    "failed",
    "errors",
    "error_count",
    "report_size",
)


class ImportCancelled(Exception):
    """A cancel was requested: the run ends cancelled before its next chunk."""


class AttemptLost(Exception):
    """The job is no longer this run's (another worker claimed it, or the reaper ended
    it): the run stops, writing nothing more."""


class Runner:
    """Runs one claimed job. Call `run()` outside any transaction: each chunk commits
    on its own."""

    def __init__(
        self,
        job: ImportJob,
        *,
        on_progress: Callable[[ImportJob], None] | None = None,
        chunk_hook: Callable[[int, int], None] | None = None,
    ) -> None:
        self.job = job
        self.attempt = job.attempts  # the claim this run holds
        self.kind = kinds.get_kind(job.kind)
        self.on_progress = on_progress
        self.chunk_hook = chunk_hook  # tests: called before each chunk commits
        self.warnings: list[str] = []
        self.applier: Applier | None = None
        # Seconds spent per phase (kept in the job's state: benchmarks read them).
        self.timings: dict[str, float] = dict.fromkeys(
            ("read", "plan", "apply", "foreign_key_checks", "analyze"), 0.0
        )

    # -- Job bookkeeping -----------------------------------------------------------------

    @contextmanager
    def _step(self) -> Iterator[None]:
        """One transaction of the run, in the job's account."""
        with account_scope(self.job.account_id):
            yield

    def _owned(self) -> Any:
        return ImportJob.objects.filter(
            pk=self.job.pk, attempts=self.attempt, status=ImportStatus.RUNNING
        )

    def _save(self, **fields: Any) -> None:
        """Write the job's fields, if the job is still this run's (else AttemptLost)."""
        now = timezone.now()
        fields.setdefault("heartbeat_at", now)
        fields["updated_at"] = now
        if not self._owned().update(**fields):
            raise AttemptLost
        for name, value in fields.items():
            setattr(self.job, name, value)
        if self.on_progress is not None:
            self.on_progress(self.job)

    def _cancel_requested(self) -> bool:
        """Whether a cancel was requested; AttemptLost if the job is no longer this
        run's."""
        requested = self._owned().values_list("cancel_requested", flat=True).first()
        if requested is None:
            raise AttemptLost
        return requested

    def fail(self, message: str) -> None:
        try:
            with self._step():
                self._save(
                    status=ImportStatus.FAILED,
                    phase=ImportPhase.DONE,
                    message=message,
                    finished_at=timezone.now(),
                    warnings=self.warnings,
                )
        except AttemptLost:
            log.info(
                "import %s: not failed by attempt %s, no longer its own", self.job.pk, self.attempt
            )
        except DatabaseError:
            log.exception("import %s: could not record its failure: %s", self.job.pk, message)

    # -- The run -------------------------------------------------------------------------

    def run(self) -> ImportJob | None:
        """The job as it ended; None when another worker took it over meanwhile."""
        with statement_timeout(settings.DB_IMPORT_STATEMENT_TIMEOUT), self._beating():
            try:
                self._run()
            except AttemptLost:
                log.warning(
                    "import %s: attempt %s was taken over; this run stops",
                    self.job.pk,
                    self.attempt,
                )
                return None
            except Exception as exc:
                if is_statement_timeout(exc):
                    self.fail(
                        f"A statement of this import ran longer than its limit "
                        f"({settings.DB_IMPORT_STATEMENT_TIMEOUT} s, setting "
                        f"DB_IMPORT_STATEMENT_TIMEOUT) and was cancelled after "
                        f"{self.job.processed_rows} rows; what those rows changed is "
                        "committed. Import the file again to finish (rows already imported "
                        "are skipped), in smaller files or with a longer limit."
                    )
                    return self.job
                log.exception("import %s stopped", self.job.pk)
                self.fail(
                    f"The import stopped on an internal error ({type(exc).__name__}) after "
                    f"{self.job.processed_rows} rows; what those rows changed is committed. "
                    "Upload the file again to finish: rows already imported are skipped."
                )
                raise
        return self.job

    def _run(self) -> None:
        account = Account.objects.get(pk=self.job.account_id)
        try:
            fmt = csvio.inspect(self.job.source_file)
            header = kinds.map_header(self.kind, fmt.header)
        except (csvio.UnreadableFile, kinds.MissingColumns) as exc:
            self.fail(str(exc))
            return
        self.warnings = list(header.warnings)
        staged = Staged(
            job=self.job,
            kind=self.kind,
            fmt=fmt,
            header=header,
            params={"account": str(account.pk), "tz": str(account_zone(account))},
            region=account_region(account),
        )
        try:
            started = time.monotonic()
            rows = self._read(staged)
            self.timings["read"] = time.monotonic() - started
            if rows == 0:
                self.fail("The file has a header line but no rows.")
                return
            self.applier = APPLIERS[self.kind.applier](staged)
            with self._step():  # committed on its own: the page shows the phase
                self._save(phase=ImportPhase.PLANNING, warnings=self.warnings)
            with self._step():
                started = time.monotonic()
                if staged.present(T.PHONE):
                    ensure_phone_rules()
                self.warnings += infer_date_orders(staged)
                units = self.applier.plan()
                self.timings["plan"] = time.monotonic() - started
                self._save(
                    warnings=self.warnings,
                    state={**self.job.state, "date_orders": staged.date_orders},
                )
            self._apply(units, staged)
        except ImportCancelled:
            self._finish(cancelled=True)
        except AttemptLost:
            raise  # the job's new owner settles what waits
        except (Exception, KeyboardInterrupt, SystemExit):
            # The job stops here (an error, or its operator): what its committed chunks
            # wrote stays, so it leaves no customer aggregates waiting. (A worker killed
            # outright cannot; the job's next run, or the reaper, settles them.)
            self._settle_after_stop()
            raise
        finally:
            if not connection.needs_rollback:
                try:
                    drop_temp_tables()
                except DatabaseError:
                    log.exception("import %s: could not drop its temporary tables", self.job.pk)

    # -- 1. Read -------------------------------------------------------------------------

    def _read(self, staged: Staged) -> int:
        header = staged.fmt.header
        with self._step():
            create_stage(len(header))
            self._save(phase=ImportPhase.READING, warnings=self.warnings, total_rows=None)
        records = csvio.records(self.job.source_file, staged.fmt)
        rn, done = 0, False
        while not done:
            with self._step():
                rn, done = copy_records(records, header, rn, READ_BATCH_SECONDS)
                self._save(total_rows=rn)
        with self._step():
            index_stage()
        return rn

    # -- 3. Apply ------------------------------------------------------------------------

    def _apply(self, units: int, staged: Staged) -> None:
        apply_started = time.monotonic()
        with self._step():
            self._save(phase=ImportPhase.APPLYING, state={**self.job.state, "units": units})
        report = Report(self.job.report_file, staged.fmt.header)
        report.truncate(self.job.report_size)
        unit = self.job.checkpoint + 1
        size = FIRST_CHUNK
        next_analyze = ANALYZE_FIRST
        analyzed = False
        while unit <= units:
            hi = min(units, unit + size - 1)
            started = time.monotonic()
            self._chunk(unit, hi, report, staged)
            elapsed = max(time.monotonic() - started, 1e-3)
            written = self.job.created + self.job.updated
            if not self.job.dry_run and written >= next_analyze:
                # A new account's rows are unknown to the planner's statistics, which
                # then pick an index on account_id alone for a key look-up: refresh
                # them as the import grows (1k, 4k, 16k... rows). The first time in
                # full (index expressions too: without lower(email)'s, a look-up by
                # email walks the account's leads in created order); then account_id's
                # alone, what changes as the account grows, at a fraction of the cost.
                self._analyze(columns=("account_id",) if analyzed else ())
                analyzed = True
                next_analyze = written * 4
            # Aim at CHUNK_SECONDS, changing by at most a factor of 4 at a time.
            size = int(
                min(MAX_CHUNK, max(MIN_CHUNK, size * min(4.0, max(0.25, CHUNK_SECONDS / elapsed))))
            )
            unit = hi + 1
        self.timings["apply"] = time.monotonic() - apply_started
        self._finish(cancelled=False)

    def _chunk(self, lo: int, hi: int, report: Report, staged: Staged) -> None:
        """One chunk, one transaction: its rows, the job's counters, its checkpoint and
        the report's size commit together, or none of them."""
        job = self.job
        before = {name: getattr(job, name) for name in CHUNK_FIELDS}
        try:
            with self._step():
                if self._cancel_requested():
                    raise ImportCancelled
                # Every statement of a chunk joins its few thousand rows with a big
                # table by a key: index probes, whatever the (maybe stale) statistics
                # say about hashing the big table.
                execute("SET LOCAL enable_hashjoin = off")
                execute("SET LOCAL enable_mergejoin = off")
                outcome = self._apply_range(lo, hi)
                size = report.append(outcome.failures)
                if self.chunk_hook is not None:
                    self.chunk_hook(lo, hi)
                self._save(
                    checkpoint=hi,
                    processed_rows=job.processed_rows + outcome.rows,
                    created=job.created + outcome.created,
                    updated=job.updated + outcome.updated,
                    skipped=job.skipped + outcome.skipped,
                    failed=job.failed + outcome.failed,
                    errors=kept_errors(job.errors, outcome.failures, staged.header),
                    error_count=job.error_count + len(outcome.failures),
                    report_size=size,
                )
        except BaseException:
            report.truncate(before["report_size"])
            for name, value in before.items():
                setattr(job, name, value)
            raise

    def _apply_range(self, lo: int, hi: int) -> Outcome:
        assert self.applier is not None
        try:
            with transaction.atomic():
                outcome = self.applier.apply(lo, hi)
                self.timings["foreign_key_checks"] += check_foreign_keys()
                return outcome
        except (IntegrityError, DataError) as exc:
            # A concurrent writer took a key, or a value PostgreSQL refused: find the
            # unit (row, or order) and fail only it.
            if lo == hi:
                log.warning("import %s: unit %s failed: %s", self.job.pk, lo, exc)
                return self.applier.unit_failed(lo, exc)
            log.info("import %s: chunk %s-%s retried unit by unit: %s", self.job.pk, lo, hi, exc)
        outcome = Outcome()
        for unit in range(lo, hi + 1):
            outcome.add(self._apply_range(unit, unit))
        return outcome

    def _finish(self, *, cancelled: bool) -> None:
        job = self.job
        summary = counts(job)
        nouns = f"{self.kind.noun}s" if self.kind.applier == "orders" else "rows"
        if job.dry_run:
            summary = f"Dry run, nothing was written: {summary} (what the import would do)"
        total = job.total_rows or 0
        if cancelled:
            kept = "nothing was written" if job.dry_run else "they are kept"
            message = (
                f"Cancelled after {job.processed_rows} of {total} rows: the rows processed "
                f"before the cancel were committed and {kept} ({summary} {nouns}); the "
                f"remaining {total - job.processed_rows} rows were not imported."
            )
            status = ImportStatus.CANCELLED
        else:
            message = f"{summary}." if job.dry_run else f"{summary} {nouns}."
            status = ImportStatus.SUCCEEDED
        with self._step():
            if self.applier is not None:
                self.applier.settle()
            timings = {name: round(value, 3) for name, value in self.timings.items()}
            self._save(
                status=status,
                phase=ImportPhase.DONE,
                message=message,
                finished_at=timezone.now(),
                warnings=self.warnings,
                state={**job.state, "timings": timings},
            )
        if not job.dry_run and job.created + job.updated >= ANALYZE_AFTER_ROWS:
            self._analyze()

    @contextmanager
    def _beating(self) -> Iterator[None]:
        """For the whole run, a thread with its own connection moves the job's
        heartbeat every HEARTBEAT_SECONDS, whatever one statement (a plan, a chunk)
        takes, so the reaper never takes a live run for a dead worker. It beats only
        while the job is this run's."""
        stop = threading.Event()

        def beat() -> None:
            try:
                while not stop.wait(HEARTBEAT_SECONDS):
                    with self._step():
                        self._owned().update(heartbeat_at=timezone.now())
            except DatabaseError:
                log.exception("import %s: could not beat", self.job.pk)
            finally:
                connection.close()  # this thread's own connection

        thread = threading.Thread(target=beat, name=f"import-{self.job.pk}-beat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _settle_after_stop(self) -> None:
        if self.applier is None or connection.needs_rollback:
            return
        try:
            with self._step():
                self.applier.settle()
        except DatabaseError:
            log.exception("import %s: could not settle after stopping", self.job.pk)

    def _analyze(self, columns: tuple[str, ...] = ()) -> None:
        """Fresh planner statistics after a big import (ANALYZE needs the tables'
        owner), of `columns` only when given; skipped inside an outer transaction
        (tests)."""
        if connection.in_atomic_block or self.applier is None:
            return
        tables = self.applier.tables()
        only = f" ({', '.join(columns)})" if columns else ""
        started = time.monotonic()
        try:
            with dangerously_as_database_owner(), connection.cursor() as cursor:
                cursor.execute("ANALYZE " + ", ".join(f"{table}{only}" for table in tables))
        except DatabaseError:
            log.warning("import %s: could not ANALYZE %s", self.job.pk, tables)
        self.timings["analyze"] += time.monotonic() - started
