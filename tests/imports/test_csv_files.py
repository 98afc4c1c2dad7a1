"""CSV files as users have them: encodings, delimiters, quoted newlines, and the bad
inputs (empty, header only, binary, wrong field counts), each with a clear outcome."""

import codecs

import pytest

from imports import csvio
from tests.imports.conftest import csv_bytes, customer, customers, report_rows, run_import

pytestmark = pytest.mark.django_db

ROWS = [["Nom", "Prénom", "Mail", "Ville"], ["Dubois", "Chloé", "chloe@example.com", "Orléans"]]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("latin-1", b""),
        ("cp1252", b""),
        ("utf-16", b""),  # Excel's "Unicode text": a BOM of its own
    ],
)
def test_every_encoding_reads_the_same(account, encoding, bom):
    job = run_import(account, "customers", bom + csv_bytes(ROWS, encoding=encoding))

    assert (job.status, job.created) == ("succeeded", 1)
    chloe = customer(account, email="chloe@example.com")
    assert (chloe.first_name, chloe.last_name, chloe.city) == ("Chloé", "Dubois", "Orléans")


NOTES_1252 = "“quoted” \u2013 5 €"  # curly quotes, an en dash, the euro: cp1252 only


def test_windows_1252_characters_latin_1_lacks(account):
    content = csv_bytes([["Mail", "Notes"], ["a@example.com", NOTES_1252]], encoding="cp1252")
    run_import(account, "customers", content)

    assert customer(account, email="a@example.com").notes == NOTES_1252


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_sniffed(account, delimiter):
    rows = [["Mail", "Notes"], ["a@example.com", "one, two; three"]]
    job = run_import(account, "customers", csv_bytes(rows, delimiter=delimiter))

    assert job.created == 1
    assert customer(account, email="a@example.com").notes == "one, two; three"


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_quoted_fields_with_newlines_and_the_line_a_record_starts_on(account, newline):
    content = (
        f'Mail,Notes{newline}a@example.com,"first{newline}second"{newline}'
        f'bad,"x{newline}y{newline}z"{newline}c@example.com,plain{newline}'
    ).encode()
    job = run_import(account, "customers", content)

    assert (job.created, job.failed) == (2, 1)
    assert customer(account, email="a@example.com").notes == f"first{newline}second"
    # The bad record starts on physical line 4 (header: line 1; line 2-3: the first).
    assert job.errors[0]["line"] == 4
    assert report_rows(job)[0]["line"] == "4"


def test_blank_lines_count_as_lines_but_are_not_rows(account):
    content = b"Mail\n\na@example.com\n\n\nnope\n"
    job = run_import(account, "customers", content)

    assert (job.total_rows, job.created, job.failed) == (2, 1, 1)
    assert job.errors[0]["line"] == 6


def test_rows_with_too_many_or_too_few_fields_fail_alone(account):
    content = (
        b"Mail,City\na@example.com,Lyon\nb@example.com\n"
        b"c@example.com,Paris,extra\nd@example.com,Nice,,\n"
    )
    job = run_import(account, "customers", content)

    assert (job.created, job.failed) == (2, 2)
    assert [c.email for c in customers(account)] == ["a@example.com", "d@example.com"]
    messages = {e["line"]: e["message"] for e in job.errors}
    assert messages[3] == "This row has 1 fields where the header has 2."
    assert messages[4].startswith("This row has 3 fields where the header has 2 (extra: 'extra')")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf  \r\n", "The file is empty."),
        (b"Mail,City\r\n", "The file has a header line but no rows."),
        (
            b"PK\x03\x04\x14\x00\x06\x00binary",
            "This is not a CSV file: it looks like a ZIP archive",
        ),
        (b"\x00\x01\x02\x03garbage", "This is not a CSV file: it looks like a binary file."),
        (b"%PDF-1.7\n", "This is not a CSV file: it looks like a PDF document."),
    ],
)
def test_a_file_that_cannot_be_processed_fails_the_job_with_a_reason(account, content, message):
    job = run_import(account, "customers", content)

    assert job.status == "failed"
    assert job.message.startswith(message)
    assert customers(account) == []


def test_a_quote_never_closed_is_reported_with_the_lines_it_swallowed(account):
    content = b'Mail,Notes\na@example.com,ok\nb@example.com,"never closed\nc@example.com,x\n'
    job = run_import(account, "customers", content)

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 1)
    assert job.errors[0]["line"] == 3
    assert (
        job.errors[0]["message"] == "A quote opened on line 3 is never closed (lines 3-4 unread)."
    )


def test_a_stray_quote_fails_its_record_and_reading_goes_on(account):
    content = b'Mail,Notes\na@example.com,"ok"x\nb@example.com,fine\n'
    job = run_import(account, "customers", content)

    assert (job.created, job.failed) == (1, 1)
    assert job.errors[0]["line"] == 2
    assert job.errors[0]["message"].startswith("This record cannot be read (line 2)")


def test_escape_and_unescape_are_inverse():
    for value in ["=1+1", "+33", "-5", "@x", "\tx", "\rx", "'=x", "''-x", "plain", "'", ""]:
        assert csvio.unescape_cell(csvio.escape_cell(value)) == value
    assert csvio.escape_cell("=cmd") == "'=cmd"
    assert csvio.escape_cell("plain") == "plain"


def test_a_nul_character_in_a_cell_fails_its_row_only(account):
    content = b"Mail,Notes\r\na@example.com,ok\r\nb@example.com,bad\x00cell\r\nc@example.com,x\r\n"
    job = run_import(account, "customers", content)

    assert (job.status, job.created, job.failed) == ("succeeded", 2, 1)
    assert [c.email for c in customers(account)] == ["a@example.com", "c@example.com"]
    assert job.errors == [
        {
            "line": 3,
            "column": None,
            "value": None,
            "message": "Column 2 “Notes” holds a NUL character (byte 0), which is not text: "
            "remove it.",
        }
    ]
    assert report_rows(job)[0]["Notes"] == "badcell"


def test_a_nul_character_far_into_a_file_fails_its_row_only(account):
    rows = [["Mail", "Notes"]] + [[f"c{i}@example.com", "some notes"] for i in range(3000)]
    content = csv_bytes(rows) + b"late@example.com,nul\x00here\r\n"
    assert content.index(b"\x00") > csvio.SAMPLE_SIZE

    job = run_import(account, "customers", content)

    assert (job.status, job.created, job.failed) == ("succeeded", 3000, 1)
    assert job.errors[0]["line"] == 3002
    assert "NUL character" in job.errors[0]["message"]


def test_a_nul_character_in_the_header_fails_the_job_with_a_reason(account):
    job = run_import(account, "customers", b"Mail,No\x00tes\r\na@example.com,x\r\n")

    assert job.status == "failed"
    assert job.message == (
        "The header line holds a NUL character (byte 0), which is not text: remove it."
    )
    assert customers(account) == []


def test_a_nul_character_in_a_latin_1_file_fails_its_row_only(account):
    content = "Mail,Ville\r\na@example.com,Orléans\r\nb@example.com,Br\x00est\r\n".encode("latin-1")
    job = run_import(account, "customers", content)

    assert (job.status, job.created, job.failed) == ("succeeded", 1, 1)
    assert customer(account, email="a@example.com").city == "Orléans"
    assert job.errors[0]["line"] == 3
    assert "NUL character" in job.errors[0]["message"]
