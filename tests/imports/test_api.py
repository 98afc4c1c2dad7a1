"""The imports API: upload (202), the job, its error report, cancel, and the rules every
endpoint keeps (tenancy, roles, the error shape, 413)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm_project.tenancy import account_scope
from imports.models import ImportJob
from tests.imports.conftest import csv_bytes, customers, fresh

pytestmark = pytest.mark.django_db

IMPORTS = "/api/v1/imports/"
GOOD_AND_BAD = csv_bytes([["Mail", "Nom"], ["ann@example.com", "Lee"], ["nope", "Bad"]])


def upload(client, content=GOOD_AND_BAD, url=IMPORTS, **fields):
    data = {"file": SimpleUploadedFile("clients.csv", content, content_type="text/csv"), **fields}
    if url == IMPORTS:
        data.setdefault("kind", "customers")
    return client.post(url, data, format="multipart")


def test_an_upload_answers_202_with_the_queued_job_and_runs_in_celery(
    api_client, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["kind"] == "customers"
    assert body["filename"] == "clients.csv"
    # The task ran (eagerly) after the request's commit: read the job back.
    job = api_client.get(f"{IMPORTS}{body['id']}/").json()
    assert job["status"] == "succeeded"
    assert (job["total_rows"], job["processed_rows"]) == (2, 2)
    assert (job["created"], job["updated"], job["skipped"], job["failed"]) == (1, 0, 0, 1)
    assert job["errors"] == [
        {"line": 3, "column": "Mail", "value": "nope", "message": "Enter a valid email address."}
    ]
    assert job["errors_url"].endswith(f"/api/v1/imports/{body['id']}/errors.csv")
    assert job["started_at"]
    assert job["finished_at"]
    assert [c.email for c in customers(account)] == ["ann@example.com"]


def test_the_error_report_is_the_failed_rows_with_line_and_reason(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(api_client).json()["id"]

    response = api_client.get(f"{IMPORTS}{job_id}/errors.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines() == [
        "Mail,Nom,line,reason",
        "nope,Bad,3,email: Enter a valid email address.",
    ]


def test_customers_import_is_a_customers_job(
    api_client, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client, url="/api/v1/customers/import/", dry_run="true")

    assert response.status_code == 202
    assert (response.json()["kind"], response.json()["dry_run"]) == ("customers", True)
    assert customers(account) == []


def test_another_accounts_job_is_a_404(
    api_client, other_api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(api_client).json()["id"]

    assert other_api_client.get(f"{IMPORTS}{job_id}/").status_code == 404
    assert other_api_client.get(f"{IMPORTS}{job_id}/errors.csv").status_code == 404
    assert other_api_client.post(f"{IMPORTS}{job_id}/cancel/").status_code == 404
    assert other_api_client.get(IMPORTS).json()["count"] == 0
    assert api_client.get(IMPORTS).json()["count"] == 1


def test_unknown_kind_is_a_400_naming_the_kinds(api_client):
    response = upload(api_client, kind="contacts")

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "kind"
    assert "customers, leads, orders, products" in error["detail"]


def test_no_file_is_a_400(api_client):
    response = api_client.post(IMPORTS, {"kind": "customers"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "file"


def test_a_file_over_the_limit_is_a_413(api_client, settings):
    settings.FILE_UPLOAD_MAX_SIZE = 1024
    response = upload(api_client, content=b"Mail\n" + b"a@example.com\n" * 200)

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert response.json()["message"].startswith("The file is too large")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"Mail,Nom\n", "The file has a header line but no rows."),
        (b"\x00\x01\x02binary", "This is not a CSV file"),
        (b"Nom,Ville\nLee,Lyon\n", "The file has no email"),
    ],
)
def test_a_file_that_cannot_be_processed_is_a_failed_job_with_its_reason(
    api_client, content, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client, content=content)

    assert response.status_code == 202
    job = api_client.get(f"{IMPORTS}{response.json()['id']}/").json()
    assert job["status"] == "failed"
    assert job["message"].startswith(message)


def test_read_only_keys_cannot_import(read_only_client):
    assert upload(read_only_client).status_code == 403


def test_cancel_a_queued_job_and_a_finished_one_is_a_409(api_client, account):
    response = upload(api_client)  # no commit callbacks: it stays queued
    job_id = response.json()["id"]

    cancelled = api_client.post(f"{IMPORTS}{job_id}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert "nothing was imported" in cancelled.json()["message"]

    again = api_client.post(f"{IMPORTS}{job_id}/cancel/")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invalid_status"


def test_an_invalid_job_id_is_a_404(api_client):
    assert api_client.get(f"{IMPORTS}not-a-uuid/").status_code == 404


def test_the_upload_is_stored_under_media_imports_account_job(api_client, account, settings):
    job_id = upload(api_client).json()["id"]
    with account_scope(account):
        job = ImportJob.objects.get(pk=job_id)
    assert job.source_path == f"imports/{account.pk}/{job_id}/source.csv"
    assert (settings.MEDIA_ROOT / job.source_path).read_bytes() == GOOD_AND_BAD
    assert fresh(account, job).file_size == len(GOOD_AND_BAD)
