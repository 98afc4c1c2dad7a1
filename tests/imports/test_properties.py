"""Where SQL decides alone, Python's own rules are the oracle: the phone fast path
against normalize_phone (phonenumbers), the email fast path against Django's
EmailValidator, and the CSV escaping round trip."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_project.phones import InvalidPhone, normalize_phone
from crm_project.tenancy import account_scope
from imports import csvio, sql, staging

pytestmark = pytest.mark.django_db

COUNTRY_CODES = [cc for cc, _prefix, _lengths in staging.phone_rules()]


def sql_accepts(expression_of_x, values):
    """{value: whether the SQL predicate accepts it}."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x, {expression_of_x} FROM unnest(%s::text[]) AS v(x)",
            [values],
        )
        return dict(cursor.fetchall())


def phone_like():
    known = st.builds(
        lambda cc, digits: f"+{cc}{digits}",
        st.sampled_from(COUNTRY_CODES),
        st.text(alphabet="0123456789", min_size=0, max_size=16),
    )
    anything = st.from_regex(r"\+[0-9]{2,19}", fullmatch=True)
    return st.lists(st.one_of(known, anything), min_size=1, max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=phone_like())
def test_the_phone_fast_path_accepts_only_what_phonenumbers_keeps_as_is(account, values):
    with account_scope(account):
        staging.ensure_phone_rules()
        accepted = sql_accepts(sql.phone_fast("x"), values)
    for value in values:
        if accepted[value]:
            try:
                assert normalize_phone(value, "FR") == value
                assert normalize_phone(value, "US") == value
            except InvalidPhone:
                pytest.fail(f"{value} accepted by SQL, refused by phonenumbers")


def test_the_phone_fast_path_takes_common_numbers(account):
    values = ["+33612345678", "+12125551234", "+447911123456", "+4915123456789"]
    with account_scope(account):
        staging.ensure_phone_rules()
        assert all(sql_accepts(sql.phone_fast("x"), values).values())


def email_like():
    local = st.text(alphabet="abcXYZ0129._%+-'!#é\"", min_size=0, max_size=12)
    domain = st.text(alphabet="abc019-.é_", min_size=0, max_size=14)
    tld = st.text(alphabet="abcdefXY1-", min_size=0, max_size=5)
    return st.lists(
        st.builds(lambda a, b, c: f"{a}@{b}.{c}", local, domain, tld), min_size=1, max_size=40
    )


@settings(max_examples=80, deadline=None)
@given(values=email_like())
def test_the_email_fast_path_accepts_only_valid_emails(values):
    accepted = sql_accepts(f"x ~ '{sql.EMAIL_FAST_RE}'", values)
    validate = EmailValidator()
    for value in values:
        if accepted[value]:
            try:
                validate(value)
            except ValidationError:
                pytest.fail(f"{value!r} accepted by SQL, refused by EmailValidator")


@given(st.text())
def test_escaping_a_cell_round_trips(value):
    escaped = csvio.escape_cell(value)
    assert csvio.unescape_cell(escaped) == value
    assert not escaped.startswith(csvio.FORMULA_TRIGGERS)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.text(alphabet="=+-@\t\r'ab ", max_size=6), min_size=1, max_size=20))
def test_sql_and_python_escape_alike(values):
    from imports.exports import escaped

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT x, {escaped('x')} FROM unnest(%s::text[]) AS v(x)", [values])
        for value, result in cursor.fetchall():
            assert result == csvio.escape_cell(value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x, {sql.clean('x')} FROM unnest(%s::text[]) AS v(x)",
            [[csvio.escape_cell(v) for v in values]],
        )
        for escaped_value, cleaned in cursor.fetchall():
            original = csvio.unescape_cell(escaped_value)
            expected = (
                original if escaped_value != original else (original.strip(" \t\r\n\u00a0") or None)
            )
            assert cleaned == expected
