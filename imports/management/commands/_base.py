"""What the import commands share: the same engine as the API, run in-process with a
progress bar, then the summary line and the error report's path. Exit status 1 only
when the file cannot be processed at all (missing, unreadable, empty, not a CSV, a
required column missing); failed rows are reported, not fatal."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope
from imports import exports, jobs, services
from imports.models import DateFormat, ImportJob, ImportPhase, ImportStatus, OnConflict


class ImportCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument(
            "--on-conflict",
            choices=OnConflict.values,
            default=OnConflict.UPDATE,
            help="a row matching a stored record: update it (default), skip it, or fail it",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would happen, write nothing"
        )
        parser.add_argument(
            "--date-format",
            choices=DateFormat.values,
            default=DateFormat.AUTO,
            help="day/month order of dates such as 03/04/2024 (default: from the file)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_by_slug_or_id(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            self.stderr.write(f"Cannot read {path}: no such file.")
            sys.exit(1)
        with account_scope(account):
            job = services.import_job_create(
                account=account,
                kind=self.kind,
                filename=path.name,
                path=path,
                on_conflict=options["on_conflict"],
                dry_run=options["dry_run"],
                date_format=options["date_format"],
                enqueue=False,
            )
        if job.status != ImportStatus.FAILED:
            job = self._run(job, show=not options["no_progress"]) or job
        self._summary(job)
        if job.status == ImportStatus.FAILED:
            sys.exit(1)

    def _run(self, job: ImportJob, *, show: bool) -> ImportJob | None:
        bar = tqdm(
            desc=f"{self.kind}: reading",
            unit=" rows",
            disable=not show,
            file=getattr(self.stderr, "_out", sys.stderr),
            dynamic_ncols=True,
        )

        def progress(current: ImportJob) -> None:
            if current.phase == ImportPhase.READING:
                bar.n = current.total_rows or 0
            elif current.phase == ImportPhase.APPLYING:
                if bar.total != current.total_rows:
                    bar.reset(total=current.total_rows)
                    bar.set_description(f"{self.kind}: importing")
                bar.n = current.processed_rows
                bar.set_postfix(
                    created=current.created,
                    updated=current.updated,
                    skipped=current.skipped,
                    failed=current.failed,
                    refresh=False,
                )
            bar.refresh()

        try:
            return jobs.import_job_run(
                account_id=job.account_id, job_id=job.pk, on_progress=progress
            )
        except KeyboardInterrupt:
            with account_scope(job.account_id):
                services.import_job_interrupt(job=job)
            self.stderr.write("Interrupted: the rows committed so far are kept.")
            sys.exit(130)
        finally:
            bar.close()

    def _summary(self, job: ImportJob) -> None:
        if job.status == ImportStatus.FAILED:
            self.stderr.write(f"Import failed: {job.message}")
        else:
            for warning in job.warnings:
                self.stderr.write(f"warning: {warning}")
            if job.message:
                self.stdout.write(job.message)
        self.stdout.write(
            f"created={job.created} updated={job.updated} skipped={job.skipped} failed={job.failed}"
        )
        report = job.report_file
        if report.exists():
            self.stdout.write(f"error report: {report}")
        else:
            self.stdout.write("error report: none (the file could not be read)")


class ExportCommand(BaseCommand):
    """An account's rows as the API's export has them (its columns and escaping),
    streamed in constant memory to --out or standard output. A subclass says which
    rows, in which order, and their COPY statement (`copy_sql`)."""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument("--out", help="the file to write (default: standard output)")

    def copy_sql(self, account: Any) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_by_slug_or_id(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']!r}.")
        with account_scope(account):
            statement, params = self.copy_sql(account)
        pieces = exports.stream(account.pk, statement, params)
        if options["out"]:
            with open(options["out"], "wb") as out:
                for piece in pieces:
                    out.write(piece)
        else:
            for piece in pieces:
                sys.stdout.buffer.write(piece)
            sys.stdout.flush()
