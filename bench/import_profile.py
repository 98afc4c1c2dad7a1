"""Where the time of `import_orders` goes, statement by statement.

    .venv/bin/python bench/import_profile.py [--lines 400000] [--customers 200000]

Run bench/import.py with the same --customers first: this uses its database
(`crm_bench_import_engine`, account `bench`, its customers and products) and its orders
file. Each run removes the account's orders (TRUNCATE, as the owner) and sets every
customer's aggregates back to none, then imports the first --lines lines of the file
with `import_orders` in this process, every SQL statement timed through Django's execute
wrapper. Prints the wall time, the time per part of the work (the share of the wall
time) and the slowest statements."""

import argparse
import importlib
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

# Run as a file (`python bench/import_profile.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, bench_database

# bench/import.py's database ("import" is a keyword: the module is found by name).
DB_NAME = importlib.import_module("bench.import").DB_NAME

# The parts of the work, by the statements that do them (first match wins).
PARTS = [
    ("customers' aggregates refresh", r"^WITH zone AS|FOR UPDATE$"),
    ("deferred foreign-key checks", r"^SET CONSTRAINTS ALL IMMEDIATE"),
    ("inserting the orders", r"INSERT INTO orders_order "),
    ("inserting the items", r"^INSERT INTO orders_orderitem "),
    ("loyalty (earning, reversing)", r"^WITH batch AS MATERIALIZED"),
    ("statistics (ANALYZE)", r"^ANALYZE"),
    ("reading, typing and checking the lines (imp_ tables)", r"imp_"),
]


def part(statement: str) -> str:
    return next((name for name, pattern in PARTS if re.search(pattern, statement)), "the rest")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--order-lines", type=int, default=2_000_000, help="the file's size")
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-import"))
    args = parser.parse_args()
    source = Path(args.data_dir) / f"orders-{args.order_lines}-{args.customers}.csv"
    if not source.exists():
        raise SystemExit(f"{source} is missing: run bench/import.py --customers {args.customers}")
    sample = Path(args.data_dir) / f"orders-first-{args.lines}-{args.customers}.csv"
    with open(source) as full, open(sample, "w") as out:
        for number, line in enumerate(full):
            if number > args.lines:  # the header, then --lines lines
                break
            out.write(line)

    env, url = bench_database(DB_NAME)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders_orderitem, orders_order CASCADE")
        conn.execute(
            "UPDATE customers_customer SET lifetime_spend = 0, total_orders = 0, "
            "average_order_value = NULL, first_order_date = NULL, last_order_date = NULL, "
            "orders_365d = 0, spend_365d = 0, stats_day = NULL, stats_until = NULL"
        )
        conn.execute("VACUUM ANALYZE customers_customer")
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = spent[re.sub(r"\s+", " ", sql).strip()[:110]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        call_command("import_orders", str(sample), account="bench", no_progress=True)
    wall = time.perf_counter() - started

    parts: dict[str, float] = defaultdict(float)
    for statement, (_count, seconds) in spent.items():
        parts[part(statement)] += seconds
    parts["Python (outside SQL)"] = wall - sum(parts.values())
    print(
        f"\nimport_orders of {args.lines:,} lines: {wall:.1f}s ({args.lines / wall:,.0f} lines/s)"
    )
    for name, seconds in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"  {name:55} {seconds:7.1f}s {seconds / wall:6.0%}")
    print("\nslowest statements (seconds, times run):")
    for statement, (count, seconds) in sorted(spent.items(), key=lambda item: -item[1][1])[:15]:
        print(f"  {seconds:7.2f}s {count:5d}  {statement}")


if __name__ == "__main__":
    main()
