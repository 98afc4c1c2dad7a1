"""What an import reports: each chunk's outcome (counters and failed rows), the job's
first problems (`errors`, for the page and the API) and the error report `errors.csv`
(every failed row, ready to fix and upload again)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imports import csvio
from imports.kinds import HeaderMap
from imports.models import ImportJob

ERRORS_KEPT = 1_000


@dataclass
class FailedRow:
    rn: int
    line: int
    reasons: list[tuple[str | None, str]]  # (field or None, message)
    cells: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What a chunk (or a whole job) did: records created, updated, skipped (nothing
    would change, or on_conflict=skip) and failed, the file rows it covered."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    rows: int = 0
    failures: list[FailedRow] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed
        self.rows += other.rows
        self.failures.extend(other.failures)

    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.skipped} skipped, "
            f"{self.failed} failed"
        )


def counts(job: ImportJob) -> str:
    """`N created, N updated, N skipped, N failed`, as the job's counters stand."""
    return Outcome(
        created=job.created, updated=job.updated, skipped=job.skipped, failed=job.failed
    ).summary()


def split_reasons(errs: list[str] | None, err: str | None) -> list[tuple[str | None, str]]:
    """The reasons of a row: its record's error, then each `field<TAB>message` the
    typing and the checks added (an empty field: the row as a whole)."""
    reasons: list[tuple[str | None, str]] = []
    if err:
        reasons.append((None, err))
    for item in errs or []:
        name, _, message = item.partition("\t")
        reasons.append((name or None, message))
    return reasons


def kept_errors(
    kept: list[dict[str, Any]], failures: list[FailedRow], header: HeaderMap
) -> list[dict[str, Any]]:
    """`kept` and the reasons of `failures`, up to ERRORS_KEPT: {line, column (as the
    file names it; a field the file has no column for, such as a missing consent
    field, by its name), value, message}."""
    kept = list(kept)
    for failure in failures:
        for field_name, message in failure.reasons:
            if len(kept) >= ERRORS_KEPT:
                return kept
            column = header.fields.get(field_name) if field_name else None
            value = None
            if column is not None and column.index < len(failure.cells):
                value = failure.cells[column.index]
            kept.append(
                {
                    "line": failure.line,
                    "column": column.header if column else field_name,
                    "value": value,
                    "message": message,
                }
            )
    return kept


class Report:
    """errors.csv: the failed rows' original cells, then `line` and `reason`. Appended
    as chunks commit; its size is part of each chunk's checkpoint, so a retried or
    resumed chunk never leaves a duplicate line."""

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

    def append(self, failures: list[FailedRow]) -> int:
        """Write `failures` to disk (fsynced: the chunk commits their size); the
        report's size."""
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
