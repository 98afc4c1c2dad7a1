"""Reads of import jobs and their error reports."""

import uuid
from pathlib import Path

from django.db.models import QuerySet

from accounts.models import Account
from imports.models import ImportJob


def import_job_list(account: Account) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(account=account).order_by("-created_at", "-id")


def import_job_get(account: Account, job_id: uuid.UUID | str) -> ImportJob | None:
    return import_job_list(account).filter(pk=job_id).first()


def import_job_report(job: ImportJob) -> Path | None:
    """The job's errors.csv, if the engine has started writing it."""
    path = job.report_file
    return path if path.exists() else None
