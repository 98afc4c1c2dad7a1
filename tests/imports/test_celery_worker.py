"""A real Celery worker runs an import uploaded through the API: the task carries the
sender's account, commits chunk by chunk, and reads the upload from MEDIA_ROOT."""

import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.imports.conftest import csv_bytes

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(start_celery_worker, settings, tmp_path):
    """A worker sharing this test's MEDIA_ROOT (through CRM_VAR_DIR)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return start_celery_worker(CRM_VAR_DIR=str(tmp_path))


def test_a_worker_imports_an_uploaded_file(worker, api_client, account):
    rows = [["Mail", "Nom"]] + [[f"c{i}@example.com", f"N{i}"] for i in range(300)] + [["x", "y"]]
    response = api_client.post(
        "/api/v1/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("c.csv", csv_bytes(rows))},
        format="multipart",
    )
    assert response.status_code == 202
    url = f"/api/v1/imports/{response.json()['id']}/"

    deadline = time.monotonic() + 60
    job = response.json()
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = api_client.get(url).json()

    assert job["status"] == "succeeded", job
    assert (job["created"], job["failed"], job["processed_rows"]) == (300, 1, 301)
    with account_scope(account):
        assert Customer.objects.count() == 300
    assert settings.MEDIA_ROOT.exists()
