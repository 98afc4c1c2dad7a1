"""Report rollups: per-account, per-day tables of sums that the reports read instead of
millions of rows (leads.models.LeadDay, orders.models.OrderDay, loyalty.models.LoyaltyDay).

Each is written only by statement-level triggers on its source table (the app's
migration): an insert, update or delete appends its net change as rows, in the writer's
transaction and without locking a shared row, so concurrent writers never queue on a
day's row. A group's rows therefore pile up; `rollup_compact` folds each group's rows
into one (their sum; none when it is zero), and beat runs it every few minutes for the
accounts that have something to fold (crm_project.tasks). The sums read the same before
and after a fold, so readers never wait for it.

An app declares its rollup with `register(model, group=[...], sums=[...])` (from its
AppConfig.ready): `group` the columns that name a group besides the account, `sums`
the columns added up."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import connection, models, transaction


@dataclass(frozen=True)
class Rollup:
    model: type[models.Model]
    group: tuple[str, ...]
    sums: tuple[str, ...]

    @property
    def label(self) -> str:
        return str(self.model._meta.label_lower)

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)


_ROLLUPS: dict[str, Rollup] = {}


def register(model: type[models.Model], *, group: list[str], sums: list[str]) -> None:
    rollup = Rollup(model, tuple(group), tuple(sums))
    _ROLLUPS[rollup.label] = rollup


def rollups() -> list[Rollup]:
    return list(_ROLLUPS.values())


def rollup(label: str) -> Rollup:
    return _ROLLUPS[label]


def within(column: str, start: Any, end: Any) -> models.Q:
    """`column` in [start, end) (datetimes or days); an open side is not compared."""
    condition = models.Q()
    if start is not None:
        condition &= models.Q(**{f"{column}__gte": start})
    if end is not None:
        condition &= models.Q(**{f"{column}__lt": end})
    return condition


def day_split(
    start: datetime | None, end: datetime | None, zone: tzinfo
) -> tuple[tuple[date | None, date | None] | None, list[tuple[datetime, datetime]]]:
    """A window [start, end) (an open side: None) as the days of `zone` it holds whole,
    [first, last) (None: no whole day), which a reader takes from a rollup keyed by
    days of that zone, and the part-days at its edges, which it reads from the rows
    themselves."""

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=zone)

    first = last = None
    if start is not None:
        first = start.astimezone(zone).date()
        if midnight(first) < start:
            first += timedelta(days=1)
    if end is not None:
        last = end.astimezone(zone).date()
    if (
        start is not None
        and end is not None
        and first is not None
        and last is not None
        and first >= last
    ):
        return None, [(start, end)] if start < end else []
    edges = []
    if start is not None and first is not None and start < midnight(first):
        edges.append((start, midnight(first)))
    if end is not None and last is not None and midnight(last) < end:
        edges.append((midnight(last), end))
    return (first, last), edges


def _column(model: type[models.Model], name: str) -> str:
    return str(model._meta.get_field(name).column)  # type: ignore[union-attr]


# Each group's rows folded into one. Rows the triggers append meanwhile are left for the
# next run: the DELETE sees the rows committed when it starts.
_COMPACT_SQL = """
WITH crowded AS (
    SELECT {group} FROM {table}
     WHERE account_id = %(account)s
     GROUP BY {group} HAVING count(*) > 1
),
gone AS (
    DELETE FROM {table} d USING crowded c
     WHERE d.account_id = %(account)s AND ({d_group}) = ({c_group})
    RETURNING {d_columns}
),
folded AS (
    INSERT INTO {table} (id, account_id, {group}, {sums})
    SELECT crm_uuid7(), %(account)s, {group}, {summed}
      FROM gone GROUP BY {group}
    HAVING {nonzero}
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM folded)
"""


@transaction.atomic
def rollup_compact(rollup: Rollup, *, account_id: Any) -> tuple[int, int]:
    """Fold the account's rows of `rollup` group by group; answers (rows read, rows
    written). What the rollup sums to does not change."""
    group = [_column(rollup.model, name) for name in rollup.group]
    sums = [_column(rollup.model, name) for name in rollup.sums]
    sql = _COMPACT_SQL.format(
        table=rollup.table,
        group=", ".join(group),
        d_group=", ".join(f"d.{name}" for name in group),
        c_group=", ".join(f"c.{name}" for name in group),
        d_columns=", ".join(f"d.{name}" for name in group + sums),
        sums=", ".join(sums),
        summed=", ".join(f"sum({name})" for name in sums),
        nonzero=" OR ".join(f"sum({name}) <> 0" for name in sums),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"account": account_id})
        read, written = cursor.fetchone()
    return int(read), int(written)


def accounts_with_rows_to_fold(rollup: Rollup) -> list[uuid.UUID]:
    """The accounts with a group of several rows in `rollup` (call it inside
    `unscoped()`: beat's read across accounts)."""
    group = ", ".join(_column(rollup.model, name) for name in rollup.group)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT account_id FROM (SELECT account_id FROM {rollup.table} "  # noqa: S608
            f"GROUP BY account_id, {group} HAVING count(*) > 1) AS crowded ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]
