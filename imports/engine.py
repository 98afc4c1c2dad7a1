# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""The import engine: one for every kind, declared in imports.kinds.

1. Read (`reading`): the file is streamed through Python's csv module (encodings,
   delimiters, quoted newlines, line numbers: imports.csvio) and `COPY`ed into a
   temporary staging table, every cell as text, a batch per half second, so that the
   job's heartbeat and `total_rows` move. Python holds one row at a time.
2. Plan (`planning`): set-based SQL over the staging table: the day/month order of
   each date column (when the import's date format is `auto`), duplicates inside the
   file (the later line wins; the earlier is reported), order groups.
3. Apply (`applying`), in chunks sized to take about half a second, each one
   transaction that commits the rows with the job's counters, its checkpoint and the
   error report's size: a chunk is typed and validated in SQL (Python checks phones,
   unusual emails and JSON cells in one batch per chunk), matched against stored
   records by the kind's keys, then written with `INSERT ... ON CONFLICT` and
   `UPDATE ... WHERE (old) IS DISTINCT FROM (new)`: a row that would change nothing is
   `skipped`. A chunk that hits a concurrent writer's unique key is retried one row
   (or order) at a time, each in its own savepoint, so one row never blocks the others.
   Between chunks the engine looks for a cancel request.

Memory stays flat: Python holds one chunk's failed rows and Python-checked values at
most; everything else is in PostgreSQL. Temporary tables cannot be seen by other
sessions and live only as long as this connection; the app role may create them
although it may not `COPY` into a tenant table directly (row-level security)."""

from __future__ import annotations

import csv
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import EmailValidator
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from crm_project.phones import InvalidPhone, normalize_phone
from crm_project.tenancy import account_scope, dangerously_as_database_owner
from imports import csvio, kinds, sql
from imports.kinds import Field, Kind, T
from imports.models import ImportJob, ImportPhase, ImportStatus

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.75  # the time a chunk aims at: progress moves at least every second
FIRST_CHUNK = 1_000
MIN_CHUNK = 200
MAX_CHUNK = 50_000
READ_BATCH_SECONDS = 0.5
HEARTBEAT_SECONDS = 20  # while one long phase runs (the reaper waits 2 minutes)
ERRORS_KEPT = 1_000
# Jobs writing at least this many rows refresh the planner's statistics afterwards,
# and during the import after ANALYZE_FIRST rows, then each time the rows written
# quadruple.
ANALYZE_AFTER_ROWS = 50_000
ANALYZE_FIRST = 1


class ImportCancelled(Exception):
    pass


def upload_dir(job: ImportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / str(job.account_id) / str(job.pk)


def source_file(job: ImportJob) -> Path:
    path = Path(job.source_path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def report_file(job: ImportJob) -> Path:
    return upload_dir(job) / "errors.csv"


@dataclass
class FailedRow:
    rn: int
    line: int
    reasons: list[tuple[str | None, str]]  # (field or None, message)
    cells: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    rows: int = 0  # file rows covered
    failures: list[FailedRow] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed
        self.rows += other.rows
        self.failures.extend(other.failures)


# --- Database helpers ------------------------------------------------------------------


def execute(statement: str, params: dict[str, Any] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.rowcount


def fetchall(statement: str, params: dict[str, Any] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.fetchall()


def copy_rows(statement: str, rows: list[tuple]) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


TEMP_TABLES = (
    "imp_stage",
    "imp_dup",
    "imp_chunk",
    "imp_py",
    "imp_group",
    "imp_line",
    "imp_oline",
    "imp_order",
    "imp_match",
    "imp_settle",
    "imp_deferred",
)


@contextmanager
def joins_may_hash() -> Iterator[None]:
    """Chunks run with hash and merge joins off (their statements probe big tables by
    key, whatever the statistics say); a statement aggregating many rows runs inside
    this block with them back on."""
    execute("SET LOCAL enable_hashjoin = on")
    execute("SET LOCAL enable_mergejoin = on")
    try:
        yield
    finally:
        execute("SET LOCAL enable_hashjoin = off")
        execute("SET LOCAL enable_mergejoin = off")


def insert_new(insert: str, then: str, params: dict[str, Any]) -> None:
    """`WITH ins AS (<insert> RETURNING id) <then>` for rows the checks found new.
    A plain INSERT first: `ON CONFLICT DO NOTHING` would probe every unique index for
    every row before writing it. Only when a key was taken meanwhile (a concurrent
    writer, or an id of another account's record, which row-level security hid from
    the checks) does it fail; it then runs again skipping the rows whose keys are
    taken, and `then` sees only the rows written."""
    try:
        with transaction.atomic():
            execute(f"WITH ins AS ({insert} RETURNING id) {then}", params)
    except IntegrityError:
        execute(f"WITH ins AS ({insert} ON CONFLICT DO NOTHING RETURNING id) {then}", params)


def check_foreign_keys(engine: Engine) -> None:
    """Deferred foreign keys are checked here, inside the chunk's savepoint, rather
    than at commit: a violation fails this chunk's rows, not the job. Their per-row
    checks are timed (the job's state keeps the total)."""
    started = time.monotonic()
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    engine.timings["foreign_key_checks"] += time.monotonic() - started


def drop_temp_tables() -> None:
    execute("DROP TABLE IF EXISTS " + ", ".join(TEMP_TABLES))


# --- Phones: the rules that let SQL accept an E.164 number as normalize_phone would ----

_PHONE_RULES: list[tuple[str, str | None, list[int]]] | None = None


def phone_rules() -> list[tuple[str, str | None, list[int]]]:
    """(country code, national prefix pattern, possible lengths) of every country code
    whose main region has metadata, from phonenumbers itself."""
    global _PHONE_RULES
    if _PHONE_RULES is None:
        from phonenumbers import PhoneMetadata
        from phonenumbers.phonenumberutil import (
            COUNTRY_CODE_TO_REGION_CODE,
            region_code_for_country_code,
        )

        rules = []
        for cc in sorted(COUNTRY_CODE_TO_REGION_CODE):
            region = region_code_for_country_code(cc)
            if region == "001":  # non-geographic numbers: phonenumbers decides
                continue
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None or metadata.general_desc is None:
                continue
            possible = list(metadata.general_desc.possible_length or ())
            if not possible or possible[0] == -1:
                continue
            local = list(metadata.general_desc.possible_length_local_only or ())
            lengths = sorted({n for n in possible + local if 2 <= n <= 17})
            prefix = metadata.national_prefix_for_parsing
            rules.append((str(cc), f"^(?:{prefix})" if prefix else None, lengths))
        _PHONE_RULES = rules
    return _PHONE_RULES


def ensure_phone_rules() -> None:
    execute(
        "CREATE TEMP TABLE IF NOT EXISTS imp_phone_rules "
        "(cc text PRIMARY KEY, prefix text, lengths int[] NOT NULL)"
    )
    if not fetchall("SELECT 1 FROM imp_phone_rules LIMIT 1"):
        copy_rows("COPY imp_phone_rules (cc, prefix, lengths) FROM STDIN", phone_rules())
        execute("ANALYZE imp_phone_rules")


# --- Python checks (in batches: one query per chunk) ----------------------------------

_email_validator = EmailValidator()


def python_check(f: Field, raw: str, *, region: str) -> tuple[str | None, str | None]:
    """(value, error) of a cell SQL could not decide."""
    if f.type is T.PHONE:
        try:
            return normalize_phone(raw, region), None
        except InvalidPhone as exc:
            return None, str(exc)
    if f.type is T.EMAIL:
        value = raw.strip()
        if len(value) > 254:
            return None, "Ensure this field has no more than 254 characters."
        try:
            _email_validator(value)
        except Exception:  # noqa: BLE001  (ValidationError: the message is ours)
            return None, "Enter a valid email address."
        return value, None
    if f.type is T.JSON:
        try:
            data = json.loads(raw)
        except ValueError:
            return None, 'Expected a JSON object (e.g. {"tier": "gold"}).'
        if not isinstance(data, dict):
            return None, 'Expected a JSON object (e.g. {"tier": "gold"}).'
        return json.dumps(data, ensure_ascii=False), None
    if f.type is T.TAGS:
        from customers.api.serializers import clean_tags

        try:
            data = json.loads(raw)
        except ValueError:
            return None, "Expected a JSON list of strings, or tags separated by commas."
        if not isinstance(data, list) or not all(isinstance(t, str | int) for t in data):
            return None, "Expected a JSON list of strings, or tags separated by commas."
        return json.dumps(clean_tags([str(t) for t in data]), ensure_ascii=False), None
    raise ValueError(f.type)


# --- The engine ------------------------------------------------------------------------


class Engine:
    """Runs one job to its end (or to a cancel, or a failure that stops it). Call
    `run()` outside any transaction: each chunk commits on its own."""

    def __init__(
        self,
        job: ImportJob,
        *,
        on_progress: Callable[[ImportJob], None] | None = None,
        chunk_hook: Callable[[int, int], None] | None = None,
    ) -> None:
        self.job = job
        self.kind: Kind = kinds.get_kind(job.kind)
        self.on_progress = on_progress
        self.chunk_hook = chunk_hook  # tests: called before each chunk commits
        self.account: Account
        self.params: dict[str, Any] = {}
        self.errors_kept: list[dict[str, Any]] = list(job.errors or [])
        self.totals = Outcome(
            created=job.created, updated=job.updated, skipped=job.skipped, failed=job.failed
        )
        self.processed = job.processed_rows
        self.warnings: list[str] = []
        # Seconds spent per phase (kept in the job's state: benchmarks read them).
        self.apply_started: float | None = None
        self.timings: dict[str, float] = dict.fromkeys(
            ("read", "plan", "apply", "foreign_key_checks", "analyze"), 0.0
        )

    # -- Job bookkeeping -----------------------------------------------------------------

    def _save(self, **fields: Any) -> None:
        fields.setdefault("heartbeat_at", timezone.now())
        fields["updated_at"] = timezone.now()
        ImportJob.objects.filter(pk=self.job.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.job, name, value)
        if self.on_progress is not None:
            self.on_progress(self.job)

    def fail(self, message: str) -> None:
        with account_scope(self.job.account_id):
            self._save(
                status=ImportStatus.FAILED,
                phase=ImportPhase.DONE,
                message=message,
                finished_at=timezone.now(),
                warnings=self.warnings,
            )

    # -- The run -------------------------------------------------------------------------

    def run(self) -> ImportJob:
        self.account = Account.objects.get(pk=self.job.account_id)
        self.params = {
            "account": str(self.account.pk),
            "tz": self.account.timezone or "UTC",
        }
        path = source_file(self.job)
        try:
            fmt = csvio.inspect(path)
            self.header = kinds.map_header(self.kind, fmt.header)
        except (csvio.UnreadableFile, kinds.MissingColumns) as exc:
            self.fail(str(exc))
            return self.job
        self.fmt = fmt
        self.warnings = list(self.header.warnings)
        try:
            started = time.monotonic()
            rows = self._read(path)
            self.timings["read"] = time.monotonic() - started
            if rows == 0:
                self.fail("The file has a header line but no rows.")
                return self.job
            if self.kind.applier == "orders":
                from imports.orders import OrdersApplier

                self.applier: FlatApplier | OrdersApplier = OrdersApplier(self)
            else:
                self.applier = FlatApplier(self)
            with account_scope(self.account):
                # Committed on its own: the page shows the phase.
                self._save(phase=ImportPhase.PLANNING, warnings=self.warnings)
            with self._beating(), account_scope(self.account):
                started = time.monotonic()
                units = self.applier.plan()
                self.timings["plan"] = time.monotonic() - started
                self._save(warnings=self.warnings)
            self.apply_started = time.monotonic()
            self._apply(units)
        except ImportCancelled:
            self._finish(cancelled=True)
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
        return self.job

    # -- 1. Read -------------------------------------------------------------------------

    def _read(self, path: Path) -> int:
        width = len(self.fmt.header)
        columns = ", ".join(f"c{i} text" for i in range(width))
        with account_scope(self.account):
            drop_temp_tables()
            execute(
                f"CREATE TEMP TABLE imp_stage (rn bigint NOT NULL, line bigint NOT NULL, "
                f"err text, {columns})"
            )
            self._save(phase=ImportPhase.READING, warnings=self.warnings, total_rows=None)
        records = csvio.records(path, self.fmt)
        rn = 0
        done = False
        while not done:
            deadline = time.monotonic() + READ_BATCH_SECONDS
            with account_scope(self.account):
                with (
                    connection.cursor() as cursor,
                    cursor.cursor.copy("COPY imp_stage FROM STDIN") as copy,
                ):
                    for record in records:
                        rn += 1
                        cells, error = _fit(record, width)
                        copy.write_row((rn, record.line, error, *cells))
                        if rn % 1000 == 0 and time.monotonic() > deadline:
                            break
                    else:
                        done = True
                self._save(total_rows=rn)
        with account_scope(self.account):
            execute("CREATE UNIQUE INDEX ON imp_stage (rn)")
            execute("ANALYZE imp_stage")
        return rn

    # -- 3. Apply ------------------------------------------------------------------------

    def _cancel_requested(self) -> bool:
        return bool(
            ImportJob.objects.filter(pk=self.job.pk)
            .values_list("cancel_requested", flat=True)
            .first()
        )

    def _apply(self, units: int) -> None:
        with account_scope(self.account):
            self._save(phase=ImportPhase.APPLYING, state={**self.job.state, "units": units})
        report = Report(report_file(self.job), self.fmt.header)
        report.truncate(self.job.report_size)
        unit = self.job.checkpoint + 1
        size = FIRST_CHUNK
        next_analyze = ANALYZE_FIRST
        while unit <= units:
            hi = min(units, unit + size - 1)
            started = time.monotonic()
            self._chunk(unit, hi, report)
            written = self.totals.created + self.totals.updated
            if not self.job.dry_run and written >= next_analyze:
                # A new account's rows are unknown to the planner's statistics, which
                # then pick an index on account_id alone for a key look-up: refresh
                # them as the import grows (1k, 4k, 16k... rows).
                self._analyze()
                next_analyze = written * 4
            elapsed = max(time.monotonic() - started, 1e-3)
            # Aim at CHUNK_SECONDS, changing by at most a factor of 4 at a time.
            size = int(
                min(MAX_CHUNK, max(MIN_CHUNK, size * min(4.0, max(0.25, CHUNK_SECONDS / elapsed))))
            )
            unit = hi + 1
        self._finish(cancelled=False)

    def _chunk(self, lo: int, hi: int, report: Report) -> None:
        """One chunk, one transaction: its rows, the job's counters, its checkpoint and
        the report's size commit together. The engine's own tallies move only once the
        transaction has committed."""
        size_before = self.job.report_size
        kept_before = list(self.errors_kept)
        job_before = {
            name: getattr(self.job, name)
            for name in (
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
        }
        try:
            with account_scope(self.account):
                if self._cancel_requested():
                    raise ImportCancelled
                # Every statement of a chunk joins its few thousand rows with a big
                # table by a key: index probes, whatever the (maybe stale) statistics
                # say about hashing the big table.
                execute("SET LOCAL enable_hashjoin = off")
                execute("SET LOCAL enable_mergejoin = off")
                outcome = self._apply_range(lo, hi)
                self._note_errors(outcome.failures)
                size = report.append(outcome.failures, self.job.pk)
                totals = Outcome(
                    created=self.totals.created + outcome.created,
                    updated=self.totals.updated + outcome.updated,
                    skipped=self.totals.skipped + outcome.skipped,
                    failed=self.totals.failed + outcome.failed,
                )
                processed = self.processed + outcome.rows
                if self.chunk_hook is not None:
                    self.chunk_hook(lo, hi)
                self._save(
                    checkpoint=hi,
                    processed_rows=processed,
                    created=totals.created,
                    updated=totals.updated,
                    skipped=totals.skipped,
                    failed=totals.failed,
                    errors=self.errors_kept,
                    error_count=self.job.error_count + len(outcome.failures),
                    report_size=size,
                )
        except BaseException:
            report.truncate(size_before)
            self.errors_kept = kept_before
            for name, value in job_before.items():
                setattr(self.job, name, value)
            raise
        self.totals, self.processed = totals, processed

    def _apply_range(self, lo: int, hi: int) -> Outcome:
        try:
            with transaction.atomic():
                return self.applier.apply(lo, hi)
        except (IntegrityError, DataError) as exc:
            # A concurrent writer took a key, or a value PostgreSQL refused: find the
            # row (or order) and fail only it.
            if lo == hi:
                return self.applier.unit_failed(lo, exc)
            log.info("import %s: chunk %s-%s retried unit by unit: %s", self.job.pk, lo, hi, exc)
        outcome = Outcome()
        for unit in range(lo, hi + 1):
            outcome.add(self._apply_range(unit, unit))
        return outcome

    def _note_errors(self, failures: list[FailedRow]) -> None:
        for failure in failures:
            for field_name, message in failure.reasons:
                if len(self.errors_kept) >= ERRORS_KEPT:
                    return
                column = self.header.fields.get(field_name) if field_name else None
                self.errors_kept.append(
                    {
                        "line": failure.line,
                        "column": column.header if column else None,
                        "value": failure.cells[column.index]
                        if column and column.index < len(failure.cells)
                        else None,
                        "message": message,
                    }
                )

    def _finish(self, *, cancelled: bool) -> None:
        t = self.totals
        counts = f"{t.created} created, {t.updated} updated, {t.skipped} skipped, {t.failed} failed"
        nouns = f"{self.kind.noun}s" if self.kind.applier == "orders" else "rows"
        if self.job.dry_run:
            counts = f"Dry run, nothing was written: {counts} (what the import would do)"
        total = self.job.total_rows or 0
        if cancelled:
            kept = "nothing was written" if self.job.dry_run else "they are kept"
            message = (
                f"Cancelled after {self.processed} of {total} rows: the rows processed "
                f"before the cancel were committed and {kept} ({counts} {nouns}); the "
                f"remaining {total - self.processed} rows were not imported."
            )
            status = ImportStatus.CANCELLED
        else:
            message = f"{counts} {nouns}." if not self.job.dry_run else f"{counts}."
            status = ImportStatus.SUCCEEDED
        with account_scope(self.account):
            self.applier.settle()
            if self.apply_started is not None:
                self.timings["apply"] = time.monotonic() - self.apply_started
            timings = {name: round(value, 3) for name, value in self.timings.items()}
            self._save(
                status=status,
                phase=ImportPhase.DONE,
                message=message,
                finished_at=timezone.now(),
                warnings=self.warnings,
                state={**self.job.state, "timings": timings},
            )
        written = t.created + t.updated
        if not self.job.dry_run and written >= ANALYZE_AFTER_ROWS:
            self._analyze()

    @contextmanager
    def _beating(self) -> Iterator[None]:
        """Around one long statement sequence (the plan of a big file): a thread with its
        own connection moves the job's heartbeat every HEARTBEAT_SECONDS, so the reaper
        does not take a long plan for a dead worker."""
        stop = threading.Event()

        def beat() -> None:
            try:
                while not stop.wait(HEARTBEAT_SECONDS):
                    with account_scope(self.account):
                        ImportJob.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now())
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
        applier = getattr(self, "applier", None)
        if applier is None or connection.needs_rollback:
            return
        try:
            with account_scope(self.account):
                applier.settle()
        except DatabaseError:
            log.exception("import %s: could not settle after stopping", self.job.pk)

    def _analyze(self) -> None:
        """Fresh planner statistics after a big import (ANALYZE needs the tables'
        owner); skipped inside an outer transaction (tests)."""
        if connection.in_atomic_block:
            return
        tables = self.applier.tables()
        started = time.monotonic()
        try:
            with dangerously_as_database_owner(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {', '.join(tables)}")
        except DatabaseError:
            log.warning("import %s: could not ANALYZE %s", self.job.pk, tables)
        self.timings["analyze"] += time.monotonic() - started

    # -- Shared by the appliers ----------------------------------------------------------

    def date_order(self, f: Field) -> str | None:
        if self.job.date_format in ("dmy", "mdy"):
            return self.job.date_format
        return (self.job.state.get("date_orders") or {}).get(f.name)

    def infer_date_orders(self, fields: list[Field]) -> None:
        """With date_format `auto`: a date column whose values include 25/12/2024 (or
        no 12/25/2024) is read day first, and the other way round; when nothing in the
        file decides, ambiguous values (03/04/2024) fail asking for the setting."""
        if self.job.date_format != "auto":
            return
        orders: dict[str, str | None] = {}
        for f in fields:
            column = self.header.fields[f.name]
            query = sql.date_evidence_sql(
                "src.x", f"SELECT {sql.clean(f's.c{column.index}')} AS x FROM imp_stage s"
            )
            day_first, month_first = fetchall(query, self.params)[0]
            if day_first and not month_first:
                orders[f.name] = "dmy"
                self.warnings.append(
                    f"Dates in “{column.header}” are read day first (DD/MM/YYYY), as the "
                    "file's values show."
                )
            elif month_first and not day_first:
                orders[f.name] = "mdy"
                self.warnings.append(
                    f"Dates in “{column.header}” are read month first (MM/DD/YYYY), as "
                    "the file's values show."
                )
            elif day_first and month_first:
                orders[f.name] = None
                self.warnings.append(
                    f"Dates in “{column.header}” mix day-first and month-first values: "
                    "ambiguous ones fail; set the date format to dmy or mdy."
                )
        self.job.state = {**self.job.state, "date_orders": orders}

    @property
    def region(self) -> str:
        return self.account.default_phone_region or "US"


def _fit(record: csvio.Record, width: int) -> tuple[list[str], str | None]:
    """The record's cells, as many as the header has, and what is wrong with it."""
    cells = record.fields
    if record.error:
        return [""] * width, record.error
    if len(cells) == width:
        return cells, None
    if len(cells) > width:
        extra = cells[width:]
        if not any(cell.strip() for cell in extra):
            return cells[:width], None  # trailing empty cells (spreadsheets add them)
        shown = ", ".join(repr(cell) for cell in extra[:3])
        return cells[:width], (
            f"This row has {len(cells)} fields where the header has {width} (extra: "
            f"{shown}): check its delimiters and quotes."
        )
    return cells + [""] * (width - len(cells)), (
        f"This row has {len(cells)} fields where the header has {width}."
    )


# --- The error report ------------------------------------------------------------------


class Report:
    """errors.csv: the failed rows' original cells, then `line` and `reason`, ready to
    fix and upload again. Appended as chunks commit; its size is part of each chunk's
    checkpoint, so a retried or resumed chunk never leaves a duplicate line."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header

    def truncate(self, size: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if size == 0 or not self.path.exists():
            with open(self.path, "w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerow(
                    [csvio.escape_cell(h) for h in [*self.header, "line", "reason"]]
                )
            return
        with open(self.path, "r+b") as out:
            out.truncate(size)

    def append(self, failures: list[FailedRow], job_id: Any) -> int:
        with open(self.path, "a", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for failure in failures:
                reason = "; ".join(
                    f"{name}: {message}" if name else message for name, message in failure.reasons
                )
                writer.writerow(
                    [csvio.escape_cell(cell) for cell in failure.cells]
                    + [str(failure.line), csvio.escape_cell(reason)]
                )
            out.flush()
            os.fsync(out.fileno())
            return out.tell()


# --- Flat kinds: one row, one record ---------------------------------------------------


def _split_reasons(errs: list[str] | None, err: str | None) -> list[tuple[str | None, str]]:
    reasons: list[tuple[str | None, str]] = []
    if err:
        reasons.append((None, err))
    for item in errs or []:
        name, _, message = item.partition("\t")
        reasons.append((name or None, message))
    return reasons


class ChunkTyping:
    """The SQL that types and validates a chunk of staged rows into `imp_chunk`."""

    def __init__(self, engine: Engine, source: str, extra_columns: str = "") -> None:
        self.engine = engine
        kind, header = engine.kind, engine.header
        self.fields = [f for f in kind.fields if not f.ignored]
        self.present = [f for f in self.fields if header.has(f.name)]
        self.source = source  # FROM ... WHERE ... over `s` (staged rows of the chunk)
        inner = [
            f"{sql.clean(f's.c{header.fields[f.name].index}')} AS x_{f.name}" for f in self.present
        ]
        inner += [f"{sql.clean(f's.c{u.index}')} AS u_{n}" for n, u in enumerate(header.unknown)]
        self.inner = ", ".join(
            ["s.rn", "s.line", "s.err", *inner, *([extra_columns] if extra_columns else [])]
        )
        values, errors, joins = [], [], []
        for f in self.fields:
            if f in self.present:
                t = sql.typed(f, f"c.x_{f.name}", date_order=engine.date_order(f))
                values.append(f"({t.value})::{sql.SQL_TYPES[f.type]}")
                if t.error:
                    errors.append(t.error)
                joins.extend(t.joins)
            else:
                values.append(f"NULL::{sql.SQL_TYPES[f.type]}")
        if header.unknown:
            parts = []
            pairs = [(u.key, f"c.u_{n}") for n, u in enumerate(header.unknown)]
            for start in range(0, len(pairs), 40):
                args = ", ".join(f"{sql.quote(k)}, {v}" for k, v in pairs[start : start + 40])
                parts.append(f"jsonb_build_object({args})")
            values.append("jsonb_strip_nulls(" + " || ".join(parts) + ")")
        else:
            values.append("NULL::jsonb")
        self.values = values
        self.errors = (
            f"array_remove(ARRAY[{', '.join(errors)}]::text[], NULL)" if errors else "'{}'::text[]"
        )
        self.joins = " ".join(joins)
        self.python_fields = [f for f in self.present if f.type in sql.PYTHON_CHECKED]

    def columns_sql(self) -> str:
        return (
            ", ".join(f"v_{f.name} {sql.SQL_TYPES[f.type]}" for f in self.fields)
            + ", v__extra jsonb"
        )

    def value_names(self) -> str:
        return ", ".join([*(f"v_{f.name}" for f in self.fields), "v__extra"])

    def select(self, extra_select: str = "", extra_joins: str = "") -> str:
        selected = ", ".join(["c.rn", "c.line", "c.err", *self.values, self.errors])
        if extra_select:
            selected += ", " + extra_select
        return (
            f"SELECT {selected} FROM (SELECT {self.inner} {self.source} OFFSET 0) c "
            f"{self.joins} {extra_joins}"
        )

    def run_python_checks(self, params: dict[str, Any]) -> None:
        execute("TRUNCATE imp_py")
        if not self.python_fields:
            return
        parts = []
        for f in self.python_fields:
            column = self.engine.header.fields[f.name]
            candidate = sql.python_candidates(f, "cand.x")
            # Filtered before DISTINCT: only what SQL cannot decide is sorted.
            parts.append(
                f"SELECT DISTINCT {sql.quote(f.name)}, cand.x FROM (SELECT "
                f"{sql.clean(f's.c{column.index}')} AS x {self.source} OFFSET 0) cand "
                f"WHERE cand.x IS NOT NULL AND {candidate}"
            )
        rows = fetchall(" UNION ALL ".join(parts), params)
        if not rows:
            return
        by_name = {f.name: f for f in self.python_fields}
        region = self.engine.region
        results = []
        for name, raw in rows:
            value, error = python_check(by_name[name], raw, region=region)
            results.append((name, raw, value, error))
        copy_rows("COPY imp_py (field, raw, value, error) FROM STDIN", results)
        # Its size varies from chunk to chunk: without statistics the planner would
        # take it for a few rows and scan it once per staged row.
        execute("ANALYZE imp_py")


class FlatApplier:
    """Customers, products (and leads): a row creates or updates one record, matched by
    the kind's keys in order (customers: id, external_id, email)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.kind = engine.kind
        self.job = engine.job
        self.table = self.kind.model._meta.db_table
        self.params = engine.params

    def tables(self) -> list[str]:
        return [self.table]

    # -- Plan ----------------------------------------------------------------------------

    def plan(self) -> int:
        engine, header = self.engine, self.engine.header
        if any(f.type is T.PHONE for f in self.kind.fields if header.has(f.name)):
            ensure_phone_rules()
        engine.infer_date_orders(
            [f for f in self.kind.fields if header.has(f.name) and f.type in (T.DATE, T.DATETIME)]
        )
        self.typing = ChunkTyping(engine, "FROM imp_stage s WHERE s.rn BETWEEN %(lo)s AND %(hi)s")
        execute("CREATE TEMP TABLE imp_py (field text, raw text, value text, error text)")
        execute("CREATE INDEX ON imp_py (field, raw)")
        execute(
            f"CREATE TEMP TABLE imp_chunk (rn bigint PRIMARY KEY, line bigint, err text, "
            f"{self.typing.columns_sql()}, errs text[], dup_line bigint, dup_key text, "
            "target_id uuid, matched_by text, action text, new_id uuid, number bigint)"
        )
        execute("CREATE INDEX ON imp_chunk (new_id)")
        execute("CREATE TEMP TABLE imp_match (rn bigint PRIMARY KEY, id uuid)")
        self._plan_duplicates()
        return int(fetchall("SELECT count(*) FROM imp_stage")[0][0])

    def _dedup_keys(self) -> list[tuple[str, str]]:
        """(label, SQL over `s`) of each unique value a row carries."""
        header = self.engine.header
        keys = []
        names = [(k.field, k.label) for k in self.kind.keys]
        if self.kind.create_id_field:
            names.append((self.kind.create_id_field, self.kind.create_id_field))
        for field_name, label in names:
            if not header.has(field_name):
                continue
            f = self.kind.field(field_name)
            x = sql.clean(f"s.c{header.fields[field_name].index}")
            if f.type in (T.EMAIL, T.UUID):
                x = f"lower({x})"
            keys.append((label, x))
        return keys

    def _plan_duplicates(self) -> None:
        """imp_dup: rows a later row of the file shares a key with. The later line wins;
        the earlier is reported. Found by hashing, then ordering only the repeats."""
        keys = self._dedup_keys()
        execute("CREATE TEMP TABLE imp_dup (rn bigint PRIMARY KEY, later_line bigint, key text)")
        if not keys:
            return
        execute("SET LOCAL work_mem = '64MB'")
        parts = []
        for label, x in keys:
            parts.append(
                f"SELECT rn, {sql.quote(label)} AS key, lead(line) OVER "
                f"(PARTITION BY k ORDER BY rn) AS later_line FROM ("
                f"SELECT s.rn, s.line, {x} AS k FROM imp_stage s WHERE s.err IS NULL) q "
                f"WHERE k IN (SELECT {x} FROM imp_stage s WHERE s.err IS NULL "
                f"GROUP BY 1 HAVING count(*) > 1)"
            )
        execute(
            "INSERT INTO imp_dup (rn, later_line, key) "
            "SELECT rn, min(later_line), (array_agg(key ORDER BY later_line))[1] FROM ("
            + " UNION ALL ".join(parts)
            + ") d WHERE later_line IS NOT NULL GROUP BY rn",
            self.params,
        )
        execute("ANALYZE imp_dup")

    # -- Apply ---------------------------------------------------------------------------

    def apply(self, lo: int, hi: int) -> Outcome:
        outcome = self._apply(lo, hi)
        # Deferred foreign keys are checked here, inside the chunk's savepoint, rather
        # than at commit: a violation fails this chunk's rows, not the job.
        check_foreign_keys(self.engine)
        return outcome

    def _apply(self, lo: int, hi: int) -> Outcome:
        params = {**self.params, "lo": lo, "hi": hi}
        typing = self.typing
        execute("TRUNCATE imp_chunk")
        typing.run_python_checks(params)
        execute(
            f"INSERT INTO imp_chunk (rn, line, err, {typing.value_names()}, errs, dup_line, "
            "dup_key, new_id) "
            + typing.select(
                f"d.later_line, d.key, {self._new_id()}", "LEFT JOIN imp_dup d ON d.rn = c.rn"
            ),
            params,
        )
        for statement in self.kind.derive:
            execute(statement, params)
        self._match(params)
        self._classify(params)
        outcome = Outcome(rows=hi - lo + 1)
        planned = dict(fetchall("SELECT action, count(*) FROM imp_chunk GROUP BY action"))
        if not self.job.dry_run:
            if planned.get("create"):
                self._insert(params, planned["create"])
            if planned.get("update"):
                self._update(params)
        elif planned.get("update"):
            self._would_write(params)
        counts = dict(fetchall("SELECT action, count(*) FROM imp_chunk GROUP BY action"))
        outcome.created = counts.get("created", 0) + counts.get("create", 0)
        outcome.updated = counts.get("updated", 0)
        outcome.skipped = counts.get("update", 0) + counts.get("skip", 0)
        outcome.failures = self._failures()
        outcome.failed = len(outcome.failures)
        return outcome

    def settle(self) -> None:
        """Nothing waits for the end of a job: a row writes one record."""

    def unit_failed(self, unit: int, exc: Exception) -> Outcome:
        """A row that still fails on its own (a concurrent writer holds its key)."""
        log.warning("import %s: row %s failed: %s", self.job.pk, unit, exc)
        rows = fetchall("SELECT * FROM imp_stage WHERE rn = %(rn)s", {"rn": unit})
        message = (
            "Conflict (409): this row conflicts with a record written meanwhile; import it again."
        )
        if not isinstance(exc, IntegrityError):
            message = f"This row could not be written: {str(exc).splitlines()[0]}"
        failures = [
            FailedRow(rn=row[0], line=row[1], reasons=[(None, message)], cells=list(row[3:]))
            for row in rows
        ]
        return Outcome(rows=1, failed=len(failures), failures=failures)

    VALID = "ch.err IS NULL AND ch.dup_line IS NULL AND ch.errs = '{}'"

    def _new_id(self) -> str:
        """SQL: the id a row would create its record with (its create-id field's value,
        seed 001's IdClient, else a new UUID)."""
        create_id = self.kind.create_id_field
        if create_id and self.engine.header.has(create_id):
            f = self.kind.field(create_id)
            typed = sql.typed(f, f"c.x_{create_id}")
            return f"coalesce({typed.value}, crm_uuid7())"
        return "crm_uuid7()"

    def _match(self, params: dict[str, Any]) -> None:
        kind, header = self.kind, self.engine.header
        valid = self.VALID
        match_keys = [k for k in kind.keys if k.match and header.has(k.field)]
        for key in match_keys:
            value = key.value_expr
            # A scalar subquery per row probes the key's index; only the rows it finds
            # are written (into imp_match, then imp_chunk by its primary key).
            execute("TRUNCATE imp_match")
            execute(
                f"INSERT INTO imp_match (rn, id) SELECT m.rn, m.id FROM (SELECT ch.rn, "
                f"(SELECT t.id FROM {self.table} t WHERE t.account_id = %(account)s "
                f"AND {key.table_expr} = {value} AND {key.guard} LIMIT 1) AS id "
                f"FROM imp_chunk ch WHERE ch.target_id IS NULL AND {valid} AND {value} IS NOT NULL "
                "OFFSET 0) m "
                "WHERE m.id IS NOT NULL",
                params,
            )
            execute(
                f"UPDATE imp_chunk ch SET target_id = m.id, matched_by = {sql.quote(key.label)} "
                "FROM imp_match m WHERE ch.rn = m.rn"
            )
        noun = kind.noun
        # A key the row gives that another record holds: 409. A row matched by a match
        # key was probed (and not found) on every earlier one, and an unmatched row on
        # all of them: only later keys (and keys that are not match keys) need a probe.
        labels = [k.label for k in match_keys]
        for key in kind.keys:
            if not header.has(key.field) or key.field == "id":
                continue
            if key.label in labels:
                earlier = labels[: labels.index(key.label)]
                if not earlier:
                    continue
                scope = f"ch.matched_by IN ({', '.join(sql.quote(label) for label in earlier)})"
            else:
                scope = "TRUE"
            message = sql.quote(f"Conflict (409): another {noun} has this {key.label}.")
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || "
                f"({sql.quote(key.field)} || E'\\t' || {message}) "
                f"WHERE {valid} AND {scope} AND {key.value_expr} IS NOT NULL "
                f"AND (SELECT TRUE FROM {self.table} t "
                f"WHERE t.account_id = %(account)s AND {key.table_expr} = {key.value_expr} "
                f"AND {key.guard} AND t.id IS DISTINCT FROM ch.target_id LIMIT 1)",
                params,
            )
        # A record found by a later key must not lose the value of an earlier one
        # (the bulk API's rule: an email whose customer has another external_id).
        for position, key in enumerate(match_keys):
            if not key.keep_on_later_match:
                continue
            later = [k.label for k in match_keys[position + 1 :]]
            if not later:
                continue
            column = key.table_expr
            message = sql.quote(
                f"Conflict (409): the {noun} this row matches has another {key.label}: "
            )
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || ({sql.quote(key.field)} || E'\\t' || "
                f"{message} || {column}) FROM {self.table} t "
                f"WHERE {valid} AND t.account_id = %(account)s AND t.id = ch.target_id "
                f"AND ch.matched_by IN ({', '.join(sql.quote(label) for label in later)}) "
                f"AND {column} IS NOT NULL AND {key.value_expr} IS NOT NULL "
                f"AND {column} <> {key.value_expr}",
                params,
            )
        create_id = kind.create_id_field
        if create_id and header.has(create_id):
            message = sql.quote(f"Conflict (409): another {noun} has this id.")
            execute(
                f"UPDATE imp_chunk ch SET errs = ch.errs || "
                f"({sql.quote(create_id)} || E'\\t' || {message}) "
                f"WHERE {valid} AND ch.v_{create_id} IS NOT NULL "
                f"AND ch.v_{create_id} IS DISTINCT FROM ch.target_id AND (ch.target_id IS NOT NULL "
                f"OR (SELECT TRUE FROM {self.table} t WHERE t.account_id = %(account)s "
                f"AND t.id = ch.v_{create_id}) IS NOT NULL)",
                params,
            )

    def _classify(self, params: dict[str, Any]) -> None:
        on_conflict = self.job.on_conflict
        noun = self.kind.noun
        exists = sql.quote(f"Conflict (409): a {noun} with this key exists (on_conflict=error): ")
        execute(
            "UPDATE imp_chunk ch SET action = CASE "
            f"WHEN NOT ({self.VALID}) THEN 'fail' "
            "WHEN ch.target_id IS NULL THEN 'create' "
            f"WHEN %(on_conflict)s = 'skip' THEN 'skip' "
            f"WHEN %(on_conflict)s = 'error' THEN 'fail' ELSE 'update' END, "
            # A superseded row is reported as such unless it has errors of its own.
            "errs = CASE WHEN ch.dup_line IS NOT NULL AND ch.err IS NULL AND ch.errs = '{}' "
            "THEN ch.errs || ('' || E'\\t' || 'Line ' "
            "|| ch.dup_line || ' has the same ' || ch.dup_key || ': the later line wins.') "
            f"WHEN {self.VALID} AND ch.target_id IS NOT NULL AND %(on_conflict)s = 'error' "
            f"THEN ch.errs || ('' || E'\\t' || {exists} || ch.matched_by) ELSE ch.errs END",
            {**params, "on_conflict": on_conflict},
        )
        for condition, message in self.kind.create_checks:
            execute(
                f"UPDATE imp_chunk ch SET action = 'fail', "
                f"errs = ch.errs || ('' || E'\\t' || {sql.quote(message)}) "
                f"WHERE ch.action = 'create' AND NOT ({condition})",
                params,
            )

    # -- Writing -------------------------------------------------------------------------

    def _written_fields(self) -> list[Field]:
        header = self.engine.header
        derived = self.kind.options.get("derived", {})
        written = []
        for f in self.kind.fields:
            if f.ignored or f.column is None:
                continue
            source = derived.get(f.name)
            if header.has(f.name) or (source and header.has(source)):
                written.append(f)
        return written

    def _new_value(self, f: Field, *, update: bool) -> str:
        v = f"ch.v_{f.name}"
        current = f"t.{f.column}"
        if f.type is T.TAGS:
            v = f"{v}::varchar({f.max_length or 100})[]"
        if f.column == self.kind.metadata_column:
            base = f"coalesce({v}, {current})" if update else f"coalesce({v}, '{{}}'::jsonb)"
            return f"({base} || coalesce(ch.v__extra, '{{}}'::jsonb))"
        if update:
            return f"coalesce({v}, {current})"
        return v

    def _insert(self, params: dict[str, Any], count: int) -> None:
        from accounts.services import sequence_reserve

        kind = self.kind
        first = 0
        if kind.sequence:
            first = sequence_reserve(
                account_id=self.engine.account.pk, name=kind.sequence, count=count
            )
        self.first_number = first
        columns, values, extra = self._insert_columns()
        insert_new(
            f"INSERT INTO {self.table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM imp_chunk ch WHERE ch.action = 'create' "
            "ORDER BY ch.rn",
            "UPDATE imp_chunk ch SET action = 'created' FROM ins WHERE ch.new_id = ins.id",
            {**params, **extra, "first": self.first_number},
        )
        taken = (
            f"Conflict (409): another {kind.noun} has one of its keys "
            "(written meanwhile, or an id taken)."
        )
        # Not inserted: a key taken meanwhile by a concurrent writer, or an id another
        # account's record has (row-level security hides it from the checks above).
        execute(
            "UPDATE imp_chunk ch SET action = 'fail', errs = ch.errs || ('' || E'\\t' || "
            f"{sql.quote(taken)}) "
            "WHERE ch.action = 'create'",
            {**params, **extra},
        )

    def _insert_columns(self) -> tuple[list[str], list[str], dict[str, Any]]:
        from django.contrib.postgres.fields import ArrayField
        from django.db.models import JSONField

        written = {f.column: f for f in self._written_fields()}
        columns: list[str] = []
        values: list[str] = []
        extra: dict[str, Any] = {}
        for model_field in self.kind.model._meta.concrete_fields:
            column = str(model_field.column)
            columns.append(column)
            if column == "id":
                values.append("ch.new_id")
            elif column == "account_id":
                values.append("%(account)s::uuid")
            elif column == "number" and self.kind.sequence:
                values.append("%(first)s + row_number() OVER (ORDER BY ch.rn) - 1")
            elif getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            ):
                values.append("now()")
            else:
                default = model_field.get_default()
                db_type = model_field.db_type(connection)
                name = f"d_{column}"
                if isinstance(model_field, JSONField):
                    extra[name] = json.dumps(default if default is not None else {})
                elif isinstance(model_field, ArrayField):
                    extra[name] = list(default or [])
                else:
                    extra[name] = default
                default_sql = f"%({name})s::{db_type}"
                f = written.get(column)
                if f is None and column == self.kind.metadata_column:
                    values.append(f"({default_sql} || coalesce(ch.v__extra, '{{}}'::jsonb))")
                elif f is None:
                    values.append(default_sql)
                else:
                    values.append(f"coalesce({self._new_value(f, update=False)}, {default_sql})")
        return columns, values, extra

    def _change(self) -> tuple[str, str, str]:
        """(SET list, old row, new row) of an update."""
        written = self._written_fields()
        metadata = self.kind.metadata_column
        if metadata and self.engine.header.unknown and metadata not in {f.column for f in written}:
            sets = [(metadata, f"(t.{metadata} || coalesce(ch.v__extra, '{{}}'::jsonb))")]
        else:
            sets = []
        sets += [(str(f.column), self._new_value(f, update=True)) for f in written]
        set_sql = ", ".join(f"{column} = {value}" for column, value in sets)
        old = ", ".join(f"t.{column}" for column, _ in sets)
        new = ", ".join(value for _, value in sets)
        touch = [
            f.column for f in self.kind.model._meta.concrete_fields if getattr(f, "auto_now", False)
        ]
        if touch:
            set_sql += ", " + ", ".join(f"{column} = now()" for column in touch)
        return set_sql, f"ROW({old})", f"ROW({new})"

    def _update(self, params: dict[str, Any]) -> None:
        set_sql, old, new = self._change()
        if not old or old == "ROW()":
            return
        # Lock the records that will change, in id order as every writer does (so no
        # deadlock); a record that would not change is neither locked nor written, and
        # the UPDATE re-checks each locked row against its latest version.
        locked = execute(
            f"SELECT 1 FROM {self.table} WHERE account_id = %(account)s AND id = ANY(ARRAY("
            f"SELECT t.id FROM imp_chunk ch JOIN {self.table} t ON t.account_id = %(account)s "
            f"AND t.id = ch.target_id WHERE ch.action = 'update' AND {old} IS DISTINCT FROM {new}"
            ")) ORDER BY id FOR UPDATE",
            params,
        )
        if not locked:  # nothing would change (a file imported again)
            return
        execute(
            f"WITH upd AS (UPDATE {self.table} t SET {set_sql} FROM imp_chunk ch "
            f"WHERE ch.action = 'update' AND t.account_id = %(account)s AND t.id = ch.target_id "
            f"AND {old} IS DISTINCT FROM {new} RETURNING ch.rn) "
            "UPDATE imp_chunk ch SET action = 'updated' FROM upd WHERE ch.rn = upd.rn",
            params,
        )

    def _would_write(self, params: dict[str, Any]) -> None:
        _set_sql, old, new = self._change()
        if not old or old == "ROW()":
            return
        execute(
            f"UPDATE imp_chunk ch SET action = 'updated' FROM {self.table} t "
            f"WHERE ch.action = 'update' AND t.account_id = %(account)s AND t.id = ch.target_id "
            f"AND {old} IS DISTINCT FROM {new}",
            params,
        )

    def _failures(self) -> list[FailedRow]:
        width = len(self.engine.fmt.header)
        cells = ", ".join(f"s.c{i}" for i in range(width))
        rows = fetchall(
            f"SELECT ch.rn, ch.line, ch.err, ch.errs, {cells} FROM imp_chunk ch "
            "JOIN imp_stage s ON s.rn = ch.rn WHERE ch.action = 'fail' ORDER BY ch.rn"
        )
        return [
            FailedRow(
                rn=row[0], line=row[1], reasons=_split_reasons(row[3], row[2]), cells=list(row[4:])
            )
            for row in rows
        ]
