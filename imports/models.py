"""Import jobs: one row per uploaded file, the engine's progress and outcome.

The uploaded bytes live on disk, not in the database: `MEDIA_ROOT/imports/<account
id>/<job id>/` holds `source.csv` (the upload) and `errors.csv` (the failed rows, written
as chunks commit). Web and worker processes on one machine share that directory."""

from pathlib import Path

from django.conf import settings
from django.db import models

from crm_project.models import TenantModel


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED)


class OnConflict(models.TextChoices):
    UPDATE = "update", "Update the stored record"
    SKIP = "skip", "Keep the stored record"
    ERROR = "error", "Fail the row"


class DateFormat(models.TextChoices):
    AUTO = "auto", "Detect (ISO, or day/month order inferred from the file)"
    DMY = "dmy", "Day first (31/12/2024)"
    MDY = "mdy", "Month first (12/31/2024)"


class ImportPhase(models.TextChoices):
    READING = "reading", "Reading the file"
    PLANNING = "planning", "Checking duplicates"
    APPLYING = "applying", "Applying rows"
    DONE = "done", "Done"


class ImportJob(TenantModel):
    # A kind declared in imports.kinds (customers, leads, orders, products).
    kind = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    phase = models.CharField(max_length=10, choices=ImportPhase.choices, blank=True)
    filename = models.CharField(max_length=255)
    # Relative to MEDIA_ROOT for uploads; absolute for a command's file read in place.
    source_path = models.CharField(max_length=1000)
    file_size = models.BigIntegerField(default=0)
    on_conflict = models.CharField(
        max_length=6, choices=OnConflict.choices, default=OnConflict.UPDATE
    )
    dry_run = models.BooleanField(default=False)
    date_format = models.CharField(max_length=4, choices=DateFormat.choices, default="auto")

    # Rows are the file's records (header excluded); for orders, the counts below are
    # orders while total_rows and processed_rows count lines.
    total_rows = models.IntegerField(null=True, blank=True)
    processed_rows = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    # The first ERRORS_KEPT problems: {line, column, value, message}; every failed row
    # is in the error report.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.IntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    # Engine state. `checkpoint`: the last unit (row, or order group) whose chunk is
    # committed; `report_size`: the bytes of errors.csv committed with it. A resumed
    # job starts after the checkpoint and truncates the report to that size.
    checkpoint = models.BigIntegerField(default=0)
    report_size = models.BigIntegerField(default=0)
    state = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="importjob_created_idx"),
            # The reaper's scan: running jobs by heartbeat, across accounts.
            models.Index(
                fields=["heartbeat_at"],
                condition=models.Q(status="running"),
                name="importjob_running_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} import {self.filename} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def directory(self) -> Path:
        """MEDIA_ROOT/imports/<account>/<job>: its upload and its error report."""
        return Path(settings.MEDIA_ROOT) / "imports" / str(self.account_id) / str(self.pk)

    @property
    def source_file(self) -> Path:
        path = Path(self.source_path)
        return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path

    @property
    def report_file(self) -> Path:
        """errors.csv, written as chunks commit."""
        return self.directory / "errors.csv"
