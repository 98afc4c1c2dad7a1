"""Import jobs in the Django admin: a read-only record, scoped to the staff's account."""

import pytest
from django.test import Client

from tests.imports.conftest import run_import

pytestmark = pytest.mark.django_db

JOBS = "/admin/imports/importjob/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_their_accounts_imports_only_and_cannot_change_them(user, account, other_account):
    ours = run_import(account, "customers", "Mail\na@example.com\n", filename="ours.csv")
    theirs = run_import(other_account, "customers", "Mail\nb@example.com\n", filename="theirs.csv")
    client = signed_in(user)

    listing = client.get(JOBS).content.decode()
    assert "ours.csv" in listing
    assert "theirs.csv" not in listing
    assert client.get(f"{JOBS}{ours.pk}/change/").status_code == 200
    assert client.get(f"{JOBS}{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(f"{JOBS}add/").status_code == 403
    response = client.post(f"{JOBS}{ours.pk}/change/", {"filename": "renamed.csv"})
    assert response.status_code == 403
