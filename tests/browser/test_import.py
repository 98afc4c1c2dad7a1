"""Importing a CSV file in a real browser: the upload form, the job page with its
summary and errors, and the error report download."""

import re

import pytest
from playwright.sync_api import expect

from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.browser.test_login import sign_in

pytestmark = pytest.mark.browser

CSV = (
    "Nom;Prenom;Mail;Sexe;Compte\r\n"
    "Bloggs;Jacquie;jacquie@mimi.com;h;BKN1CST53\r\n"
    "Bloggs;Michelle;not-an-email;f;BKN1CST83\r\n"
    "Durand;Anne;anne@mimi.com;x;BKN1CST90\r\n"
).encode("cp1252")


def test_upload_a_file_with_bad_rows_and_read_the_report(page, user, account, live_server):
    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a CSV file")

    page.get_by_label("What the file holds").select_option("customers")
    page.get_by_label("CSV file").set_input_files(
        {"name": "clients.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Import").click()

    expect(page).to_have_url(re.compile(r"/import/[0-9a-f-]{36}/$"))
    expect(page.locator("#job-status")).to_have_text("Succeeded")
    expect(page.locator("#job-created")).to_have_text("1")
    expect(page.locator("#job-failed")).to_have_text("2")
    errors = page.locator("#job-errors")
    expect(errors.get_by_role("row", name=re.compile("not-an-email"))).to_contain_text(
        "Enter a valid email address."
    )
    expect(errors).to_contain_text("is not a valid choice")
    report = page.get_by_role("link", name=re.compile("error report"))
    expect(report).to_be_visible()

    download = page.request.get(report.get_attribute("href"))
    assert download.status == 200
    lines = download.text().splitlines()
    assert lines[0] == "Nom,Prenom,Mail,Sexe,Compte,line,reason"
    assert lines[1].startswith("Bloggs,Michelle,not-an-email,f,BKN1CST83,3,")

    with account_scope(account):
        assert list(Customer.objects.values_list("email", flat=True)) == ["jacquie@mimi.com"]
