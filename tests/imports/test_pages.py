"""The back office's import pages: the upload form, the job page (progress, summary,
the first errors, the report link), cancel, and their access rules."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role
from crm_project.templatetags.nav import SECTIONS
from tests.factories import MembershipFactory
from tests.imports.conftest import csv_bytes, customers, run_import

pytestmark = pytest.mark.django_db


def signed_in(account, role=Role.MEMBER):
    client = Client()
    client.force_login(MembershipFactory(account=account, role=role).user)
    return client


def test_the_import_nav_item_leads_to_the_upload_page(account):
    client = signed_in(account)
    assert ("Import", "imports:upload", "/import/") in SECTIONS

    page = client.get("/import/")

    assert page.status_code == 200
    html = page.content.decode()
    assert '<a class="nav-link" href="/import/" aria-current="page">Import</a>' in html
    assert 'name="kind"' in html
    assert 'type="file"' in html


def test_uploading_a_file_shows_its_job_with_summary_and_errors(
    account, django_capture_on_commit_callbacks
):
    client = signed_in(account)
    content = csv_bytes([["Mail", "Nom"], ["ann@example.com", "Lee"], ["nope", "Bad"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/import/",
            {
                "kind": "customers",
                "on_conflict": "update",
                "date_format": "auto",
                "file": SimpleUploadedFile("clients.csv", content),
            },
        )
    assert response.status_code == 302
    job_page = client.get(response["Location"])

    html = job_page.content.decode()
    assert "clients.csv" in html
    assert 'id="job-created">1<' in html
    assert 'id="job-failed">1<' in html
    assert "Enter a valid email address." in html
    assert "/errors.csv" in html
    assert [c.email for c in customers(account)] == ["ann@example.com"]


def test_a_bad_form_is_shown_again_with_its_errors(account):
    response = signed_in(account).post("/import/", {"kind": "customers"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_read_only_users_cannot_upload_but_can_follow_a_job(account):
    job = run_import(account, "customers", "Mail\na@example.com\n")
    client = signed_in(account, Role.READ_ONLY)

    assert client.get("/import/").status_code == 403
    assert client.get(f"/import/{job.pk}/").status_code == 200


def test_another_accounts_job_page_is_a_404(account, other_account):
    job = run_import(account, "customers", "Mail\na@example.com\n")

    assert signed_in(other_account).get(f"/import/{job.pk}/").status_code == 404


def test_cancelling_a_finished_job_says_so(account):
    job = run_import(account, "customers", "Mail\na@example.com\n")
    client = signed_in(account)

    page = client.post(f"/import/{job.pk}/cancel/", follow=True)

    assert "This import had already finished." in page.content.decode()
