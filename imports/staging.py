# ruff: noqa: S608  (SQL is built from the kinds' declarations and model tables; the
# file's values never enter it: they are COPYed or passed as parameters)
"""The file in PostgreSQL, and its cells typed there.

- Staging: the file's records are streamed (imports.csvio) and `COPY`ed, every cell as
  text, into the temporary table `imp_stage (rn, line, err, c0, c1, ...)`; a record
  that cannot be stored as it is (a wrong number of fields, a NUL character) keeps an
  `err` and fails when its chunk is applied.
- Typing: `ChunkTyping` builds the statement that turns a chunk of staged rows into
  typed values and errors, set-based (imports.sql gives each type's SQL); the few
  values SQL cannot decide (unusual phones and emails, JSON cells) are checked in
  Python once per chunk, in one batch (`imp_py`).

Temporary tables cannot be seen by other sessions and live only as long as this
connection; the app role may create them although it may not `COPY` into a tenant
table directly (row-level security)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import batched
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.forms import GenericIPAddressField
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code

from crm_project.phones import InvalidPhone, normalize_phone
from customers.inputs import clean_tags
from imports import sql
from imports.csvio import CsvFormat, Record
from imports.kinds import Field, HeaderMap, Kind, T
from imports.models import ImportJob
from imports.sql import copy_into, copy_rows, execute, fetchall

TEMP_TABLES = (
    "imp_stage",
    "imp_dup",
    "imp_chunk",
    "imp_py",
    "imp_group",
    "imp_line",
    "imp_oline",
    "imp_order",
    "imp_match",
    "imp_settle",
    "imp_deferred",
)
# jsonb_build_object takes at most 100 arguments: unknown columns go 40 at a time.
EXTRA_COLUMNS_PER_OBJECT = 40


@dataclass
class Staged:
    """The staged file as the appliers see it."""

    job: ImportJob
    kind: Kind
    fmt: CsvFormat
    header: HeaderMap
    params: dict[str, Any]  # the statements' parameters: account, tz
    region: str  # the account's phone region
    # Per date column, `dmy` / `mdy`, or None: only unambiguous values are read.
    date_orders: dict[str, str | None] = field(default_factory=dict)

    def date_order(self, f: Field) -> str | None:
        if self.job.date_format in ("dmy", "mdy"):
            return self.job.date_format
        # What the file's values show, else the field's own order (seed 002's dates).
        return self.date_orders.get(f.name, f.date_order)

    def cells_sql(self) -> str:
        """SQL: a staged row's cells, as the file has them (`s.c0, s.c1, ...`)."""
        return ", ".join(f"s.c{i}" for i in range(len(self.fmt.header)))

    def present(self, *types: T) -> list[Field]:
        """The kind's fields of these types the file has."""
        return [f for f in self.kind.fields if self.header.has(f.name) and f.type in types]


def drop_temp_tables() -> None:
    execute("DROP TABLE IF EXISTS " + ", ".join(TEMP_TABLES))


# --- Staging ----------------------------------------------------------------------------


def create_stage(width: int) -> None:
    drop_temp_tables()
    columns = ", ".join(f"c{i} text" for i in range(width))
    execute(
        "CREATE TEMP TABLE imp_stage (rn bigint NOT NULL, line bigint NOT NULL, err text, "
        f"{columns})"
    )


def copy_records(
    records: Iterator[Record], header: list[str], rn: int, seconds: float
) -> tuple[int, bool]:
    """COPY the next records into imp_stage for about `seconds`, numbering them after
    `rn`; (the last record's number, whether the file is read to its end)."""
    deadline = time.monotonic() + seconds
    with copy_into("COPY imp_stage FROM STDIN") as copy:
        for record in records:
            rn += 1
            cells, error = fit(record, header)
            copy.write_row((rn, record.line, error, *cells))
            if rn % 1000 == 0 and time.monotonic() > deadline:
                return rn, False
    return rn, True


def index_stage() -> int:
    execute("CREATE UNIQUE INDEX ON imp_stage (rn)")
    # The columns plans turn on (chunks are read by rn; failed records have an err):
    # the cells' statistics would cost a sort of every sampled cell.
    execute("ANALYZE imp_stage (rn, err)")
    return int(fetchall("SELECT count(*) FROM imp_stage")[0][0])


def fit(record: Record, header: list[str]) -> tuple[list[str], str | None]:
    """The record's cells, as many as the header has, and what is wrong with it. A NUL
    character cannot be stored (it is not text): it is dropped and the row fails."""
    width = len(header)
    cells = record.fields
    if record.error:
        return [""] * width, record.error
    error = None
    if len(cells) > width:
        extra = cells[width:]
        if any(cell.strip() for cell in extra):  # trailing empty cells: spreadsheets add them
            shown = ", ".join(repr(cell) for cell in extra[:3])
            error = (
                f"This row has {len(cells)} fields where the header has {width} (extra: "
                f"{shown}): check its delimiters and quotes."
            )
        cells = cells[:width]
    elif len(cells) < width:
        error = f"This row has {len(cells)} fields where the header has {width}."
        cells = cells + [""] * (width - len(cells))
    nul = next((i for i, cell in enumerate(cells) if "\x00" in cell), None)
    if nul is not None:
        cells = [cell.replace("\x00", "") for cell in cells]
        error = error or (
            f"Column {nul + 1} “{header[nul]}” holds a NUL character (byte 0), which is not "
            "text: remove it."
        )
    return cells, error


# --- Day/month order ----------------------------------------------------------------------


def infer_date_orders(staged: Staged) -> list[str]:
    """With date_format `auto`: a date column whose values include 25/12/2024 (or no
    12/25/2024) is read day first, and the other way round; when nothing in the file
    decides, ambiguous values (03/04/2024) fail asking for the setting. Sets
    `staged.date_orders`; the warnings to show."""
    if staged.job.date_format != "auto":
        return []
    warnings = []
    for f in staged.present(T.DATE, T.DATETIME):
        column = staged.header.fields[f.name]
        query = sql.date_evidence_sql(
            "src.x", f"SELECT {sql.clean(f's.c{column.index}')} AS x FROM imp_stage s"
        )
        day_first, month_first = fetchall(query, staged.params)[0]
        if day_first and not month_first:
            staged.date_orders[f.name] = "dmy"
            warnings.append(
                f"Dates in “{column.header}” are read day first (DD/MM/YYYY), as the "
                "file's values show."
            )
        elif month_first and not day_first:
            staged.date_orders[f.name] = "mdy"
            warnings.append(
                f"Dates in “{column.header}” are read month first (MM/DD/YYYY), as "
                "the file's values show."
            )
        elif day_first and month_first:
            staged.date_orders[f.name] = None
            warnings.append(
                f"Dates in “{column.header}” mix day-first and month-first values: "
                "ambiguous ones fail; set the date format to dmy or mdy."
            )
    return warnings


# --- Phones: the rules that let SQL accept an E.164 number as normalize_phone would ----


@cache
def phone_rules() -> list[tuple[str, str | None, list[int]]]:
    """(country code, national prefix pattern, possible lengths) of every country code
    whose main region has metadata, from phonenumbers itself."""
    rules = []
    for cc in sorted(COUNTRY_CODE_TO_REGION_CODE):
        region = region_code_for_country_code(cc)
        if region == "001":  # non-geographic numbers: phonenumbers decides
            continue
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None or metadata.general_desc is None:
            continue
        possible = list(metadata.general_desc.possible_length or ())
        if not possible or possible[0] == -1:
            continue
        local = list(metadata.general_desc.possible_length_local_only or ())
        lengths = sorted({n for n in possible + local if 2 <= n <= 17})
        prefix = metadata.national_prefix_for_parsing
        rules.append((str(cc), f"^(?:{prefix})" if prefix else None, lengths))
    return rules


def ensure_phone_rules() -> None:
    """imp_phone_rules: each rule once per three-digit start of the numbers it covers
    (`p3`: `1` as 100..199, `33` as 330..339), so that a number finds its rule with one
    index probe (imports.sql.phone_fast)."""
    execute(
        "CREATE TEMP TABLE IF NOT EXISTS imp_phone_rules "
        "(p3 text NOT NULL, cc text NOT NULL, prefix text, lengths int[] NOT NULL)"
    )
    if not fetchall("SELECT 1 FROM imp_phone_rules LIMIT 1"):
        copy_rows(
            "COPY imp_phone_rules (p3, cc, prefix, lengths) FROM STDIN",
            (
                (f"{cc}{rest:0{3 - len(cc)}d}" if len(cc) < 3 else cc, cc, prefix, lengths)
                for cc, prefix, lengths in phone_rules()
                if len(cc) <= 3
                for rest in range(10 ** (3 - len(cc)))
            ),
        )
        execute("CREATE INDEX ON imp_phone_rules (p3)")
        execute("ANALYZE imp_phone_rules")


# --- Python checks (in batches: one query per chunk) ----------------------------------

_email_validator = EmailValidator()
NOT_AN_OBJECT = 'Expected a JSON object (e.g. {"tier": "gold"}).'
NOT_TAGS = "Expected a JSON list of strings, or tags separated by commas."


def python_check(f: Field, raw: str, *, region: str) -> tuple[str | None, str | None]:
    """(value, error) of a cell SQL could not decide."""
    if f.type is T.PHONE:
        try:
            return normalize_phone(raw, region), None
        except InvalidPhone as exc:
            return None, str(exc)
    if f.type is T.IP:
        try:
            return GenericIPAddressField().clean(raw.strip()), None
        except ValidationError:
            return None, "Enter a valid IPv4 or IPv6 address."
    if f.type is T.EMAIL:
        value = raw.strip()
        if len(value) > 254:
            return None, "Ensure this field has no more than 254 characters."
        try:
            _email_validator(value)
        except ValidationError:
            return None, "Enter a valid email address."
        return value, None
    if f.type is T.JSON:
        try:
            data = json.loads(raw)
        except ValueError:
            return None, NOT_AN_OBJECT
        if not isinstance(data, dict):
            return None, NOT_AN_OBJECT
        return json.dumps(data, ensure_ascii=False), None
    if f.type is T.TAGS:
        try:
            data = json.loads(raw)
        except ValueError:
            return None, NOT_TAGS
        if not isinstance(data, list) or not all(isinstance(t, str | int) for t in data):
            return None, NOT_TAGS
        return json.dumps(clean_tags([str(t) for t in data]), ensure_ascii=False), None
    raise ValueError(f.type)


# --- Typing a chunk -------------------------------------------------------------------------


class ChunkTyping:
    """The SQL that types and validates a chunk of staged rows: `select()` gives, per
    row, `rn, line, err`, a value per field of the kind (`v_<field>`, NULL when the
    file lacks its column), the unknown columns as one JSON object (`v__extra`) and
    the errors (`errs`, `field<TAB>message` each)."""

    def __init__(self, staged: Staged, source: str, extra_columns: str = "") -> None:
        self.staged = staged
        kind, header = staged.kind, staged.header
        self.fields = [f for f in kind.fields if not f.ignored]
        self.present = [f for f in self.fields if header.has(f.name)]
        self.source = source  # FROM ... WHERE ... over `s` (staged rows of the chunk)
        inner = [
            f"{sql.clean(f's.c{header.fields[f.name].index}')} AS x_{f.name}" for f in self.present
        ]
        inner += [f"{sql.clean(f's.c{u.index}')} AS u_{n}" for n, u in enumerate(header.unknown)]
        self.inner = ", ".join(
            ["s.rn", "s.line", "s.err", *inner, *([extra_columns] if extra_columns else [])]
        )
        values, errors, joins = [], [], []
        for f in self.fields:
            if f in self.present:
                t = sql.typed(f, f"c.x_{f.name}", date_order=staged.date_order(f))
                values.append(f"({t.value})::{sql.SQL_TYPES[f.type]}")
                if t.error:
                    errors.append(t.error)
                joins.extend(t.joins)
            else:
                values.append(f"NULL::{sql.SQL_TYPES[f.type]}")
        if header.unknown:
            pairs = [(u.key, f"c.u_{n}") for n, u in enumerate(header.unknown)]
            objects = [
                "jsonb_build_object(" + ", ".join(f"{sql.literal(k)}, {v}" for k, v in group) + ")"
                for group in batched(pairs, EXTRA_COLUMNS_PER_OBJECT)
            ]
            values.append("jsonb_strip_nulls(" + " || ".join(objects) + ")")
        else:
            values.append("NULL::jsonb")
        self.values = values
        self.errors = (
            f"array_remove(ARRAY[{', '.join(errors)}]::text[], NULL)" if errors else "'{}'::text[]"
        )
        self.joins = " ".join(joins)
        self.python_fields = [f for f in self.present if f.type in sql.PYTHON_CHECKED]
        # The Python checks' results, joined by the typing statement.
        execute("CREATE TEMP TABLE imp_py (field text, raw text, value text, error text)")
        execute("CREATE INDEX ON imp_py (field, raw)")

    def columns_sql(self) -> str:
        return (
            ", ".join(f"v_{f.name} {sql.SQL_TYPES[f.type]}" for f in self.fields)
            + ", v__extra jsonb"
        )

    def value_names(self) -> str:
        return ", ".join([*(f"v_{f.name}" for f in self.fields), "v__extra"])

    def select(self, extra_select: str = "", extra_joins: str = "") -> str:
        selected = ", ".join(["c.rn", "c.line", "c.err", *self.values, self.errors])
        if extra_select:
            selected += ", " + extra_select
        return (
            f"SELECT {selected} FROM (SELECT {self.inner} {self.source} OFFSET 0) c "
            f"{self.joins} {extra_joins}"
        )

    def run_python_checks(self, params: dict[str, Any]) -> None:
        execute("TRUNCATE imp_py")
        if not self.python_fields:
            return
        parts = []
        for f in self.python_fields:
            column = self.staged.header.fields[f.name]
            candidate = sql.python_candidates(f, "cand.x")
            # Filtered before DISTINCT: only what SQL cannot decide is sorted.
            parts.append(
                f"SELECT DISTINCT {sql.literal(f.name)}, cand.x FROM (SELECT "
                f"{sql.clean(f's.c{column.index}')} AS x {self.source} OFFSET 0) cand "
                f"WHERE cand.x IS NOT NULL AND {candidate}"
            )
        rows = fetchall(" UNION ALL ".join(parts), params)
        if not rows:
            return
        by_name = {f.name: f for f in self.python_fields}
        region = self.staged.region
        copy_rows(
            "COPY imp_py (field, raw, value, error) FROM STDIN",
            ((name, raw, *python_check(by_name[name], raw, region=region)) for name, raw in rows),
        )
        # Its size varies from chunk to chunk: without statistics the planner would
        # take it for a few rows and scan it once per staged row.
        execute("ANALYZE imp_py")
