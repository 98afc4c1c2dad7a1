"""The index budget: every index of every tenant table (a table with an `account_id`
column), its definition, its size and how often the planner used it since the database's
statistics were last reset (`pg_stat_user_indexes`), as a markdown table.

    .venv/bin/python bench/index_budget.py [--database crm_bench_reports] [--reset]
                                           [--unused] [--table customers_customer]

Reads DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/crm), database
`--database` (a name on that server, or a full postgres:// URL). Only reads catalogs and
statistics views; `--reset` calls `pg_stat_reset()` in that database first (its counters
only, no data), so that a run after the benches (or a test session) shows which indexes
they used: reset, run the benches, run this again. `--unused` prints only the indexes
with no scan since the reset. A unique or primary key index with no scan is still
needed by its constraint (marked `constraint`); an index with no scan may still be
needed by a foreign key's RESTRICT / PROTECT check on delete or by a query no bench ran
(the README's "Index budget" section says which)."""

import argparse
import os
import sys
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE = "crm_bench_reports"

INDEXES = """
SELECT c.relname AS table_name,
       i.relname AS index_name,
       pg_get_indexdef(x.indexrelid) AS definition,
       x.indisprimary AS is_primary,
       x.indisunique AS is_unique,
       con.contype AS constraint_type,
       pg_relation_size(x.indexrelid) AS size_bytes,
       COALESCE(s.idx_scan, 0) AS idx_scan,
       COALESCE(s.idx_tup_read, 0) AS idx_tup_read,
       COALESCE(s.idx_tup_fetch, 0) AS idx_tup_fetch
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'p')
  AND EXISTS (
      SELECT 1 FROM pg_attribute a
      WHERE a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped
  )
  AND (%(table)s::text IS NULL OR c.relname = %(table)s::text)
ORDER BY c.relname, i.relname
"""


def database_url(database: str) -> str:
    """`database` if it is a URL, else that database on DATABASE_URL's server."""
    if "://" in database:
        return database
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


def human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # unreachable


def kind(row: dict) -> str:
    """What the index's existence is owed to, beyond queries: its constraint."""
    if row["is_primary"]:
        return "primary key"
    if row["constraint_type"] == "u":
        return "unique constraint"
    if row["constraint_type"] == "x":
        return "exclusion constraint"
    if row["is_unique"]:
        return "unique index"
    return ""


def columns(definition: str) -> str:
    """`USING btree (account_id, created_at DESC) WHERE ...` from CREATE INDEX ..."""
    at = definition.find(" USING ")
    return definition[at + 1 :] if at >= 0 else definition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="name or postgres:// URL")
    parser.add_argument("--reset", action="store_true", help="pg_stat_reset() first")
    parser.add_argument("--unused", action="store_true", help="only indexes with idx_scan = 0")
    parser.add_argument("--table", default=None, help="only this table")
    args = parser.parse_args()

    import psycopg
    from psycopg.rows import dict_row

    url = database_url(args.database)
    try:
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    except psycopg.OperationalError as error:
        raise SystemExit(f"cannot connect to {args.database}: {error}") from error
    with conn:
        if args.reset:
            conn.execute("SELECT pg_stat_reset()")
            print(f"statistics of {conn.info.dbname} reset")
            return
        # Counters of this snapshot, not cached from an earlier statement of this session.
        conn.execute("SELECT pg_stat_clear_snapshot()")
        reset = conn.execute(
            "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        rows = conn.execute(INDEXES, {"table": args.table}).fetchall()
        dbname = conn.info.dbname

    since = reset["stats_reset"] if reset and reset["stats_reset"] else "the database's creation"
    total = sum(row["size_bytes"] for row in rows)
    unused = [row for row in rows if row["idx_scan"] == 0]
    print(f"# Index budget of {dbname} (scans since {since})")
    print()
    print(
        f"{len(rows)} indexes on {len({row['table_name'] for row in rows})} tenant tables, "
        f"{human(total)}; {len(unused)} with no scan "
        f"({human(sum(row['size_bytes'] for row in unused))})"
    )
    print()
    print("| table | index | definition | kind | size | idx_scan | idx_tup_read |")
    print("|---|---|---|---|---:|---:|---:|")
    for row in rows:
        if args.unused and row["idx_scan"]:
            continue
        definition = columns(row["definition"]).replace("|", "\\|")
        print(
            f"| {row['table_name']} | {row['index_name']} | `{definition}` | {kind(row)} "
            f"| {human(row['size_bytes'])} | {row['idx_scan']} | {row['idx_tup_read']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
