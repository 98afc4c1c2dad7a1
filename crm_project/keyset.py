"""Keyset pagination for server-rendered tables ("Next" / "Previous" from the last row's
sort key and id): a page costs the same on page 1 and a million rows deep.

A table declares its sortable columns (`KeysetTable`); `table.ordering(raw)` reads
`?ordering=<key>` or `-<key>`; `keyset_page()` returns the rows after (or before) a
`Position` with the positions of the neighbouring pages, encoded into links by
`Position.encode()` and read back by `Position.decode()`. Every sort ends with the id,
so the order is total and pages never overlap; the indexes that serve a sort are
(account, column..., id)."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Expression, F, Field, Model, Q, QuerySet, Value
from django.db.models.functions import Lower


@dataclass(frozen=True)
class SortKey:
    """One term of a sort: a model field, compared as stored or lowercased."""

    field: str
    lower: bool = False  # lower(field): the expression of a lowercased index

    @property
    def alias(self) -> str:
        return f"{self.field}_lower" if self.lower else self.field

    def expression(self) -> F | Lower:
        return Lower(self.field) if self.lower else F(self.field)


ID = SortKey("id")


@dataclass(frozen=True)
class Column:
    """A sortable column: `?ordering=<key>` or `?ordering=-<key>`. Rows matching
    `missing` (no value) come last in both directions, by id, as the API sorts them."""

    key: str
    label: str
    keys: tuple[SortKey, ...]  # then the id, so that the order is total
    descending_first: bool = False  # numbers and dates sort largest first on a click
    numeric: bool = False
    missing: Q | None = None

    def is_missing(self, row: Model) -> bool:
        return self.missing is not None and getattr(row, self.keys[0].field) in (None, "")


@dataclass(frozen=True)
class KeysetTable:
    """The sortable columns of one model's table, and its default sort."""

    model: type[Model]
    columns: tuple[Column, ...]
    default_ordering: str

    def column(self, key: str) -> Column | None:
        return next((column for column in self.columns if column.key == key), None)

    def ordering(self, raw: str | None) -> "Ordering":
        """`?ordering=` as given, or the default for anything unknown."""
        text = (raw or "").strip() or self.default_ordering
        column = self.column(text.lstrip("-"))
        if column is None:
            return self.ordering(self.default_ordering)
        return Ordering(self, column, text.startswith("-"))


@dataclass(frozen=True)
class Ordering:
    table: KeysetTable
    column: Column
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.column.key}" if self.descending else self.column.key

    def segments(self) -> tuple[bool, ...]:
        """The runs the order walks through: rows with a value, then (for a column
        with `missing`) rows without one, by id. `True` is the run without."""
        return (False, True) if self.column.missing is not None else (False,)

    def keys(self, missing: bool) -> tuple[SortKey, ...]:
        return (ID,) if missing else (*self.column.keys, ID)


@dataclass(frozen=True)
class Position:
    """Where a page starts or ends: the segment, and the row's sort key and id."""

    missing: bool
    values: tuple[Any, ...]

    def encode(self) -> str:
        payload = json.dumps([self.missing, [_json_value(v) for v in self.values]])
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, ordering: Ordering) -> "Position | None":
        """None for anything that is not a position of this ordering (a stale or edited
        link): the page then starts from the top."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            missing, values = json.loads(raw)
            if not isinstance(missing, bool) or missing not in ordering.segments():
                return None
            keys = ordering.keys(missing)
            if not isinstance(values, list) or len(values) != len(keys):
                return None
            parsed = []
            for key, value in zip(keys, values, strict=True):
                field = cast(Field, ordering.table.model._meta.get_field(key.field))
                python = field.to_python(value)
                if python is None:
                    return None
                parsed.append(python)
        except (binascii.Error, ValueError, TypeError, ValidationError):
            return None
        return cls(missing, tuple(parsed))

    @classmethod
    def of(cls, row: Model, ordering: Ordering) -> "Position":
        missing = ordering.column.is_missing(row)
        return cls(missing, tuple(getattr(row, key.alias) for key in ordering.keys(missing)))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | str):
        return value
    return str(value)  # UUID


class RowComparison(Expression):
    """`(k1, ..., kn) > (v1, ..., vn)` (`<` when descending): one row comparison, which
    PostgreSQL turns into a range of an index on (account, k1, ..., kn), so a page a
    million rows deep costs what the first one does."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, keys: Sequence[Any], values: Sequence[Any], *, descending: bool):
        super().__init__()
        self.keys = list(keys)
        self.values = [Value(value) for value in values]
        self.descending = descending

    def get_source_expressions(self) -> list[Any]:
        return [*self.keys, *self.values]

    def set_source_expressions(self, expressions: Sequence[Any]) -> None:
        count = len(self.keys)
        self.keys, self.values = list(expressions[:count]), list(expressions[count:])

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sides: list[str] = []
        params: list[Any] = []
        for side in (self.keys, self.values):
            compiled = [compiler.compile(expression) for expression in side]
            sides.append(", ".join(sql for sql, _params in compiled))
            params.extend(param for _sql, side_params in compiled for param in side_params)
        operator = "<" if self.descending else ">"
        return f"({sides[0]}) {operator} ({sides[1]})", tuple(params)


def _segment(
    queryset: QuerySet[Any],
    ordering: Ordering,
    missing: bool,
    descending: bool,
    start: Position | None,
) -> QuerySet[Any]:
    keys = ordering.keys(missing)
    column = ordering.column
    if column.missing is not None:
        queryset = queryset.filter(column.missing if missing else ~column.missing)
    queryset = queryset.annotate(**{key.alias: key.expression() for key in keys if key.lower})
    if start is not None and start.missing == missing:
        expressions = [F(key.alias) for key in keys]
        queryset = queryset.filter(RowComparison(expressions, start.values, descending=descending))
    terms = [F(key.alias).desc() if descending else F(key.alias).asc() for key in keys]
    return queryset.order_by(*terms)


@dataclass
class Page:
    rows: list[Any]
    next: Position | None
    previous: Position | None


def keyset_page(
    queryset: QuerySet[Any],
    ordering: Ordering,
    *,
    after: Position | None = None,
    before: Position | None = None,
    size: int,
) -> Page:
    """The `size` rows that follow `after` (or precede `before`, or the first ones),
    with the positions of the next and previous pages (None at either end)."""
    backwards = before is not None and after is None
    start = before if backwards else after
    descending = ordering.descending != backwards
    # Rows with a value come first, then those without; walking backwards visits the
    # segments in reverse.
    walk = ordering.segments()[::-1] if backwards else ordering.segments()
    if start is not None:
        walk = walk[walk.index(start.missing) :]
    rows: list[Any] = []
    for missing in walk:
        wanted = size + 1 - len(rows)
        rows.extend(_segment(queryset, ordering, missing, descending, start)[:wanted])
        if len(rows) > size:
            break
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        if not more:  # back at the top: the first page, full
            return keyset_page(queryset, ordering, size=size)
        rows.reverse()
        previous = Position.of(rows[0], ordering) if rows else None
        following = Position.of(rows[-1], ordering) if rows else None
    else:
        following = Position.of(rows[-1], ordering) if more and rows else None
        previous = Position.of(rows[0], ordering) if start is not None and rows else None
    return Page(rows=rows, next=following, previous=previous)
