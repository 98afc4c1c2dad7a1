"""Benchmark: the import engine through the commands, against COPY FROM STDIN.

    .venv/bin/python bench/import.py [--customers 1000000] [--order-lines 2000000]

In its own database (`crm_bench_import_engine`, recreated each run, on DATABASE_URL's server):

1. generates, deterministically, a customers CSV (--customers rows, the columns a CRM
   export has: external_id, names, email, phone (2 % in national format), company,
   city, country, zip, date of birth, gender as seed 001's h/f, tags, two custom
   columns; 0.1 % of rows with an invalid email) and an orders CSV of --order-lines
   lines (one line per item, 1-4 items per order, customers by external_id, products
   by sku);
2. baselines: `COPY FROM STDIN` of the same customers file into a table with the
   customers table's columns, defaults (ids made as the product makes them) and
   indexes (no row-level security, no foreign keys, no validation); and of the
   orders file's orders and items, shaped beforehand (ids given, one row per order
   and one per item), into two tables with the orders' and items' columns and
   indexes: the floor any importer of these rows into these tables stands on;
3. `import_customers` of the file (new rows), then again (nothing changes), then
   `import_products` and `import_orders`, each a separate process whose peak RSS is
   read from the kernel (wait4).

Prints rows/s of each, the ratio to the baseline, peak RSS, and the engine's own
timings (read, plan, apply, deferred foreign-key checks, ANALYZE)."""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

# Run as a file (`python bench/import.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PY, ROOT, bench_database, manage

DB_NAME = "crm_bench_import_engine"
FIRST = ["Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jack"]
FIRST += ["Karim", "Lea", "Manon", "Noah", "Olivia", "Paul", "Rose", "Sami", "Tess", "Victor"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
LAST += ["Leroy", "Moreau", "Simon", "Laurent", "Garcia", "Smith", "Johnson", "Nguyen"]
CITIES = [("Paris", "FR"), ("Lyon", "FR"), ("Berlin", "DE"), ("Madrid", "ES"), ("Milan", "IT")]
CITIES += [("London", "GB"), ("Brussels", "BE"), ("New York", "US"), ("Montreal", "CA")]
TAGS = ["vip", "newsletter", "wholesale", "student", "loyal", "returning"]
TIERS = ["bronze", "silver", "gold", "platinum"]
CUSTOMER_HEADER = [
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "city",
    "country",
    "zip",
    "date_of_birth",
    "gender",
    "tags",
    "loyalty_tier",
    "source",
]
PRODUCTS = 500


def customer_rows(n: int):
    rnd = random.Random(42)
    for i in range(1, n + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        city, country = rnd.choice(CITIES)
        email = f"{first.lower()}.{last.lower()}.{i}@example.com"
        if i % 1000 == 0:
            email = f"{first.lower()}.{i}.example.com"  # no @: reported, not imported
        if i % 50 == 0:
            phone = f"06 {rnd.randrange(10, 99)} {rnd.randrange(10, 99)} {i % 100:02d} {i % 97:02d}"
        else:
            phone = f"+336{rnd.randrange(10**8):08d}"
        tags = ", ".join(rnd.sample(TAGS, rnd.randrange(0, 3)))
        dob = (
            ""
            if i % 7 == 0
            else f"{rnd.randrange(1940, 2005)}-{rnd.randrange(1, 13):02d}-"
            f"{rnd.randrange(1, 29):02d}"
        )
        yield [
            f"C{i:07d}",
            first,
            last,
            email,
            phone,
            f"{last} SARL" if i % 10 == 0 else "",
            city,
            country,
            f"{rnd.randrange(10**5):05d}",
            dob,
            rnd.choice("hf"),
            tags,
            rnd.choice(TIERS),
            rnd.choice(["web", "store", "referral"]),
        ]


def order_rows(lines: int, customers: int):
    rnd = random.Random(7)
    written, order = 0, 0
    while written < lines:
        order += 1
        customer = 1 + int(customers * rnd.random() ** 2)
        if customer % 1000 == 0:  # that customer was not imported (invalid email)
            customer += 1
        day = f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"
        when = f"{day} {rnd.randrange(24):02d}:{rnd.randrange(60):02d}"
        status = rnd.choice(["completed"] * 8 + ["cancelled", "refunded"])
        for _ in range(min(rnd.randrange(1, 5), lines - written)):
            yield [
                f"O{order:08d}",
                f"C{customer:07d}",
                when,
                status,
                f"P{rnd.randrange(1, PRODUCTS + 1):05d}",
                str(rnd.randrange(1, 4)),
                rnd.choice(["", "", "10", "25"]),
            ]
            written += 1


def write_csv(path: Path, header: list[str], rows) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def timed_command(label: str, args: list[str], env: dict) -> dict:
    """Run a manage.py command; its wall time, peak RSS (from wait4) and output."""
    log = ROOT / "var" / f"bench-{label}"
    log.parent.mkdir(exist_ok=True)
    started = time.monotonic()
    with open(f"{log}.out", "wb") as stdout, open(f"{log}.err", "wb") as stderr:
        process = subprocess.Popen(
            [PY, "manage.py", *args], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )
        _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    out = Path(f"{log}.out").read_text()
    err = Path(f"{log}.err").read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{out}\n{err[-2000:]}")
    summary = next(line for line in out.splitlines() if line.startswith("created="))
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "summary": summary, "out": out}


def job_timings(conn) -> dict:
    row = conn.execute(
        "SELECT state->'timings' FROM imports_importjob ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    return row[0] or {}


BASELINE_SQL = """
DROP TABLE IF EXISTS bench_baseline;
DROP SEQUENCE IF EXISTS bench_baseline_number;
CREATE SEQUENCE bench_baseline_number;
CREATE TABLE bench_baseline (LIKE customers_customer INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                                     INCLUDING INDEXES);
ALTER TABLE bench_baseline
  ALTER id SET DEFAULT crm_uuid7(), ALTER account_id SET DEFAULT gen_random_uuid(),
  ALTER number SET DEFAULT nextval('bench_baseline_number'),
  ALTER metadata SET DEFAULT '{}', ALTER tags SET DEFAULT '{}', ALTER type SET DEFAULT 'individual',
  ALTER status SET DEFAULT 'active', ALTER street SET DEFAULT '', ALTER state SET DEFAULT '',
  ALTER billing_address SET DEFAULT '', ALTER shipping_address SET DEFAULT '',
  ALTER payment_terms SET DEFAULT '', ALTER tax_id SET DEFAULT '', ALTER notes SET DEFAULT '',
  ALTER email_opt_in SET DEFAULT true, ALTER sms_opt_in SET DEFAULT true,
  ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now(),
  ALTER lifetime_spend SET DEFAULT 0, ALTER total_orders SET DEFAULT 0,
  ALTER refusals_count SET DEFAULT 0,
  ADD COLUMN tags_text text, ADD COLUMN loyalty_tier text, ADD COLUMN source text;
"""
BASELINE_COPY = (
    "COPY bench_baseline (external_id, first_name, last_name, email, phone, company, city, "
    "country, zip, date_of_birth, gender, tags_text, loyalty_tier, source) FROM STDIN "
    "(FORMAT csv, HEADER true, FORCE_NOT_NULL (first_name, last_name, email, phone, company, "
    "city, country, zip, gender))"
)


def baseline(url: str, path: Path) -> float:
    """Seconds to COPY the customers file into a table with the customers' indexes."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BASELINE_SQL)
        started = time.monotonic()
        with conn.cursor() as cursor, cursor.copy(BASELINE_COPY) as copy, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_baseline")
        conn.execute("DROP SEQUENCE bench_baseline_number")
    return seconds


ORDERS_BASELINE_SQL = """
DROP TABLE IF EXISTS bench_orders, bench_items;
CREATE TABLE bench_orders (LIKE orders_order INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                             INCLUDING INDEXES);
CREATE TABLE bench_items (LIKE orders_orderitem INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                                INCLUDING INDEXES);
"""
ORDER_COLUMNS = (
    "id, account_id, number, external_id, customer_id, status, channel, payment_method, "
    "currency, ordered_at, amount, loyalty_card, shipping_address, billing_address, notes, "
    "created_at, updated_at"
)
ITEM_COLUMNS = (
    "id, account_id, order_id, product_id, sku, name, brand, quantity, unit_price, "
    "discount_percent, line_total, position"
)


def shape_orders(source: Path, orders_out: Path, items_out: Path) -> None:
    """The orders file as the rows the tables hold: one per order, one per item, ids
    (UUID v7, as the product makes them), customers and products as stand-in ids."""
    sys.path.insert(0, str(ROOT))
    from crm_project.ids import uuid7

    account = "00000000-0000-7000-8000-000000000001"

    def stand_in(kind: str, key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}:{key}"))

    with (
        open(source, newline="", encoding="utf-8") as f,
        open(orders_out, "w", newline="") as o,
        open(items_out, "w", newline="") as i,
    ):
        reader = csv.reader(f)
        next(reader)
        orders, items = csv.writer(o), csv.writer(i)
        current, order_id, position, number, amount, first = None, "", 0, 0, 0.0, None
        for ext, customer, when, status, sku, quantity, discount in reader:
            if ext != current:
                if first is not None:
                    orders.writerow([*first, f"{amount:.2f}", "", "", "", "", "now", "now"])
                number += 1
                current, order_id, position, amount = ext, str(uuid7()), 0, 0.0
                first = [
                    order_id,
                    account,
                    number,
                    ext,
                    stand_in("customer", customer),
                    status,
                    "store",
                    "card",
                    "EUR",
                    when,
                ]
            position += 1
            price = 5 + int(sku[1:]) % 200
            total = price * int(quantity) * (100 - float(discount or 0)) / 100
            amount += total
            items.writerow(
                [
                    str(uuid7()),
                    account,
                    order_id,
                    stand_in("product", sku),
                    sku,
                    f"Product {sku}",
                    "Brand",
                    quantity,
                    f"{price:.2f}",
                    discount or "0",
                    f"{total:.2f}",
                    position,
                ]
            )
        if first is not None:
            orders.writerow([*first, f"{amount:.2f}", "", "", "", "", "now", "now"])


def orders_baseline(url: str, orders_path: Path, items_path: Path) -> float:
    """Seconds to COPY the shaped orders and items into tables with their indexes."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ORDERS_BASELINE_SQL)
        started = time.monotonic()
        blanks = "FORCE_NOT_NULL (loyalty_card, shipping_address, billing_address, notes)"
        for table, columns, path, options in [
            ("bench_orders", ORDER_COLUMNS, orders_path, f", {blanks}"),
            ("bench_items", ITEM_COLUMNS, items_path, ""),
        ]:
            statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv{options})"
            with conn.cursor() as cursor, cursor.copy(statement) as copy, open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_orders, bench_items")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--order-lines", type=int, default=2_000_000)
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-import"))
    args = parser.parse_args()

    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    customers_csv = data / f"customers-{args.customers}.csv"
    orders_csv = data / f"orders-{args.order_lines}-{args.customers}.csv"
    products_csv = data / "products.csv"
    shaped_orders = data / f"orders-shaped-{args.order_lines}-{args.customers}.csv"
    shaped_items = data / f"items-shaped-{args.order_lines}-{args.customers}.csv"

    started = time.monotonic()
    if not customers_csv.exists():
        write_csv(customers_csv, CUSTOMER_HEADER, customer_rows(args.customers))
    if not orders_csv.exists():
        write_csv(
            orders_csv,
            [
                "order_id",
                "customer_external_id",
                "ordered_at",
                "status",
                "sku",
                "quantity",
                "discount",
            ],
            order_rows(args.order_lines, args.customers),
        )
    if not shaped_items.exists():
        shape_orders(orders_csv, shaped_orders, shaped_items)
    write_csv(
        products_csv,
        ["sku", "name", "brand", "price"],
        (
            [f"P{i:05d}", f"Product {i}", f"Brand {i % 12}", f"{5 + i % 200}.{i % 100:02d}"]
            for i in range(1, PRODUCTS + 1)
        ),
    )
    print(
        f"files ready in {time.monotonic() - started:.1f}s: {customers_csv} "
        f"({customers_csv.stat().st_size / 2**20:.0f} MiB), {orders_csv} "
        f"({orders_csv.stat().st_size / 2**20:.0f} MiB)"
    )

    import psycopg

    env, bench_url = bench_database(DB_NAME, fresh=True)
    manage("create_account", "bench", "--name", "Bench", env=env)

    base_seconds = baseline(bench_url, customers_csv)
    orders_base_seconds = orders_baseline(bench_url, shaped_orders, shaped_items)
    runs = {}
    with psycopg.connect(bench_url, autocommit=True) as conn:
        for label, command, path in [
            ("customers (new)", "import_customers", customers_csv),
            ("customers (again)", "import_customers", customers_csv),
            ("products", "import_products", products_csv),
            ("orders (new)", "import_orders", orders_csv),
        ]:
            result = timed_command(
                label.split()[0], [command, str(path), "--account", "bench", "--no-progress"], env
            )
            result["timings"] = job_timings(conn)
            runs[label] = result
            print(
                f"{label:20} {result['seconds']:8.1f}s  {result['summary']}  "
                f"peak RSS {result['rss_mb']:.0f} MB  {json.dumps(result['timings'])}"
            )

    rows = args.customers
    base_rate = rows / base_seconds
    new_rate = rows / runs["customers (new)"]["seconds"]
    again_rate = rows / runs["customers (again)"]["seconds"]
    orders_rate = args.order_lines / runs["orders (new)"]["seconds"]
    peak = max(r["rss_mb"] for r in runs.values())
    orders_base_rate = args.order_lines / orders_base_seconds
    met = {True: "met", False: "missed"}
    print()
    print(f"{'case':44} {'rows/s':>10} {'vs baseline':>12}  aim (issue 15)")
    print(f"{'baseline: COPY FROM STDIN, same indexes':44} {base_rate:10.0f} {1:12.2f}")
    print(
        f"{'import_customers, new rows':44} {new_rate:10.0f} {new_rate / base_rate:12.2f}"
        f"  >= 0.70 at {rows:,} rows: {met[new_rate / base_rate >= 0.7]}"
    )
    print(
        f"{'import_customers, again (nothing changes)':44} {again_rate:10.0f} "
        f"{again_rate / base_rate:12.2f}"
    )
    print(f"{'baseline: COPY of the orders and items':44} {orders_base_rate:10.0f} {1:12.2f}")
    print(
        f"{'import_orders, lines':44} {orders_rate:10.0f} {orders_rate / orders_base_rate:12.2f}"
        f"  >= 0.50 at {args.order_lines:,} lines: {met[orders_rate / orders_base_rate >= 0.5]}"
    )
    print(f"peak RSS of the import processes: {peak:.0f} MB")
    fk = runs["orders (new)"]["timings"].get("foreign_key_checks", 0)
    print(
        "deferred foreign-key checks: customers "
        f"{runs['customers (new)']['timings'].get('foreign_key_checks', 0):.1f}s, "
        f"orders {fk:.1f}s"
    )


if __name__ == "__main__":
    main()
