"""Benchmark: counting a segment's customers, compiled by segments.compiler, against a
hand-written SQL count of the same rule in the same run, on 1,000,000 customers and
5,000,000 orders of demo data.

    .venv/bin/python bench/segments.py [--customers 1000000] [--orders 5000000]
                                       [--seed 1] [--runs 5] [--skip-seed]
                                       [--no-jit] [--explain]

Uses DATABASE_URL's server with its own database `crm_bench_segments` (created,
migrated and filled with `manage.py seed_demo` on the first run, which takes the better
part of an hour for the default sizes; the same seed adds nothing the next time, and
`--skip-seed` skips the step, and the migrations too), account `bench-segments`
(Europe/Paris). Both queries run the way the product runs them: inside `account_scope`
(PostgreSQL row-level security, as the application's role); "compiled" is
`segments.compiler.count`, as a preview counts. Prints, per case, the median of --runs
timed runs in ms (more runs for a case of a few ms: about 0.4 s of each query; one
warm-up; the two queries take turns, so that a change of the machine's load weighs on
both sides alike), the ratio compiled / hand-written, and checks that both counted the
same customers.
Aims: each < 200 ms, attribute conditions < 30 ms, ratio <= 1.5.

Measured at 200,000 customers / 1,000,000 orders (seed 1) on the 2-core machine while
other sessions seeded 1M/5M databases and ran tests (load average 2-7, so the ms are
inflated; the ratios are of the same run). Before: one run of 3 (2026-12-06 15:55); after:
three runs of at least 11 interleaved (16:31), ms and ratio ranges; compiled / by hand:

    case                                  before ms    ratio   after ms            ratio
    city = Paris                          3.0 / 1.8    1.70    2.6-4.1 / 1.8-2.8   1.43-1.59
    lifetime_spend between 100 and 500    3.3 / 2.4    1.34    3.9-4.7 / 3.3-3.8   1.20-1.27
    bought_skus SKU-00042                 55.8 / 33.8  1.65    40-70 / 32-60       1.07-1.24
    last_purchase_n_days_before 30        3.7 / 2.8    1.31    4.2-5.1 / 3.2-4.4   1.16-1.32
    anniversary birthday within 7 days    38.8 / 65.9  0.59    2.7-3.5 / 67-103    0.03-0.05
    transaction_percent_in_pos >= 50%     119 / 135    0.88    104-115 / 113-153   0.75-0.92
    three levels                          175 / 48.4   3.63    35-59 / 55-112      0.52-0.63

What changed (segments/migrations/0003 and segments.compiler): birthdays read an index on
the leakproof segments_month_day(date_of_birth); tag conditions read a GIN index on the
leakproof segments_lower_tags(tags) through its own operators (`@>>>`, `&&&`), whose
statistics estimate a common tag as common; a group's cheap column conditions are written
before its subqueries; a purchase criterion or a point-of-sale share alone counts its
orders' distinct customers without a second pass over the customers; a count is compiled
once (count_sql) and its SQL fragments share one output field. The two cases still a
little over 1.5x on some runs are 2-4 ms counts where the ORM's compilation of the rule
(~0.7 ms of Python, measured) is most of the difference. Not measured at 1M/5M (no
such database of this bench existed); by the plans, birthday and three-level counts
grow with the rows they select, bought_skus and transaction_percent_in_pos with the
account's orders (the latter's per-customer look-ups would need per-customer counts at
each point of sale to stay under 200 ms at 5M orders)."""

import argparse
import calendar
import os
import statistics
import subprocess
import sys
import time as timer
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DATABASE = "crm_bench_segments"
ACCOUNT = "bench-segments"
TIMEZONE = "Europe/Paris"


def bench_database_url(url: str, database: str = DATABASE) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def prepare(args: argparse.Namespace, env: dict) -> None:
    """Create, migrate and fill the benchmark database unless it already holds the data."""
    import psycopg

    server = urlsplit(env["DATABASE_URL"])
    admin_url = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    print(f"database {DATABASE}: migrating", flush=True)
    manage("migrate", "--noinput", "-v0", env=env)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        has_account = conn.execute(
            "SELECT 1 FROM accounts_account WHERE slug = %s", [ACCOUNT]
        ).fetchone()
    if not has_account:
        manage(
            "create_account", ACCOUNT, "--name", "Segments bench", "--timezone", TIMEZONE, env=env
        )
    print(
        f"seed_demo --customers {args.customers} --orders {args.orders} --seed {args.seed} "
        "(minutes the first time)",
        flush=True,
    )
    started = timer.monotonic()
    out = manage(
        "seed_demo",
        "--account",
        ACCOUNT,
        "--customers",
        str(args.customers),
        "--orders",
        str(args.orders),
        "--seed",
        str(args.seed),
        env=env,
    )
    print(out.strip(), f"({timer.monotonic() - started:.0f}s)", flush=True)
    # Fresh statistics and visibility maps, as autovacuum would leave them.
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        for table in ("customers_customer", "orders_order", "orders_orderitem"):
            conn.execute(f"VACUUM (ANALYZE) {table}")


# --- The cases --------------------------------------------------------------------------

COUNTED = "status <> ALL(%(uncounted)s)"


def cases(ctx: dict) -> list[tuple[str, dict, str]]:
    """(name, rule as a client sends it, hand-written SQL with %(name)s parameters)."""
    return [
        (
            "city = Paris (case ignored)",
            {"field": "city", "operator": "=", "value": "paris"},
            """SELECT count(*) FROM customers_customer
                WHERE account_id = %(account)s AND lower(city) = lower(%(city)s)""",
        ),
        (
            "lifetime_spend between 100 and 500",
            {"field": "lifetimeSpend", "operator": "between", "value": [100, "500"]},
            """SELECT count(*) FROM customers_customer
                WHERE account_id = %(account)s AND lifetime_spend BETWEEN 100 AND 500""",
        ),
        (
            "bought_skus SKU-00042",
            {"type": "bought_skus", "skuIds": ["SKU-00042"]},
            f"""SELECT count(DISTINCT o.customer_id)
                  FROM orders_orderitem i JOIN orders_order o ON o.id = i.order_id
                 WHERE i.account_id = %(account)s AND o.account_id = %(account)s
                   AND i.sku = 'SKU-00042' AND o.{COUNTED}""",
        ),
        (
            "last_purchase_n_days_before 30",
            {"type": "last_purchase_n_days_before", "days": 30},
            """SELECT count(*) FROM customers_customer
                WHERE account_id = %(account)s AND last_order_date >= %(since_30)s""",
        ),
        (
            "anniversary birthday within 7 days",
            {"type": "anniversary", "anniversaryType": "birthday", "days": 7},
            """SELECT count(*) FROM customers_customer
                WHERE account_id = %(account)s AND date_of_birth IS NOT NULL
                  AND to_char(date_of_birth, 'MMDD') = ANY(%(month_days_7)s)""",
        ),
        (
            "transaction_percent_in_pos POS001 >= 50%",
            {"type": "transaction_percent_in_pos", "posId": "POS001", "percent": 50},
            f"""SELECT count(*)
                  FROM (SELECT customer_id, count(*) AS n FROM orders_order
                         WHERE account_id = %(account)s AND pos_id = %(pos1)s AND {COUNTED}
                         GROUP BY customer_id) AS at_pos
                  JOIN customers_customer c ON c.id = at_pos.customer_id
                 WHERE c.account_id = %(account)s AND at_pos.n * 100 >= 50 * c.total_orders""",
        ),
        (
            "three levels: conditions and criteria",
            {
                "logic": "AND",
                "rules": [
                    {"field": "city", "operator": "in", "value": ["Paris", "Lyon"]},
                    {"field": "tags", "operator": "contains", "value": "vip"},
                    {
                        "logic": "OR",
                        "rules": [
                            {"field": "lifetime_spend", "operator": ">", "value": 2000},
                            {
                                "logic": "AND",
                                "rules": [
                                    {"type": "bought_in_pos", "posIds": ["POS002"]},
                                    {"type": "last_purchase_n_days_before", "days": 90},
                                ],
                            },
                        ],
                    },
                ],
            },
            f"""SELECT count(*) FROM customers_customer c
                WHERE c.account_id = %(account)s
                  AND lower(c.city) IN ('paris', 'lyon')
                  AND 'vip' = ANY(lower(c.tags::text)::text[])
                  AND (c.lifetime_spend > 2000
                       OR (c.last_order_date >= %(since_90)s
                           AND EXISTS (SELECT 1 FROM orders_order o
                                        WHERE o.account_id = %(account)s AND o.customer_id = c.id
                                          AND o.pos_id = %(pos2)s AND o.{COUNTED})))""",
        ),
    ]


# A query of a few milliseconds runs until each side has had this much time, so that its
# median is not one moment of the machine's load.
SHORT_CASE_MS = 400
MAX_RUNS = 200


# The conditions on a customer's own columns (no orders read) have the tighter aim.
ATTRIBUTE_CASES = ("city", "lifetime_spend", "anniversary")


def aim(name: str, ms: float, ratio: float) -> str:
    """Issue 15's aim for a case, met or missed: < 200 ms (a condition on the customer's
    own columns < 30 ms) and <= 1.5x the hand-written SQL."""
    limit = 30 if name.startswith(ATTRIBUTE_CASES) else 200
    met = ms < limit and ratio <= 1.5
    return f"< {limit} ms, <= 1.5x: {'met' if met else 'missed'}"


def timed(runs: int, *queries) -> list[tuple[float, int]]:
    """(median ms, result) of each query. The queries take turns, run after run, so that
    a change of the machine's load weighs on both sides of a ratio alike."""
    started = timer.perf_counter()
    for run in queries:
        run()  # warm-up: caches, plans
    warm_ms = (timer.perf_counter() - started) * 1000 / len(queries)
    runs = max(runs, min(MAX_RUNS, int(SHORT_CASE_MS / max(warm_ms, 0.1))))
    times: list[list[float]] = [[] for _ in queries]
    results = [None] * len(queries)
    for _ in range(runs):
        for position, run in enumerate(queries):
            started = timer.perf_counter()
            results[position] = run()
            times[position].append((timer.perf_counter() - started) * 1000)
    return [(statistics.median(t), r) for t, r in zip(times, results, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-seed", action="store_true", help="use the database as it is")
    parser.add_argument(
        "--database",
        default=DATABASE,
        help="another seed_demo database on the same server (with --skip-seed and --account),"
        " e.g. bench/reports.py's crm_bench_reports at 1M/5M",
    )
    parser.add_argument("--account", default=ACCOUNT, help="the account's slug in --database")
    parser.add_argument("--explain", action="store_true", help="print each compiled plan")
    parser.add_argument(
        "--no-jit", action="store_true", help="SET jit = off for the session (both queries)"
    )
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench-only")
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env["DATABASE_URL"] = bench_database_url(env["DATABASE_URL"], args.database)
    if args.database != DATABASE or args.account != ACCOUNT:
        args.skip_seed = True  # someone else's database: measured as it is
    if not args.skip_seed:
        prepare(args, env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from accounts.selectors import account_by_slug_or_id
    from crm_project.tenancy import account_scope
    from orders.models import UNCOUNTED_STATUSES, PointOfSale
    from segments import compiler
    from segments.rules import validate_rule

    account = account_by_slug_or_id(args.account)
    if account is None:
        raise SystemExit(f"No account {args.account}: run without --skip-seed first.")
    zone = ZoneInfo(account.timezone)
    today = compiler.account_today(account)
    with account_scope(account):
        pos = dict(PointOfSale.objects.values_list("code", "pk"))
    ctx = {
        "account": account.pk,
        "city": "paris",
        "uncounted": [str(s) for s in UNCOUNTED_STATUSES],
        "pos1": pos["POS001"],
        "pos2": pos["POS002"],
    }

    def day_start(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time.min, zone)

    ctx["since_30"], ctx["since_90"] = day_start(30), day_start(90)
    window = [today + timedelta(days=n) for n in range(8)]
    month_days = {d.strftime("%m%d") for d in window}
    if any(d.month == 2 and d.day == 28 and not calendar.isleap(d.year) for d in window):
        month_days.add("0229")
    ctx["month_days_7"] = sorted(month_days)

    if args.no_jit:
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
    jit = "off" if args.no_jit else "as configured"
    print(
        f"\n{account.slug}: today {today} ({account.timezone}), median of {args.runs} runs, "
        f"under row-level security as the application role, jit {jit}\n"
    )
    header = f"{'case':45} {'compiled':>10} {'by hand':>10} {'ratio':>6} {'count':>9}  aim"
    print(header)
    print("-" * len(header))
    failures = []
    for name, raw, sql in cases(ctx):
        rule = validate_rule(raw, account=account)  # as the API does: POS codes -> ids

        def compiled(rule=rule):
            # As a preview counts (segments.selectors.rule_preview); a stored segment's
            # count runs the same query (compiler.counted) inside its UPDATE.
            return compiler.count(account, rule, today=today)

        def by_hand(sql=sql):
            with account_scope(account), connection.cursor() as cursor:
                cursor.execute(sql, ctx)
                return cursor.fetchone()[0]

        (compiled_ms, compiled_count), (hand_ms, hand_count) = timed(args.runs, compiled, by_hand)
        ratio = compiled_ms / hand_ms if hand_ms else float("inf")
        flag = "" if compiled_count == hand_count else f"  MISMATCH (by hand {hand_count})"
        if flag:
            failures.append(name)
        print(
            f"{name:45} {compiled_ms:9.1f}  {hand_ms:9.1f}  {ratio:5.2f} {compiled_count:9d}"
            f"  {aim(name, compiled_ms, ratio)}{flag}",
            flush=True,
        )
        if args.explain:
            with account_scope(account), connection.cursor() as cursor:
                query = compiler.counted(account, rule, today=today).query
                counted_sql, params = query.sql_with_params()
                cursor.execute(
                    f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({counted_sql}) AS c", params
                )
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print("    " + plan.replace("\n", "\n    "))
    if failures:
        raise SystemExit(f"Counts differ: {', '.join(failures)}")


if __name__ == "__main__":
    main()
