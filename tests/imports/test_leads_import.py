"""Importing and exporting leads: seed 002's camelCase columns, the API's input rules
(names, E.164 phones, limits, consent data, converted status, agents) reported per
row, upsert by id, external_id, else email (emails are not unique), a second import
changing nothing, the streamed formula-safe export, tenancy, and `import_leads`."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from crm_project.tenancy import account_scope
from leads import inputs
from leads.models import Lead
from tests.factories import AgentFactory
from tests.imports.conftest import csv_bytes, report_rows, run_import
from tests.leads.conftest import LeadFactory

pytestmark = pytest.mark.django_db

SEED_002 = [
    [
        "firstName",
        "lastName",
        "phone",
        "externalId",
        "timestamp",
        "ipAddress",
        "email",
        "agentExternalId",
        "state",
        "zip",
        "jornayaLeadId",
    ],
    [
        "John",
        "Smith",
        "+1333-111-8888",
        "2",
        "06-23-2021 22:55:23",
        "192.168.3.2",
        "john.smith@alot.co",
        "2",
        "WA",
        "98121",
        "095796C6-4D33-A73C-7BCE-D5563F59E778",
    ],
]


def leads(account, **filters):
    with account_scope(account):
        return list(Lead.objects.filter(account=account, **filters).order_by("created_at", "id"))


def lead_snapshot(account):
    with account_scope(account):
        return list(Lead.objects.filter(account=account).order_by("id").values())


def reasons(job):
    return {row["line"]: row["reason"] for row in report_rows(job)}


def test_seed_002_camel_case_columns_map_to_leads(account):
    agent = AgentFactory(account=account, external_id="2")

    job = run_import(account, "leads", csv_bytes(SEED_002))

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 0), job.errors
    (lead,) = leads(account)
    assert (lead.first_name, lead.last_name) == ("John", "Smith")
    assert lead.phone == "+13331118888"
    assert lead.external_id == "2"
    assert lead.acquired_at == datetime(2021, 6, 23, 22, 55, 23, tzinfo=UTC)  # account: UTC
    assert lead.ip_address == "192.168.3.2"
    assert lead.email == "john.smith@alot.co"
    assert lead.assigned_to_id == agent.pk
    assert (lead.state, lead.zip) == ("WA", "98121")
    assert lead.jornaya_lead_id == "095796C6-4D33-A73C-7BCE-D5563F59E778"
    assert (lead.status, lead.source, lead.score) == ("new", "other", 0)


def test_seed_002_timestamps_are_month_first_even_when_ambiguous(account):
    content = csv_bytes([["name", "email", "timestamp"], ["Ann Lee", "a@x.example", "03-04-2021"]])

    run_import(account, "leads", content)

    assert leads(account)[0].acquired_at == datetime(2021, 3, 4, tzinfo=UTC)


def test_every_bad_row_is_reported_and_good_rows_are_written(account):
    AgentFactory(account=account, external_id="A1")
    content = csv_bytes(
        [
            ["name", "email", "phone", "status", "score", "agent", "source", "ipAddress"],
            ["Good One", "good@x.example", "+33612345678", "qualified", "80", "A1", "web", ""],
            ["Bad Phone", "", "12", "", "", "", "", ""],
            ["", "noname@x.example", "", "", "", "", "", ""],
            ["No Contact", "", "", "", "", "", "", ""],
            ["Bad Agent", "agent@x.example", "", "", "", "nobody", "", ""],
            ["Converted", "conv@x.example", "", "converted", "", "", "", ""],
            ["High Score", "score@x.example", "", "", "101", "", "", ""],
            ["Bad Status", "status@x.example", "", "hot", "", "", "", ""],
            ["Bad Ip", "ip@x.example", "", "", "", "", "", "300.1.1.1"],
            ["Good Two", "two@x.example", "", "won", "0", "", "referral", "::ffff:1.2.3.4"],
            ["x" * 251 + " Long", "long@x.example", "", "", "", "", "", ""],
        ]
    )

    job = run_import(account, "leads", content)

    assert (job.created, job.failed) == (2, 9), job.errors
    # Rows written in one statement share their creation time: ordered by email.
    good, two = sorted(leads(account), key=lambda lead: lead.email)
    assert [(lead.email, lead.status, lead.score) for lead in (good, two)] == [
        ("good@x.example", "qualified", 80),
        ("two@x.example", "won", 0),
    ]
    assert good.assigned_to_id is not None
    assert good.phone == "+33612345678"
    assert two.ip_address == "::ffff:1.2.3.4"  # as Django stores it (not unpacked)
    by_line = reasons(job)
    assert by_line["3"] == "phone: '12' is not a possible phone number."
    assert by_line["4"] == inputs.NAME_REQUIRED
    assert by_line["5"] == inputs.CONTACT_REQUIRED
    assert by_line["6"] == "assigned_to: Agent not found (give an agent id or external_id)."
    assert by_line["7"] == f"status: {inputs.CONVERT_ONLY}"
    assert by_line["8"] == "score: Ensure this value is less than or equal to 100."
    assert by_line["9"].startswith('status: "hot" is not a valid choice')
    assert by_line["10"] == "ip_address: Enter a valid IPv4 or IPv6 address."
    assert by_line["12"] == "name: Each part of the name is at most 250 characters."
    # The JSON errors name the file's column.
    assert {"line": 6, "column": "agent", "value": "nobody"}.items() <= job.errors[3].items()


def test_limits_of_names_and_phone(account):
    content = csv_bytes(
        [
            ["first_name", "last_name", "phone"],
            ["a" * 251, "Lee", "+33612345678"],
            ["Ann", "b" * 251, "+33612345678"],
            ["Ann", "Lee", "+33 6 12 34 56 78" + " " * 90],
            ["Ann", "Lee", "1" * 101],
        ]
    )

    job = run_import(account, "leads", content)

    by_line = reasons(job)
    assert by_line["2"] == "first_name: Ensure this field has no more than 250 characters."
    assert by_line["3"] == "last_name: Ensure this field has no more than 250 characters."
    assert by_line["5"] == "phone: Ensure this field has no more than 100 characters."
    assert job.created == 1  # the trailing blanks are trimmed


CONSENT_HEADER = [
    "firstName",
    "lastName",
    "phone",
    "timestamp",
    "zip",
    "state",
    "city",
    "jornayaLeadId",
    "trustedFormId",
]


@pytest.mark.parametrize(
    "values",
    [
        ["John", "Smith", "+13331118888", "06-23-2021 22:55:23", "98121", "", "", "J1", ""],
        ["John", "Smith", "+13331118888", "06-23-2021 22:55:23", "", "WA", "Seattle", "", "T1"],
        ["", "Smith", "+13331118888", "06-23-2021 22:55:23", "", "WA", "", "", ""],
        ["John", "", "", "", "", "", "Seattle", "J1", ""],
        ["John", "Smith", "+13331118888", "", "", "", "", "", ""],
    ],
)
def test_consent_data_is_the_apis_rule_each_missing_field_reported(account, values):
    account.lead_consent_required = True
    account.save(update_fields=["lead_consent_required"])
    row = dict(zip(CONSENT_HEADER, values, strict=True))
    content = csv_bytes([[*CONSENT_HEADER, "email"], [*values, "c@x.example"]])

    job = run_import(account, "leads", content)

    expected = inputs.consent_errors(
        {
            "phone": row["phone"],
            "first_name": row["firstName"],
            "last_name": row["lastName"],
            "acquired_at": row["timestamp"],
            "zip": row["zip"],
            "state": row["state"],
            "city": row["city"],
            "jornaya_lead_id": row["jornayaLeadId"],
            "trusted_form_id": row["trustedFormId"],
        }
    )
    columns = {
        "phone": "phone",
        "first_name": "firstName",
        "last_name": "lastName",
        "acquired_at": "timestamp",
        "zip": "zip",
        "state": "state",
        "city": "city",
        "jornaya_lead_id": "jornayaLeadId",
        "trusted_form_id": "trustedFormId",
    }
    got = {(e["column"], e["message"]) for e in job.errors}
    assert got == {(columns[name], errs[0].message) for name, errs in expected.items()}
    assert job.created == (0 if expected else 1)


def test_consent_fields_the_file_lacks_are_named(account):
    account.lead_consent_required = True
    account.save(update_fields=["lead_consent_required"])

    job = run_import(account, "leads", csv_bytes([["name", "email"], ["Ann Lee", "a@x.example"]]))

    assert job.failed == 1
    assert {e["column"] for e in job.errors} == {
        "phone",
        "acquired_at",
        "zip",
        "state",
        "city",
        "jornaya_lead_id",
        "trusted_form_id",
    }


def test_consent_is_for_creates_only(account):
    LeadFactory(account=account, external_id="E1", email="e1@x.example")
    account.lead_consent_required = True
    account.save(update_fields=["lead_consent_required"])

    job = run_import(account, "leads", csv_bytes([["external_id", "score"], ["E1", "40"]]))

    assert (job.updated, job.failed) == (1, 0)
    assert leads(account)[0].score == 40


def test_upsert_by_external_id_then_email_and_a_reimport_changes_nothing(account):
    by_ext = LeadFactory(account=account, external_id="E1", email="shared@x.example")
    plain = LeadFactory(account=account, email="plain@x.example", first_name="Old")
    content = csv_bytes(
        [
            ["external_id", "email", "first_name", "last_name", "score"],
            ["E1", "shared@x.example", "Eve", "One", "10"],
            ["", "PLAIN@x.example", "New", "Name", "20"],
            ["E2", "new@x.example", "Zed", "Two", "30"],
        ]
    )

    job = run_import(account, "leads", content)

    assert (job.created, job.updated, job.skipped, job.failed) == (1, 2, 0, 0), job.errors
    with account_scope(account):
        by_ext.refresh_from_db()
        plain.refresh_from_db()
    assert (by_ext.first_name, by_ext.score) == ("Eve", 10)
    assert (plain.first_name, plain.score, plain.email) == ("New", 20, "PLAIN@x.example")
    before = lead_snapshot(account)

    again = run_import(account, "leads", content)

    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 3, 0)
    assert lead_snapshot(account) == before


def test_shared_emails_follow_the_documented_rule(account):
    """A row with an external_id matches by email only a lead without one (the most
    recent); two rows with different external_ids and one email are two leads; a row
    without an external_id matches the most recent lead with that email."""
    older = LeadFactory(account=account, email="s@x.example", first_name="Older")
    newer = LeadFactory(account=account, email="s@x.example", first_name="Newer")
    keyed = LeadFactory(account=account, email="k@x.example", external_id="K0")
    content = csv_bytes(
        [
            ["external_id", "email", "first_name", "last_name"],
            ["X1", "s@x.example", "First", "Row"],
            ["X2", "S@x.example", "Second", "Row"],
            ["X3", "k@x.example", "Third", "Row"],
        ]
    )

    job = run_import(account, "leads", content)

    assert (job.created, job.updated, job.failed) == (2, 1, 0), job.errors
    with account_scope(account):
        for lead in (older, newer, keyed):
            lead.refresh_from_db()
    # X1 took the most recent lead without an external_id; X2 found it taken (in this
    # file) and made its own lead, as it would in a later import; K0 is kept.
    assert (newer.external_id, newer.first_name) == ("X1", "First")
    assert (older.external_id, older.first_name) == (None, "Older")
    assert keyed.external_id == "K0"
    assert {lead.external_id for lead in leads(account)} == {None, "X1", "X2", "X3", "K0"}
    before = lead_snapshot(account)

    again = run_import(account, "leads", content)

    assert (again.created, again.updated, again.skipped) == (0, 0, 3)
    assert lead_snapshot(account) == before


def test_a_row_without_external_id_updates_the_most_recent_lead_with_its_email(account):
    LeadFactory(account=account, email="k@x.example", first_name="Older")
    newer = LeadFactory(account=account, email="k@x.example", external_id="K1")

    job = run_import(account, "leads", csv_bytes([["email", "score"], ["K@x.example", "55"]]))

    assert (job.created, job.updated) == (0, 1)
    assert [lead.score for lead in leads(account)] == [0, 55]
    assert leads(account)[1].pk == newer.pk


def test_rows_of_one_file_sharing_an_email_are_one_lead_unless_both_have_external_ids(account):
    content = csv_bytes(
        [
            ["external_id", "email", "name"],
            ["", "a@x.example", "Ann First"],
            ["", "A@x.example", "Ann Second"],
            ["X1", "b@x.example", "Bob One"],
            ["X2", "b@x.example", "Bob Two"],
            ["X3", "c@x.example", "Cat Keyed"],
            ["", "c@x.example", "Cat Plain"],
        ]
    )

    job = run_import(account, "leads", content)

    assert (job.created, job.failed) == (4, 2), job.errors
    by_line = reasons(job)
    assert by_line["2"] == "Line 3 has the same email: the later line wins."
    assert by_line["6"] == "Line 7 has the same email: the later line wins."
    assert sorted(lead.first_name for lead in leads(account)) == ["Ann", "Bob", "Bob", "Cat"]
    assert run_import(account, "leads", content).created == 0


def test_converted_status_is_kept_on_a_converted_lead(account):
    lead = LeadFactory(account=account, external_id="C1", email="c@x.example")
    with account_scope(account):
        Lead.objects.filter(pk=lead.pk).update(status="converted", converted_at=datetime.now(UTC))
    content = csv_bytes([["external_id", "status"], ["C1", "converted"]])

    job = run_import(account, "leads", content)

    assert (job.skipped, job.failed) == (1, 0)


def test_unknown_columns_land_in_attributes(account):
    content = csv_bytes([["name", "email", "Plan Id"], ["Ann Lee", "a@x.example", "P1"]])

    run_import(account, "leads", content)

    assert leads(account)[0].attributes == {"plan_id": "P1"}


# --- API ---------------------------------------------------------------------------------


def upload(client, content, url="/api/v1/leads/import/"):
    data = {"file": SimpleUploadedFile("leads.csv", content, content_type="text/csv")}
    return client.post(url, data, format="multipart")


def test_api_upload_imports_leads(api_client, account, django_capture_on_commit_callbacks):
    AgentFactory(account=account, external_id="2")
    content = csv_bytes([*SEED_002, ["Bad", "Phone", "12", "3", "", "", "", "", "", "", ""]])

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client, content)

    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "leads"
    job = api_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (job["status"], job["created"], job["failed"]) == ("succeeded", 1, 1)
    assert job["errors"][0]["column"] == "phone"
    assert [lead.external_id for lead in leads(account)] == ["2"]


def test_another_accounts_credentials_import_into_their_own_account_only(
    other_api_client, account, other_account, django_capture_on_commit_callbacks
):
    LeadFactory(account=account, external_id="2", email="mine@x.example", first_name="Mine")
    content = csv_bytes([["external_id", "email", "name"], ["2", "theirs@x.example", "Their Lead"]])

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(other_api_client, content)

    assert response.status_code == 202
    assert [lead.first_name for lead in leads(account)] == ["Mine"]
    assert [lead.email for lead in leads(other_account)] == ["theirs@x.example"]
    rows = export_rows(other_api_client)
    assert [row["email"] for row in rows] == ["theirs@x.example"]


def test_import_needs_credentials_and_a_file(anonymous_client, read_only_client, api_client):
    assert upload(anonymous_client, b"email\r\na@x.example\r\n").status_code in (401, 403)
    assert upload(read_only_client, b"email\r\na@x.example\r\n").status_code == 403
    response = api_client.post("/api/v1/leads/import/", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in str(response.json())


# --- Export --------------------------------------------------------------------------------


def export_rows(client, query=""):
    response = client.get(f"/api/v1/leads/export/{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_is_streamed_formula_safe_and_imports_back_unchanged(api_client, account):
    agent = AgentFactory(account=account)
    LeadFactory(
        account=account,
        external_id="L1",
        first_name='=HYPERLINK("http://evil")',
        last_name="@SUM(A1)",
        email="ann@x.example",
        phone="+33612345678",
        notes="-2+3",
        company="\tTabbed",
        ip_address="10.0.0.1",
        acquired_at=datetime(2021, 6, 23, 22, 55, 23, tzinfo=UTC),
        attributes={"plan": "gold"},
        assigned_to=agent,
        score=42,
        status="qualified",
    )
    LeadFactory(account=account, email="other@x.example", status="lost")

    rows = export_rows(api_client, "?status=qualified")

    assert len(rows) == 1
    row = rows[0]
    assert row["first_name"] == '\'=HYPERLINK("http://evil")'
    assert row["last_name"] == "'@SUM(A1)"
    assert row["notes"] == "'-2+3"
    assert row["company"] == "'\tTabbed"
    assert row["phone"] == "'+33612345678"
    assert row["ip_address"] == "10.0.0.1"
    assert row["acquired_at"] == "2021-06-23T22:55:23Z"
    assert row["assigned_to"] == str(agent.pk)
    assert (row["score"], row["status"], row["external_id"]) == ("42", "qualified", "L1")
    assert row["attributes"] == '{"plan": "gold"}'
    before = lead_snapshot(account)
    all_rows = export_rows(api_client)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(all_rows[0]))
    writer.writeheader()
    writer.writerows(all_rows)

    job = run_import(account, "leads", out.getvalue())

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 2, 0), job.errors
    assert lead_snapshot(account) == before


def test_export_command_writes_the_csv(account, tmp_path):
    LeadFactory(account=account, email="ann@x.example")
    out = tmp_path / "leads.csv"

    call_command("export_leads", "--account", account.slug, "--out", str(out))

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["email"] for row in rows] == ["ann@x.example"]


# --- Command --------------------------------------------------------------------------------


def test_import_leads_command(account, tmp_path):
    AgentFactory(account=account, external_id="2")
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes([*SEED_002, ["Bad", "Phone", "12", "", "", "", "", "", "", "", ""]]))
    stdout = io.StringIO()

    call_command(
        "import_leads", str(path), "--account", account.slug, "--no-progress", stdout=stdout
    )

    assert "created=1 updated=0 skipped=0 failed=1" in stdout.getvalue()
    assert [lead.external_id for lead in leads(account)] == ["2"]
