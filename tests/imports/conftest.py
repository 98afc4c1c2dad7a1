"""Helpers of the import tests: write a CSV (in any encoding), run it through the engine
in-process exactly as a worker does, and read back what was stored."""

import csv
import io
from pathlib import Path

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer
from imports import jobs, runner
from imports.models import ImportJob
from orders.models import Order, Product
from tests.factories import ImportJobFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploads and error reports of a test live in its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the runner or the service catches it."""


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 10 units."""
    monkeypatch.setattr(runner, "FIRST_CHUNK", 10)
    monkeypatch.setattr(runner, "MIN_CHUNK", 10)
    monkeypatch.setattr(runner, "MAX_CHUNK", 10)


def csv_bytes(rows, *, delimiter=",", encoding="utf-8", newline="\r\n"):
    """The rows (the first being the header) as a CSV file's bytes."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode(encoding)


def run_import(account, kind, content, *, filename="import.csv", chunk_hook=None, **options):
    """Create the job from `content` (bytes or str) and run it to its end in-process;
    the job as stored afterwards."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    job = ImportJobFactory(
        account=account, kind=kind, filename=filename, content=content, **options
    )
    if job.status == "queued":
        jobs.import_job_run(account_id=account.pk, job_id=job.pk, chunk_hook=chunk_hook)
    return fresh(account, job)


def fresh(account, job):
    with account_scope(account):
        return ImportJob.objects.get(pk=job.pk)


def customers(account, **filters):
    with account_scope(account):
        return list(Customer.objects.filter(account=account, **filters).order_by("number"))


def customer(account, **filters):
    with account_scope(account):
        return Customer.objects.get(account=account, **filters)


def orders(account):
    with account_scope(account):
        found = list(
            Order.objects.filter(account=account).order_by("number").prefetch_related("items")
        )
        for order in found:
            order.stored_items = list(order.items.order_by("position"))
    return found


def products(account):
    with account_scope(account):
        return list(Product.objects.filter(account=account).order_by("sku"))


def report_rows(job):
    """errors.csv as a list of dicts."""
    path = Path(job.report_file)
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def snapshot(account):
    """Every customer column, to compare before and after a re-import."""
    with account_scope(account):
        return list(Customer.objects.filter(account=account).order_by("id").values())
