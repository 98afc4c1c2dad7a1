"""CSV files as users have them: read as a stream, whatever their encoding and
delimiter, with the physical line where each record starts.

- Encoding: a UTF-8 BOM (or UTF-16's, as Excel's "Unicode text" has) decides; else
  the whole file is checked as UTF-8 (fast, in C, a megabyte at a time); else it is
  Windows-1252, unless it holds bytes that code page leaves undefined, then Latin-1.
- Delimiter: `,` `;` or tab, whichever occurs most in the header line outside quotes.
- Records: Python's csv module (quoted fields with embedded newlines and doubled
  quotes); a record's line is the physical line it starts on, the header being line 1.
  Blank lines and rows whose every field is blank are not records.
- A file that is empty, binary (a workbook, an archive, an image, or mostly NUL and
  control bytes) or has no header cannot be read: `UnreadableFile`, whose message says
  why. A NUL character in a header fails the file; in a record, that record (it
  cannot be stored as text: imports.staging).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SIZE = 64 * 1024
READ_SIZE = 1024 * 1024
DELIMITERS = (",", ";", "\t")
# Bytes Windows-1252 does not define: their presence means Latin-1.
CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# A field may hold a long text, not the rest of a file after an unbalanced quote.
FIELD_SIZE_LIMIT = 1024 * 1024

BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook? Save it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (save it as CSV)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
)


class UnreadableFile(Exception):
    """The file cannot be processed at all; the message says why, for the user."""


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    header: list[str] = field(default_factory=list)

    @property
    def delimiter_name(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.delimiter, self.delimiter)


@dataclass(frozen=True)
class Record:
    line: int  # the physical line the record starts on (the header is line 1)
    fields: list[str]
    error: str | None = None  # a record the csv module could not read


# Control bytes no text file has (tab, newlines and NUL aside: a stray NUL in a text
# file fails its record, not the file).
CONTROL_BYTES = bytes(set(range(32)) - {0, 9, 10, 12, 13, 26})
# Text files have a few NUL bytes at most; binary formats many.
NUL_SHARE_BINARY = 0.1


def _binary_kind(sample: bytes) -> str | None:
    for signature, description in BINARY_SIGNATURES:
        if sample.startswith(signature):
            return description
    nuls = sample.count(b"\x00")
    if nuls and (nuls > NUL_SHARE_BINARY * len(sample) or any(b in CONTROL_BYTES for b in sample)):
        return "a binary file"
    return None


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as raw:
        head = raw.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(READ_SIZE):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        raw.seek(0)
        while chunk := raw.read(READ_SIZE):
            if any(byte in chunk for byte in CP1252_UNDEFINED):
                return "latin-1"
    return "cp1252"


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def sniff_delimiter(first_line: str) -> str:
    counts = {d: _count_outside_quotes(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the earlier one (`,`)
    return best if counts[best] else ","


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # newline="": the csv module sees line endings as they are (\n, \r\n or \r).
    return open(path, encoding=encoding, newline="")


def inspect(path: Path) -> CsvFormat:
    """The file's encoding, delimiter and header, or UnreadableFile."""
    try:
        with open(path, "rb") as raw:
            sample = raw.read(SAMPLE_SIZE)
    except OSError as exc:
        raise UnreadableFile(f"The file cannot be opened: {exc.strerror or exc}.") from None
    stripped = sample.removeprefix(codecs.BOM_UTF8).strip()
    if not stripped:
        raise UnreadableFile("The file is empty.")
    if not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        kind = _binary_kind(sample)
        if kind:
            raise UnreadableFile(f"This is not a CSV file: it looks like {kind}.")
    encoding = detect_encoding(path)
    with _open_text(path, encoding) as text:
        first_line = ""
        for line in text:
            if line.strip():
                first_line = line
                break
        text.seek(0)
        delimiter = sniff_delimiter(first_line)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        except csv.Error as exc:
            raise UnreadableFile(f"The header line cannot be read: {exc}.") from None
    if not header:
        raise UnreadableFile("The file has no header line.")
    header = [cell.strip().lstrip("\ufeff").strip() for cell in header]
    if "\x00" in "".join(header):
        raise UnreadableFile(
            "The header line holds a NUL character (byte 0), which is not text: remove it."
        )
    if "\ufffd" in "".join(header):
        raise UnreadableFile("This is not a CSV file: its header is not text.")
    return CsvFormat(encoding=encoding, delimiter=delimiter, header=header)


def records(path: Path, fmt: CsvFormat) -> Iterator[Record]:
    """Every record after the header, streamed, with the line it starts on. A record the
    csv module cannot read (a stray quote, a quote never closed) is yielded with its
    error and no cells; reading goes on after it, from the next line."""
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    with _open_text(path, fmt.encoding) as text:
        reader = csv.reader(text, delimiter=fmt.delimiter, strict=True)
        previous_end = 0
        header_seen = False
        while True:
            start = previous_end + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                previous_end = reader.line_num
                span = f"line {start}" if previous_end <= start else f"lines {start}-{previous_end}"
                if "end of data" in str(exc):
                    reason = f"A quote opened on line {start} is never closed ({span} unread)."
                elif "field limit" in str(exc):
                    reason = (
                        f"A field longer than {FIELD_SIZE_LIMIT} characters ({span} unread): "
                        "probably a quote never closed."
                    )
                else:
                    reason = f"This record cannot be read ({span}): {exc}."
                yield Record(line=start, fields=[], error=reason)
                continue
            previous_end = reader.line_num
            if not any(cell.strip() for cell in fields):
                continue
            if not header_seen:
                header_seen = True
                continue
            yield Record(line=start, fields=fields)


# --- Writing ----------------------------------------------------------------------------

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with `=`, `+`, `-`,
    `@`, tab or CR (after any quotes `'`) gets a leading `'`. `unescape_cell` undoes it,
    so exported files import back unchanged."""
    if value and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value
