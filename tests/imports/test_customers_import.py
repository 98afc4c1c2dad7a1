"""Importing customers: the columns users have (seed 001's French ones included), every
bad row reported with its line, column, value and reason, the good rows applied, and a
second import of the same file changing nothing."""

import datetime
import uuid
from decimal import Decimal

import pytest

from tests.factories import AgentFactory, CustomerFactory
from tests.imports.conftest import (
    csv_bytes,
    customer,
    customers,
    report_rows,
    run_import,
    snapshot,
)

pytestmark = pytest.mark.django_db

SEED_001 = [
    ["IdClient", "Nom", "Prenom", "Mail", "Sexe", "Compte", "Phone", "Credit", "Montant", "Age"],
    [
        "a14e39ce-e29e-11e9-a8cb-08002751d198",
        "Jacquie",
        "Bloggs",
        "Jacquie@mimi.com",
        "h",
        "BKN1CST53",
        "0102030405",
        "420",
        "1330",
        "42",
    ],
    [
        "2c5b24e0-0d48-11ea-b85e-08002751d198",
        "Michelle",
        "Bloggs",
        "Michelle@mimi.com",
        "f",
        "BKN1CST83",
        "+33102089405",
        "780",
        "4569",
        "42",
    ],
]


def test_seed_001_columns_map_to_customers(account):
    job = run_import(account, "customers", csv_bytes(SEED_001))

    assert (job.status, job.created, job.failed) == ("succeeded", 2, 0)
    jacquie = customer(account, external_id="BKN1CST53")
    assert jacquie.pk == uuid.UUID("a14e39ce-e29e-11e9-a8cb-08002751d198")
    assert (jacquie.last_name, jacquie.first_name) == ("Jacquie", "Bloggs")
    assert jacquie.email == "Jacquie@mimi.com"
    assert jacquie.gender == "male"
    assert jacquie.phone == "+10102030405"  # the account's region (US) decides
    assert jacquie.metadata == {"credit": "420", "montant": "1330", "age": "42"}
    assert customer(account, external_id="BKN1CST83").gender == "female"


def test_new_customers_get_the_accounts_next_numbers(account):
    CustomerFactory(account=account, email="first@example.com")
    run_import(account, "customers", csv_bytes([["email"], ["a@example.com"], ["b@example.com"]]))

    assert [c.number for c in customers(account)] == [1, 2, 3]


def test_headers_match_case_insensitively_and_unknown_columns_become_metadata(account):
    content = csv_bytes(
        [
            ["E-MAIL", "First Name", "LASTNAME", "Loyalty Tier", "Favourite Colour"],
            ["ann@example.com", "Ann", "Lee", "gold", "blue"],
        ]
    )
    run_import(account, "customers", content)

    ann = customer(account, email="ann@example.com")
    assert (ann.first_name, ann.last_name) == ("Ann", "Lee")
    assert ann.metadata == {"loyalty_tier": "gold", "favourite_colour": "blue"}


def test_a_name_is_split_like_the_api_does(account):
    content = csv_bytes(
        [
            ["email", "name", "first_name", "last_name"],
            ["a@example.com", "Alice Mae Johnson", "", ""],
            ["b@example.com", "Jon Doe", "", "Doe"],
            ["c@example.com", "Solo", "", ""],
        ]
    )
    run_import(account, "customers", content)

    assert [(c.first_name, c.last_name) for c in customers(account)] == [
        ("Alice Mae", "Johnson"),
        ("Jon", "Doe"),
        ("", "Solo"),
    ]


def test_every_bad_row_is_reported_and_good_rows_are_applied(account):
    content = csv_bytes(
        [
            ["email", "phone", "gender", "date_of_birth", "credit_limit"],
            ["good@example.com", "+33612345678", "f", "1980-12-25", "100"],
            ["not-an-email", "", "", "", ""],
            ["bad.phone@example.com", "12", "", "", ""],
            ["bad.gender@example.com", "", "robot", "", ""],
            ["bad.date@example.com", "", "", "1980-02-30", ""],
            ["bad.limit@example.com", "", "", "", "-5"],
            ["", "", "", "", ""],
            ["", "", "female", "", ""],
        ]
    )
    job = run_import(account, "customers", content)

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 6)
    assert [c.email for c in customers(account)] == ["good@example.com"]
    by_line = {e["line"]: e for e in job.errors}
    assert by_line[3] == {
        "line": 3,
        "column": "email",
        "value": "not-an-email",
        "message": "Enter a valid email address.",
    }
    assert by_line[4]["column"] == "phone"
    assert by_line[4]["value"] == "12"
    assert "not a valid choice" in by_line[5]["message"]
    assert by_line[6]["message"] == "'1980-02-30' is not a valid date."
    assert by_line[7]["message"] == "Ensure this value is greater than or equal to 0."
    # Line 8 is all blank: not a row. Line 9 has neither email nor phone.
    assert by_line[9]["message"] == "A customer needs an email or a phone."
    assert job.error_count == 6


def test_the_error_report_holds_the_original_row_its_line_and_reason(account):
    content = csv_bytes(
        [["Mail", "Nom", "Notes"], ["ok@example.com", "Ok", "fine"], ["nope", "Bad", "=1+1"]]
    )
    job = run_import(account, "customers", content)

    rows = report_rows(job)
    assert rows == [
        {
            "Mail": "nope",
            "Nom": "Bad",
            "Notes": "'=1+1",  # escaped against formula injection
            "line": "3",
            "reason": "email: Enter a valid email address.",
        }
    ]


def test_reimporting_the_same_file_changes_nothing(account):
    content = csv_bytes(
        [
            ["external_id", "email", "name", "phone", "tags", "Tier", "date_of_birth"],
            [
                "C1",
                "ann@example.com",
                "Ann Lee",
                "+33612345678",
                "vip, newsletter",
                "gold",
                "1990-01-31",
            ],
            ["C2", "bob@example.com", "Bob Ray", "", "", "", ""],
        ]
    )
    run_import(account, "customers", content)
    before = snapshot(account)

    again = run_import(account, "customers", content)

    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 2, 0)
    assert snapshot(account) == before


def test_a_changed_row_updates_only_the_columns_given(account):
    agent = AgentFactory(account=account, external_id="AG-1")
    CustomerFactory(
        account=account, external_id="C1", email="ann@example.com", city="Lyon", notes="keep"
    )
    content = csv_bytes(
        [["external_id", "city", "assigned_to", "credit_limit"], ["C1", "Paris", "AG-1", "12,50"]]
    )
    job = run_import(account, "customers", content)

    ann = customer(account, external_id="C1")
    assert (job.updated, job.skipped) == (1, 0)
    assert (ann.city, ann.notes, ann.assigned_to_id) == ("Paris", "keep", agent.pk)
    assert ann.credit_limit == Decimal("12.50")


def test_a_blank_cell_never_erases_a_stored_value(account):
    CustomerFactory(account=account, email="ann@example.com", phone="+33612345678", city="Lyon")
    content = csv_bytes([["email", "phone", "city"], ["ann@example.com", "", ""]])

    job = run_import(account, "customers", content)

    ann = customer(account, email="ann@example.com")
    assert job.skipped == 1
    assert (ann.phone, ann.city) == ("+33612345678", "Lyon")


def test_rows_match_by_external_id_then_by_email_case_insensitively(account):
    CustomerFactory(account=account, external_id="C1", email="one@example.com")
    CustomerFactory(account=account, email="Two@Example.com")
    content = csv_bytes(
        [
            ["external_id", "email", "city"],
            ["C1", "one@example.com", "A"],
            ["", "two@example.COM", "B"],
        ]
    )
    job = run_import(account, "customers", content)

    assert (job.created, job.updated) == (0, 2)
    assert {c.city for c in customers(account)} == {"A", "B"}


def test_an_email_of_a_customer_with_another_external_id_is_a_409(account):
    CustomerFactory(account=account, external_id="C1", email="ann@example.com")
    content = csv_bytes([["external_id", "email"], ["C2", "ann@example.com"]])

    job = run_import(account, "customers", content)

    assert job.failed == 1
    assert job.errors[0]["message"].startswith("Conflict (409)")
    assert [c.external_id for c in customers(account)] == ["C1"]


def test_duplicates_in_one_file_the_later_line_wins_and_the_earlier_is_reported(account):
    content = csv_bytes(
        [
            ["email", "first_name"],
            ["dup@example.com", "Early"],
            ["other@example.com", "Other"],
            ["DUP@example.com", "Later"],
        ]
    )
    job = run_import(account, "customers", content)

    assert (job.created, job.failed) == (2, 1)
    assert customer(account, email__iexact="dup@example.com").first_name == "Later"
    assert job.errors == [
        {
            "line": 2,
            "column": None,
            "value": None,
            "message": "Line 4 has the same email: the later line wins.",
        }
    ]


def test_on_conflict_skip_keeps_stored_records(account):
    CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    content = csv_bytes([["email", "city"], ["ann@example.com", "Paris"], ["new@example.com", "X"]])

    job = run_import(account, "customers", content, on_conflict="skip")

    assert (job.created, job.skipped) == (1, 1)
    assert customer(account, email="ann@example.com").city == "Lyon"


def test_on_conflict_error_fails_rows_matching_stored_records(account):
    CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    content = csv_bytes([["email", "city"], ["ann@example.com", "Paris"], ["new@example.com", "X"]])

    job = run_import(account, "customers", content, on_conflict="error")

    assert (job.created, job.failed) == (1, 1)
    assert "on_conflict=error" in job.errors[0]["message"]
    assert customer(account, email="ann@example.com").city == "Lyon"


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(account):
    CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    before = snapshot(account)
    content = csv_bytes(
        [["email", "city"], ["ann@example.com", "Paris"], ["new@example.com", "X"], ["bad", ""]]
    )
    job = run_import(account, "customers", content, dry_run=True)

    assert (job.status, job.created, job.updated, job.failed) == ("succeeded", 1, 1, 1)
    assert job.message.startswith("Dry run, nothing was written")
    assert snapshot(account) == before
    assert report_rows(job)[0]["reason"] == "email: Enter a valid email address."


def test_id_client_is_kept_for_a_new_customer_and_a_taken_one_is_a_409(account):
    taken = CustomerFactory(account=account, email="taken@example.com")
    fresh_id = uuid.uuid4()
    content = csv_bytes(
        [
            ["IdClient", "Mail"],
            [str(fresh_id), "new@example.com"],
            [str(taken.pk), "someone.else@example.com"],
        ]
    )
    job = run_import(account, "customers", content)

    assert customer(account, email="new@example.com").pk == fresh_id
    assert job.failed == 1
    assert job.errors[0]["column"] == "IdClient"
    assert job.errors[0]["message"] == "Conflict (409): another customer has this id."


def test_an_id_taken_in_another_account_fails_that_row_only(account, other_account):
    theirs = CustomerFactory(account=other_account, email="theirs@example.com")
    content = csv_bytes(
        [["IdClient", "Mail"], [str(theirs.pk), "a@example.com"], ["", "b@example.com"]]
    )

    job = run_import(account, "customers", content)

    assert (job.created, job.failed) == (1, 1)
    assert job.errors[0]["message"].startswith("Conflict (409)")


@pytest.mark.parametrize(
    ("date_format", "cell", "expected"),
    [
        ("auto", "1990-03-04", datetime.date(1990, 3, 4)),
        ("dmy", "03/04/1990", datetime.date(1990, 4, 3)),
        ("mdy", "03/04/1990", datetime.date(1990, 3, 4)),
        ("auto", "25/12/1990", datetime.date(1990, 12, 25)),
        ("auto", "12/25/1990", datetime.date(1990, 12, 25)),
        ("auto", "04.04.1990", datetime.date(1990, 4, 4)),
    ],
)
def test_dates_in_iso_and_day_or_month_first(account, date_format, cell, expected):
    content = csv_bytes([["email", "date_of_birth"], ["a@example.com", cell]])
    run_import(account, "customers", content, date_format=date_format)

    assert customer(account, email="a@example.com").date_of_birth == expected


def test_an_ambiguous_date_asks_for_the_date_format(account):
    content = csv_bytes([["email", "date_of_birth"], ["a@example.com", "03/04/1990"]])
    job = run_import(account, "customers", content)

    assert job.failed == 1
    assert "set the import's date format to dmy" in job.errors[0]["message"]


def test_the_day_order_is_inferred_from_the_file(account):
    content = csv_bytes(
        [
            ["email", "date_of_birth"],
            ["a@example.com", "03/04/1990"],
            ["b@example.com", "25/12/1990"],
        ]
    )
    job = run_import(account, "customers", content)

    assert job.failed == 0
    assert customer(account, email="a@example.com").date_of_birth == datetime.date(1990, 4, 3)
    assert any("day first" in w for w in job.warnings)


def test_datetimes_without_offset_are_in_the_accounts_timezone(account):
    account.timezone = "Europe/Paris"
    account.save()
    content = csv_bytes(
        [
            ["email", "unsubscribed_at"],
            ["a@example.com", "2024-06-01 10:00"],
            ["b@example.com", "2024-06-01T10:00:00Z"],
            ["c@example.com", "2024-06-01T10:00:00.250+02:00"],
        ]
    )
    run_import(account, "customers", content)

    utc = datetime.UTC
    assert customer(account, email="a@example.com").unsubscribed_at == datetime.datetime(
        2024, 6, 1, 8, 0, tzinfo=utc
    )
    assert customer(account, email="b@example.com").unsubscribed_at == datetime.datetime(
        2024, 6, 1, 10, 0, tzinfo=utc
    )
    assert customer(account, email="c@example.com").unsubscribed_at == datetime.datetime(
        2024, 6, 1, 8, 0, 0, 250000, tzinfo=utc
    )


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # Read by position (the usual export) ...
        ("2024-06-01", (2024, 6, 1, 0, 0, 0)),
        ("2024-06-01 10:05", (2024, 6, 1, 10, 5, 0)),
        ("2024-06-01T10:05:30", (2024, 6, 1, 10, 5, 30)),
        # ... and by the general patterns.
        ("2024-6-1 9:05", (2024, 6, 1, 9, 5, 0)),
        ("2024-06-01 10:05:30.5Z", (2024, 6, 1, 10, 5, 30, 500000)),
        ("01/06/2024 10:05", (2024, 6, 1, 10, 5, 0)),
    ],
)
def test_datetime_forms(account, cell, expected):
    content = csv_bytes([["email", "unsubscribed_at"], ["a@example.com", cell]])
    run_import(account, "customers", content, date_format="dmy")

    assert customer(account, email="a@example.com").unsubscribed_at == datetime.datetime(
        *expected, tzinfo=datetime.UTC
    )


@pytest.mark.parametrize(
    "cell", ["2024-13-01 10:00", "2024-02-30", "2024-06-01 24:00", "2024-06-01 10"]
)
def test_impossible_datetimes_are_reported(account, cell):
    content = csv_bytes([["email", "unsubscribed_at"], ["a@example.com", cell]])
    job = run_import(account, "customers", content)

    assert job.failed == 1
    assert job.errors[0]["column"] == "unsubscribed_at"
    assert job.errors[0]["value"] == cell


def test_tags_booleans_choices_and_json_metadata(account):
    content = csv_bytes(
        [
            ["email", "tags", "email_opt_in", "status", "type", "metadata", "Source"],
            [
                "a@example.com",
                "vip, VIP,  new  customer ,",
                "no",
                "INACTIVE",
                "b2b",
                '{"tier": 2}',
                "web",
            ],
            ["b@example.com", '["x,y", "z"]', "1", "active", "Individual", "", ""],
            ["c@example.com", "", "maybe", "", "", "[1]", ""],
        ]
    )
    job = run_import(account, "customers", content)

    a = customer(account, email="a@example.com")
    assert a.tags == ["vip", "new customer"]
    assert (a.email_opt_in, a.status, a.type) == (False, "inactive", "business")
    assert a.metadata == {"tier": 2, "source": "web"}
    assert customer(account, email="b@example.com").tags == ["x,y", "z"]
    assert job.failed == 1
    messages = {e["column"]: e["message"] for e in job.errors}
    assert messages["email_opt_in"].startswith("Must be a valid boolean")
    assert messages["metadata"].startswith("Expected a JSON object")


def test_a_missing_required_column_fails_the_job_at_once_naming_it(account):
    job = run_import(account, "customers", csv_bytes([["first_name", "city"], ["Ann", "Lyon"]]))

    assert job.status == "failed"
    assert "email" in job.message
    assert "phone" in job.message
    assert customers(account) == []


def test_read_only_columns_are_ignored(account):
    content = csv_bytes(
        [["email", "number", "lifetime_spend", "created_at"], ["a@example.com", "999", "5.00", "x"]]
    )
    job = run_import(account, "customers", content)

    a = customer(account, email="a@example.com")
    assert (a.number, a.lifetime_spend, job.failed) == (1, Decimal("0.00"), 0)
    assert any("Read-only columns ignored" in w for w in job.warnings)


def test_an_import_never_touches_another_accounts_customers(account, other_account):
    theirs = CustomerFactory(account=other_account, email="ann@example.com", city="Lyon")
    job = run_import(account, "customers", csv_bytes([["email", "city"], ["ann@example.com", "X"]]))

    assert job.created == 1
    assert customer(other_account, pk=theirs.pk).city == "Lyon"
    assert customer(account, email="ann@example.com").city == "X"


def test_an_error_report_fixed_and_uploaded_again_imports_its_rows(account):
    first = run_import(
        account, "customers", csv_bytes([["Mail", "Nom"], ["ok@example.com", "A"], ["nope", "B"]])
    )
    with open(first.report_file, encoding="utf-8") as report:
        fixed = report.read().replace("nope", "fixed@example.com")

    again = run_import(account, "customers", fixed)

    assert (again.created, again.failed) == (1, 0)
    assert customer(account, email="fixed@example.com").metadata == {}


def test_datetimes_out_of_range_once_their_offset_or_timezone_applies_fail_their_row(
    account, api_client
):
    """PostgreSQL would store them (years BC, past 9999); every later read would fail."""
    account.timezone = "Europe/Paris"  # +00:09:21 before 1911: year 1 starts in year 0 UTC
    account.save()
    rows = [
        ["email", "unsubscribed_at", "date_of_birth"],
        ["early@example.com", "0001-01-01T00:00:00+01:00", ""],
        ["late@example.com", "9999-12-31T23:00:00-05:00", ""],
        ["local@example.com", "0001-01-01", ""],
        ["paris@example.com", "9999-12-31T23:30:00Z", ""],
        ["edge@example.com", "0001-01-01T12:00:00Z", "9999-12-31"],
        ["year0@example.com", "", "0000-06-01"],
    ]
    job = run_import(account, "customers", csv_bytes(rows))

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 5)
    reason = " falls outside the years 1 to 9999 once its offset or the account's timezone is "
    assert [(e["line"], e["column"], e["value"], e["message"]) for e in job.errors] == [
        (
            2,
            "unsubscribed_at",
            "0001-01-01T00:00:00+01:00",
            f"'0001-01-01T00:00:00+01:00'{reason}applied.",
        ),
        (
            3,
            "unsubscribed_at",
            "9999-12-31T23:00:00-05:00",
            f"'9999-12-31T23:00:00-05:00'{reason}applied.",
        ),
        (4, "unsubscribed_at", "0001-01-01", f"'0001-01-01'{reason}applied."),
        (5, "unsubscribed_at", "9999-12-31T23:30:00Z", f"'9999-12-31T23:30:00Z'{reason}applied."),
        (7, "date_of_birth", "0000-06-01", "'0000-06-01' is not a valid date."),
    ]
    edge = customer(account, email="edge@example.com")
    assert edge.unsubscribed_at == datetime.datetime(1, 1, 1, 12, tzinfo=datetime.UTC)
    assert edge.date_of_birth == datetime.date(9999, 12, 31)
    listed = api_client.get("/api/v1/customers/")
    assert listed.status_code == 200
    assert [c["email"] for c in listed.json()["results"]] == ["edge@example.com"]
