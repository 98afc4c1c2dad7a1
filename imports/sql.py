# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""The SQL the engine builds: a raw cell made a value, and each column type's value and
error, computed set-based over a chunk of staged rows.

A raw cell goes through `clean()`: the export's formula escape (`'=...`) undone, trimmed,
blank as NULL (a blank cell never overwrites a stored value). Each type then gives a
value expression and an error expression: `'<field>' || E'\\t' || message`, or NULL.
Parsing a cell is guarded so that no cast can raise: one bad value fails its row,
never the statement.

Expressions are written over the alias `c` (the cleaned cells, `c.x_<field>`); some need
a lateral subquery or a join with the Python checks' results (`imp_py`), returned as
`joins`. Literal `%` is written `%%` (the statements take named parameters)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from psycopg import Copy
from psycopg import sql as pg

from crm_project.choices import choice_key
from imports.kinds import Field, T

TRIM = "E' \\t\\r\\n\\u00a0'"
UUID_RE = (
    "^\\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\\}?$"
)
# A strict subset of what Django's EmailValidator accepts: values matching it are valid
# without asking Python (tests/imports/test_properties.py holds the two together).
EMAIL_FAST_RE = (
    "^[A-Za-z0-9_+-]+(\\.[A-Za-z0-9_+-]+)*"
    "@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    "\\.[A-Za-z]{2,63}$"
)
# The same test without bounded repetitions, which make PostgreSQL's regex engine ~10x
# slower (2.4 s per 100,000 cells against 0.2 s): a label's limit of 63 characters
# holds when the whole domain has at most 63 (longer domains go to Python).
EMAIL_QUICK_RE = (
    "^[A-Za-z0-9_+-]+(\\.[A-Za-z0-9_+-]+)*"
    "@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z]+$"
)
ISO_DATE_RE = "^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$"
OTHER_DATE_RE = "^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})$"
ISO_DATETIME_RE = (
    "^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    "(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,6})[0-9]*)?)?)?"
    " *([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
OTHER_DATETIME_RE = (
    "^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?$"
)
# The usual exports' dates, with two-digit days, months, hours... (2024-05-31,
# 2024-05-31T14:30:05, 12/25/2023, 25-12-2023 14:30), are told by their shape (`sh`:
# each digit as 0, `T` as a space; `.` and `-` as `/` for day/month/year) and read by
# position: PostgreSQL's regexp_match costs ~25 us a cell (~100 us with nested
# optional groups), translate() well under 1 us. The others go through the patterns.
DIGITS = "0123456789"
ISO_FIXED_SHAPES = ("0000-00-00", "0000-00-00 00:00", "0000-00-00 00:00:00")
OTHER_FIXED_SHAPES = ("00/00/0000", "00/00/0000 00:00", "00/00/0000 00:00:00")
TRUE_WORDS = ("true", "t", "yes", "y", "1", "on", "oui", "o", "vrai", "x")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off", "non", "faux")


# --- Running statements ------------------------------------------------------------------


def execute(statement: str, params: dict[str, Any] | None = None) -> int:
    """Run `statement` (named parameters); the rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.rowcount


def fetchall(statement: str, params: dict[str, Any] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.fetchall()


@contextmanager
def copy_into(statement: str) -> Iterator[Copy]:
    """A `COPY ... FROM STDIN` to write rows to."""
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        yield copy


def copy_rows(statement: str, rows: Iterable[tuple]) -> None:
    with copy_into(statement) as copy:
        for row in rows:
            copy.write_row(row)


def literal(text: str) -> str:
    """A SQL string literal, `%` doubled (the statements take named parameters)."""
    return pg.Literal(text).as_string(None).replace("%", "%%")


def ident(name: str) -> str:
    """A table or column name, quoted as an identifier."""
    return pg.Identifier(name).as_string(None)


# --- Typing a cell --------------------------------------------------------------------------


def clean(raw: str) -> str:
    # An escaped cell (an export's `'=...`, `'+33...`, `'\t...`) is taken verbatim,
    # its escape removed; any other is trimmed.
    return (
        # (The pattern is tried only on a cell starting with a quote: a third of the cost.)
        f"nullif(CASE WHEN left({raw}, 1) = '''' AND {raw} ~ '^''+[-=+@\\t\\r]' "
        f"THEN substr({raw}, 2) "
        f"ELSE btrim({raw}, {TRIM}) END, '')"
    )


def err(field_name: str, message_sql: str) -> str:
    return f"({literal(field_name)} || E'\\t' || {message_sql})"


SQL_TYPES = {
    T.TEXT: "text",
    T.EMAIL: "text",
    T.PHONE: "text",
    T.CHOICE: "text",
    T.BOOL: "boolean",
    T.INT: "integer",
    T.MONEY: "numeric",
    T.PERCENT: "numeric",
    T.DATE: "date",
    T.DATETIME: "timestamptz",
    T.UUID: "uuid",
    T.TAGS: "text[]",
    T.JSON: "jsonb",
    T.AGENT: "uuid",
    T.REF: "text",
    T.IP: "inet",
}

# Types whose values Python checks where SQL cannot (in batches, per chunk).
PYTHON_CHECKED = (T.EMAIL, T.PHONE, T.JSON, T.TAGS, T.IP)
# A dotted IPv4 address without leading zeros: valid as it is (anything else, IPv6
# included, is checked and normalized by Django's rule in Python).
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = f"^({_OCTET}\\.){{3}}{_OCTET}$"


@dataclass
class Typed:
    value: str
    error: str | None = None
    joins: list[str] = field(default_factory=list)


def python_candidates(f: Field, x: str) -> str | None:
    """SQL: whether the cleaned cell `x` needs Python (None: the type never does)."""
    if f.type is T.EMAIL:
        # EMAIL_FAST_RE's test, made cheap (see EMAIL_QUICK_RE).
        return (
            f"NOT ({x} ~ '{EMAIL_QUICK_RE}' AND length({x}) <= 254 "
            f"AND length({x}) - strpos({x}, '@') <= 63)"
        )
    if f.type is T.PHONE:
        return f"NOT {phone_fast(x)}"
    if f.type is T.JSON:
        return f"{x} <> '{{}}'"
    if f.type is T.TAGS:
        return f"left({x}, 1) = '['"
    if f.type is T.IP:
        return f"{x} !~ '{IPV4_RE}'"
    return None


def phone_fast(x: str) -> str:
    """SQL: `x` is already what normalize_phone would return, decided from
    phonenumbers' own metadata (imp_phone_rules, built by the engine): `+`, a country
    code, a national number of a possible length that no national prefix could
    precede. Anything else goes to phonenumbers itself."""
    # `+`, then 4 to 20 digits, the first not 0 (a bounded repetition in the pattern
    # would cost ~3x); the rules of the country code the number starts with, found by
    # its first three digits.
    return (
        f"({x} ~ '^\\+[1-9][0-9]+$' AND length({x}) BETWEEN 5 AND 21 AND EXISTS ("
        f"SELECT 1 FROM imp_phone_rules r WHERE r.p3 = substr({x}, 2, 3) "
        f"AND length({x}) - 1 - length(r.cc) = ANY (r.lengths) "
        f"AND (r.prefix IS NULL OR substr({x}, 2 + length(r.cc)) !~ r.prefix)))"
    )


def _python_join(f: Field, x: str) -> tuple[str, str]:
    alias = f"py_{f.name}"
    join = f"LEFT JOIN imp_py {alias} ON {alias}.field = {literal(f.name)} AND {alias}.raw = {x}"
    return alias, join


def typed(f: Field, x: str, *, date_order: str | None = None) -> Typed:
    """The value and error of field `f` from its cleaned cell `x`. `date_order` is
    `dmy` / `mdy` for dates written with day and month as numbers, or None (then only
    an unambiguous value is read)."""
    name = f.name
    lat = f"l_{name}"
    if f.type in (T.TEXT, T.REF):
        error = None
        too_long = f"Ensure this field has no more than {f.max_length} characters."
        if f.max_length:
            error = (
                f"CASE WHEN length({x}) > {f.max_length} THEN {err(name, literal(too_long))} END"
            )
        return Typed(x, error)

    if f.type in (T.EMAIL, T.PHONE, T.IP):
        alias, join = _python_join(f, x)
        # A phone's limit is on what was written (the API's rule); an email's is checked
        # with its syntax.
        too_long = ""
        if f.type is T.PHONE and f.max_length:
            message = literal(f"Ensure this field has no more than {f.max_length} characters.")
            too_long = f"WHEN length({x}) > {f.max_length} THEN {err(name, message)} "
        return Typed(
            f"CASE WHEN {alias}.raw IS NOT NULL THEN {alias}.value ELSE {x} END",
            f"CASE {too_long}WHEN {alias}.error IS NOT NULL THEN {err(name, f'{alias}.error')} END",
            [join],
        )

    if f.type is T.JSON:
        alias, join = _python_join(f, x)
        return Typed(
            f"CASE WHEN {x} = '{{}}' THEN '{{}}'::jsonb "
            f"WHEN {alias}.error IS NULL THEN {alias}.value::jsonb END",
            f"CASE WHEN {alias}.error IS NOT NULL THEN {err(name, f'{alias}.error')} END",
            [join],
        )

    if f.type is T.TAGS:
        alias, join = _python_join(f, x)
        limit = f.max_length or 100
        split = (
            "ARRAY(SELECT q.t FROM (SELECT DISTINCT ON (lower(z.t)) z.t, u.o "
            f"FROM unnest(string_to_array({x}, ',')) WITH ORDINALITY AS u(r, o), "
            "LATERAL (SELECT regexp_replace(btrim(u.r), '\\s+', ' ', 'g') AS t) z "
            "WHERE z.t <> '' ORDER BY lower(z.t), u.o) q ORDER BY q.o)"
        )
        lateral = (
            f"LEFT JOIN LATERAL (SELECT CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN {alias}.raw IS NOT NULL THEN "
            f"ARRAY(SELECT jsonb_array_elements_text({alias}.value::jsonb)) "
            f"WHEN strpos({x}, ',') = 0 THEN ARRAY[regexp_replace({x}, '\\s+', ' ', 'g')] "
            f"ELSE {split} END AS v) {lat} ON TRUE"
        )
        too_long = f"EXISTS (SELECT 1 FROM unnest({lat}.v) AS g(t) WHERE length(g.t) > {limit})"
        return Typed(
            f"{lat}.v",
            f"CASE WHEN {alias}.error IS NOT NULL THEN {err(name, f'{alias}.error')} "
            f"WHEN {too_long} THEN "
            f"{err(name, literal(f'Each tag has at most {limit} characters.'))} END",
            [join, lateral],
        )

    if f.type is T.CHOICE:
        cases = " ".join(
            f"WHEN {literal(choice_key(spelling))} THEN {literal(value)}"
            for spelling, value in dict(f.choices).items()
        )
        lateral = (
            # crm_project.choices.choice_key, in SQL: spaces, `-` and `_` dropped, lower case.
            f"LEFT JOIN LATERAL (SELECT CASE lower(regexp_replace({x}, '[\\s_-]+', '', 'g')) "
            f"{cases} END AS v) {lat} ON TRUE"
        )
        allowed = ", ".join(sorted({value for _, value in f.choices}))
        invalid = f'" is not a valid choice ({allowed}).'
        return Typed(
            f"{lat}.v",
            f"CASE WHEN {x} IS NOT NULL AND {lat}.v IS NULL THEN "
            f"{err(name, literal(chr(34)) + f' || {x} || ' + literal(invalid))} END",
            [lateral],
        )

    if f.type is T.BOOL:
        trues = ", ".join(literal(w) for w in TRUE_WORDS)
        falses = ", ".join(literal(w) for w in FALSE_WORDS)
        lateral = (
            f"LEFT JOIN LATERAL (SELECT CASE WHEN lower({x}) IN ({trues}) THEN TRUE "
            f"WHEN lower({x}) IN ({falses}) THEN FALSE END AS v) {lat} ON TRUE"
        )
        return Typed(
            f"{lat}.v",
            f"CASE WHEN {x} IS NOT NULL AND {lat}.v IS NULL THEN "
            f"{err(name, literal('Must be a valid boolean (true/false, yes/no, 1/0).'))} END",
            [lateral],
        )

    if f.type is T.INT:
        lateral = (
            f"LEFT JOIN LATERAL (SELECT CASE WHEN {x} ~ '^[+-]?[0-9]{{1,9}}$' "
            f"THEN {x}::integer END AS v) {lat} ON TRUE"
        )
        return Typed(
            f"{lat}.v",
            _number_errors(f, x, f"{lat}.v", "A valid integer is required."),
            [lateral],
        )

    if f.type in (T.MONEY, T.PERCENT):
        s = f"regexp_replace({x}, '[\\s\\u00a0\\u202f€$£%%]', '', 'g')"
        lateral = (
            f"LEFT JOIN LATERAL (SELECT round(n.t::numeric, 2) AS v FROM (SELECT CASE "
            f"WHEN s.t ~ '^[+-]?[0-9]+(\\.[0-9]+)?$' THEN s.t "
            f"WHEN s.t ~ '^[+-]?[0-9]+,[0-9]{{1,2}}$' THEN replace(s.t, ',', '.') "
            f"WHEN s.t ~ '^[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?$' "
            "THEN replace(s.t, ',', '') "
            f"WHEN s.t ~ '^[+-]?[0-9]{{1,3}}(\\.[0-9]{{3}})+(,[0-9]+)?$' "
            f"THEN replace(replace(s.t, '.', ''), ',', '.') END AS t "
            f"FROM (SELECT {s} AS t) s) n) {lat} ON TRUE"
        )
        return Typed(
            f"{lat}.v", _number_errors(f, x, f"{lat}.v", "A valid number is required."), [lateral]
        )

    if f.type is T.UUID:
        return Typed(
            f"CASE WHEN {x} ~ '{UUID_RE}' THEN {x}::uuid END",
            f"CASE WHEN {x} IS NOT NULL AND {x} !~ '{UUID_RE}' THEN "
            f"{err(name, literal('Must be a valid UUID.'))} END",
        )

    if f.type is T.AGENT:
        lateral = (
            f"LEFT JOIN LATERAL (SELECT coalesce("
            f"(SELECT a.id FROM accounts_agent a WHERE a.account_id = %(account)s "
            f"AND a.id = CASE WHEN {x} ~ '{UUID_RE}' THEN {x}::uuid END), "
            f"(SELECT a.id FROM accounts_agent a WHERE a.account_id = %(account)s "
            f"AND a.external_id = {x})) AS v) {lat} ON TRUE"
        )
        return Typed(
            f"{lat}.v",
            f"CASE WHEN {x} IS NOT NULL AND {lat}.v IS NULL THEN "
            f"{err(name, literal('Agent not found (give an agent id or external_id).'))} END",
            [lateral],
        )

    if f.type is T.DATE:
        return _date(f, x, lat, date_order)
    if f.type is T.DATETIME:
        return _datetime(f, x, lat, date_order)
    raise ValueError(f"No SQL for {f.type}")


def _number_errors(f: Field, x: str, v: str, invalid: str) -> str:
    parts = [f"WHEN {x} IS NOT NULL AND {v} IS NULL THEN {err(f.name, literal(invalid))}"]
    if f.minimum is not None:
        parts.append(
            f"WHEN {v} < {f.minimum} THEN "
            f"{err(f.name, literal(f'Ensure this value is greater than or equal to {f.minimum}.'))}"
        )
    if f.maximum is not None:
        parts.append(
            f"WHEN {v} > {f.maximum} THEN "
            f"{err(f.name, literal(f'Ensure this value is less than or equal to {f.maximum}.'))}"
        )
    return "CASE " + " ".join(parts) + " END"


def _day_month(o: str, date_order: str | None) -> tuple[str, str, str]:
    """SQL (month, day, ambiguous) from `o`, the match of a day/month/year pattern."""
    a, b = f"{o}[1]::int", f"{o}[2]::int"
    if date_order == "dmy":
        return b, a, "FALSE"
    if date_order == "mdy":
        return a, b, "FALSE"
    month = f"CASE WHEN {a} > 12 THEN {b} WHEN {b} > 12 THEN {a} WHEN {a} = {b} THEN {a} END"
    day = f"CASE WHEN {a} > 12 THEN {a} WHEN {b} > 12 THEN {b} WHEN {a} = {b} THEN {a} END"
    return month, day, f"({a} <= 12 AND {b} <= 12 AND {a} <> {b})"


def _valid_ymd(y: str, m: str, d: str) -> str:
    # CASE, not AND: make_date must never see an out-of-range month.
    return (
        f"CASE WHEN {y} BETWEEN 1 AND 9999 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND 31 "
        f"THEN {d} <= 28 "
        f"OR {d} <= extract(day FROM make_date({y}, {m}, 1) + interval '1 month - 1 day') "
        "ELSE FALSE END"
    )


OUT_OF_RANGE = (
    " falls outside the years 1 to 9999 once its offset or the account's timezone is applied."
)


def _date_messages(f: Field, x: str, lat: str, formats: str, *, ranged: bool = False) -> str:
    """The error of a date or datetime cell; `ranged`: `lat` also says whether the
    value fell out of range (`out_of_range`)."""

    def quoted(message: str) -> str:
        return err(f.name, f"{literal(chr(39))} || {x} || {literal(chr(39) + message)}")

    ambiguous = (
        " is ambiguous: set the import's date format to dmy (day first) or mdy (month first)."
    )
    out_of_range = f"WHEN {lat}.out_of_range THEN {quoted(OUT_OF_RANGE)} " if ranged else ""
    return (
        f"CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN {lat}.matched IS NOT TRUE THEN {quoted(f' is not a {formats}.')} "
        f"WHEN {lat}.ambiguous THEN {quoted(ambiguous)} "
        f"{out_of_range}"
        f"WHEN {lat}.v IS NULL THEN {quoted(' is not a valid date.')} "
        "END"
    )


def _shape(x: str) -> str:
    """SQL: a subquery giving `sh`, the shape of `x` (ISO_FIXED_SHAPES)."""
    return f"SELECT translate({x}, '{DIGITS}T', '{'0' * len(DIGITS)} ') AS sh"


def _shapes(shapes: tuple[str, ...]) -> str:
    return ", ".join(f"'{shape}'" for shape in shapes)


def _date(f: Field, x: str, lat: str, date_order: str | None) -> Typed:
    month, day, ambiguous = _day_month("r.o", date_order)
    lateral = (
        f"LEFT JOIN LATERAL (SELECT p.matched, p.ambiguous, "
        f"CASE WHEN p.matched AND NOT p.ambiguous THEN CASE WHEN {_valid_ymd('p.y', 'p.m', 'p.d')} "
        "THEN make_date(p.y, p.m, p.d) END END AS v "
        "FROM (SELECT (r.i IS NOT NULL OR r.o IS NOT NULL) AS matched, "
        f"coalesce(r.o IS NOT NULL AND {ambiguous}, FALSE) AS ambiguous, "
        "coalesce(r.i[1], r.o[3])::int AS y, "
        f"CASE WHEN r.i IS NOT NULL THEN r.i[2]::int ELSE {month} END AS m, "
        f"CASE WHEN r.i IS NOT NULL THEN r.i[3]::int ELSE {day} END AS d "
        f"FROM (SELECT CASE WHEN z.sh = '0000-00-00' "
        f"THEN ARRAY[substr({x}, 1, 4), substr({x}, 6, 2), substr({x}, 9, 2)] "
        f"WHEN left(z.sh, 5) = '0000-' THEN regexp_match({x}, '{ISO_DATE_RE}') END AS i, "
        f"CASE WHEN z.sh = '0000-00-00' THEN NULL "
        f"WHEN translate(z.sh, '.-', '//') = '00/00/0000' "
        f"THEN ARRAY[substr({x}, 1, 2), substr({x}, 4, 2), substr({x}, 7, 4)] "
        f"ELSE regexp_match({x}, '{OTHER_DATE_RE}') END AS o "
        f"FROM ({_shape(x)} OFFSET 0) z OFFSET 0) r OFFSET 0) p) {lat} ON TRUE"
    )
    return Typed(
        f"{lat}.v",
        _date_messages(f, x, lat, "date (use YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY)"),
        [lateral],
    )


def _datetime(f: Field, x: str, lat: str, date_order: str | None) -> Typed:
    """ISO 8601 (an offset or `Z`, or none: the account's timezone, %(tz)s), a bare
    date (00:00 there), or day/month/year with an optional time."""
    month, day, ambiguous = _day_month("r.o", date_order)
    offset = "r.i[8]"
    # Seconds and their fraction (at most 6 digits: exact in microseconds).
    local = "make_timestamp(p.y, p.m, p.d, p.hh, p.mi, (p.ss || '.' || p.frac)::float8)"
    value = (
        f"CASE WHEN p.off IS NULL THEN {local} AT TIME ZONE %(tz)s "
        f"WHEN upper(p.off) = 'Z' THEN {local} AT TIME ZONE 'UTC' "
        f"ELSE ({local} - (CASE WHEN left(p.off, 1) = '-' THEN -1 ELSE 1 END) "
        "* make_interval(hours => substr(p.off, 2, 2)::int, "
        "mins => coalesce(nullif(replace(substr(p.off, 4), ':', ''), ''), '0')::int)) "
        "AT TIME ZONE 'UTC' END"
    )
    lateral = (
        # The instant must be a datetime Python can read, in UTC and in the account's
        # timezone: PostgreSQL would store years BC and past 9999. (An offset or a
        # timezone moves the year by one at most: years 2 to 9998 need no look.)
        "LEFT JOIN LATERAL (SELECT q.matched, q.ambiguous, CASE WHEN q.ok THEN q.v END AS v, "
        "NOT q.ok AS out_of_range FROM (SELECT q0.*, CASE WHEN q0.y BETWEEN 2 AND 9998 "
        "THEN TRUE ELSE coalesce("
        "extract(year FROM q0.v AT TIME ZONE 'UTC') BETWEEN 1 AND 9999 "
        "AND extract(year FROM q0.v AT TIME ZONE %(tz)s) BETWEEN 1 AND 9999, TRUE) END AS ok "
        "FROM (SELECT p.matched, p.ambiguous, p.y, "
        "CASE WHEN NOT p.matched OR p.ambiguous THEN NULL "
        f"WHEN NOT ({_valid_ymd('p.y', 'p.m', 'p.d')}) THEN NULL "
        "WHEN NOT (p.hh BETWEEN 0 AND 23 AND p.mi BETWEEN 0 AND 59 AND p.ss BETWEEN 0 AND 59) "
        "THEN NULL "
        "WHEN CASE WHEN p.off IS NULL OR upper(p.off) = 'Z' THEN FALSE "
        "ELSE substr(p.off, 2, 2)::int > 18 END THEN NULL "
        f"ELSE {value} END AS v "
        "FROM (SELECT (r.i IS NOT NULL OR r.o IS NOT NULL) AS matched, "
        f"coalesce(r.o IS NOT NULL AND {ambiguous}, FALSE) AS ambiguous, "
        "coalesce(r.i[1], r.o[3])::int AS y, "
        f"CASE WHEN r.i IS NOT NULL THEN r.i[2]::int ELSE {month} END AS m, "
        f"CASE WHEN r.i IS NOT NULL THEN r.i[3]::int ELSE {day} END AS d, "
        "coalesce(r.i[4], r.o[4], '0')::int AS hh, coalesce(r.i[5], r.o[5], '0')::int AS mi, "
        "coalesce(r.i[6], r.o[6], '0')::int AS ss, coalesce(r.i[7], '0') AS frac, "
        f"{offset} AS off "
        # The fixed shapes by position (ISO_FIXED_SHAPES, OTHER_FIXED_SHAPES),
        # the others by their pattern; day/month/year cannot start with four digits and
        # a dash, ISO 8601 must.
        f"FROM (SELECT CASE WHEN z.sh IN ({_shapes(ISO_FIXED_SHAPES)}) "
        f"THEN ARRAY[substr({x}, 1, 4), substr({x}, 6, 2), substr({x}, 9, 2), "
        f"nullif(substr({x}, 12, 2), ''), nullif(substr({x}, 15, 2), ''), "
        f"nullif(substr({x}, 18, 2), ''), NULL, NULL] "
        f"WHEN left(z.sh, 5) = '0000-' THEN regexp_match({x}, '{ISO_DATETIME_RE}') END AS i, "
        f"CASE WHEN left(z.sh, 5) = '0000-' THEN NULL "
        f"WHEN translate(z.sh, '.-', '//') IN ({_shapes(OTHER_FIXED_SHAPES)}) "
        f"THEN ARRAY[substr({x}, 1, 2), substr({x}, 4, 2), substr({x}, 7, 4), "
        f"nullif(substr({x}, 12, 2), ''), nullif(substr({x}, 15, 2), ''), "
        f"nullif(substr({x}, 18, 2), '')] "
        f"ELSE regexp_match({x}, '{OTHER_DATETIME_RE}') END AS o "
        f"FROM ({_shape(x)} OFFSET 0) z OFFSET 0) r OFFSET 0) p OFFSET 0) q0) q) {lat} ON TRUE"
    )
    return Typed(
        f"{lat}.v",
        _date_messages(
            f,
            x,
            lat,
            "date and time (use ISO 8601, e.g. 2024-05-31T14:30:00+02:00)",
            ranged=True,
        ),
        [lateral],
    )


def date_evidence_sql(x: str, source: str) -> str:
    """SQL counting, over cleaned cells `x` of `source`, the day/month values only a
    day-first (first > 12) or only a month-first (second > 12) reading allows."""
    # Two-digit days and months by position (the usual case), others by the pattern,
    # which a plain match (no captures, ~10x cheaper) looks for first.
    pattern = "^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})"
    o = (
        f"CASE WHEN translate(left({x}, 10), '{DIGITS}.-', '{'0' * len(DIGITS)}//') "
        f"= '00/00/0000' THEN ARRAY[substr({x}, 1, 2), substr({x}, 4, 2)] "
        f"WHEN {x} ~ '{pattern}' THEN regexp_match({x}, '{pattern}') END"
    )
    return (
        "SELECT count(*) FILTER (WHERE (o)[1]::int > 12 AND (o)[2]::int <= 12), "
        "count(*) FILTER (WHERE (o)[2]::int > 12 AND (o)[1]::int <= 12) "
        # Each cell cleaned and matched once (not once per use, as inlined).
        f"FROM (SELECT {o} AS o FROM ({source} OFFSET 0) src OFFSET 0) q WHERE o IS NOT NULL"
    )
