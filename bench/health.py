"""Benchmark: a customer's health at scale, from the account's stored quintile thresholds
(customers.models.HealthThresholds), against the ranking of the whole account that each
answer used to run.

    .venv/bin/python bench/health.py [--customers 1000000] [--orders 2000000] [--samples 50]

Uses DATABASE_URL (default: the machine's PostgreSQL) with its own database
`crm_bench_health`, seeded by `manage.py seed_demo` (kept between runs: the same seed
adds nothing). Prints the time to compute the thresholds (beat's work), then p50 and
p95 of `customer_health` for `--samples` customers with stored thresholds, and the same
for a few answers ranking the whole account."""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "crm_bench_health"


def manage(*args: str, env: dict) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--ranked-samples", type=int, default=3)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    bench_url = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" * 10),
        "LOG_LEVEL": "warning",
    }
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if not exists.fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--noinput", env=env)
    if "bench" not in manage(
        "shell",
        "-c",
        "from accounts.models import Account;"
        "print(list(Account.objects.values_list('slug', flat=True)))",
        env=env,
    ):
        manage("create_account", "bench", "--name", "Bench", env=env)
    started = time.monotonic()
    print(
        manage(
            "seed_demo",
            "--account",
            "bench",
            "--customers",
            str(args.customers),
            "--orders",
            str(args.orders),
            "--seed",
            "42",
            env=env,
        ).strip()
    )
    print(f"seeded (or found) in {time.monotonic() - started:.1f}s")

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from accounts.selectors import account_by_slug_or_id
    from crm_project.tenancy import account_scope
    from customers import selectors, services
    from customers.models import Customer

    account = account_by_slug_or_id("bench")
    with account_scope(account):
        started = time.monotonic()
        thresholds = services.health_thresholds_refresh(account=account)
        print(
            f"thresholds of {thresholds.buyers:,} buyers computed in "
            f"{time.monotonic() - started:.2f}s (beat's work, every few minutes)"
        )
        customers = list(Customer.objects.order_by("?")[: args.samples])
        stored = services.health_thresholds_current(account=account)
        timings = []
        for customer in customers:
            started = time.monotonic()
            selectors.customer_health(account, customer, thresholds=stored)
            timings.append((time.monotonic() - started) * 1000)
        print(
            f"health from stored thresholds: p50 {statistics.median(timings):.1f} ms, "
            f"p95 {percentile(timings, 0.95):.1f} ms ({len(timings)} customers)"
        )
        ranked = []
        for customer in customers[: args.ranked_samples]:
            started = time.monotonic()
            selectors.customer_health(account, customer)
            ranked.append((time.monotonic() - started) * 1000)
        print(
            f"health ranking the whole account: p50 {statistics.median(ranked):.0f} ms "
            f"({len(ranked)} customers)"
        )


if __name__ == "__main__":
    main()
