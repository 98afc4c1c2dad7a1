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
import sys
import time
from pathlib import Path

# Run as a file (`python bench/health.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_database, seeded_account

DATABASE = "crm_bench_health"


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

    env, _url = bench_database(DATABASE)
    seeded_account(env, "bench", customers=args.customers, orders=args.orders)

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    # The product's modules once the environment names the benchmark's database.
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
