import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope, dangerously_as_database_owner
from loyalty import demo as loyalty_demo
from orders import demo
from orders.services import customer_aggregates_refresh


class Command(BaseCommand):
    help = (
        "Fill an account with realistic, deterministic demo data (set-based: a million "
        "customers and five million orders take minutes). The same --seed twice adds "
        "nothing the second time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument("--customers", type=int, default=200)
        parser.add_argument("--orders", type=int, default=1000)
        parser.add_argument("--products", type=int, default=200)
        parser.add_argument("--points-of-sale", type=int, default=8)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        account = account_by_slug_or_id(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']!r}.")
        for name in ("customers", "orders", "products", "points_of_sale"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must be >= 0.")
        if options["orders"] and not (options["customers"] and options["products"]):
            raise CommandError("Orders need --customers and --products above 0.")
        started = time.monotonic()
        with account_scope(account):
            summary = demo.generate(
                account_id=account.pk,
                customers=options["customers"],
                orders=options["orders"],
                products=options["products"],
                points_of_sale=options["points_of_sale"],
                seed=options["seed"],
            )
        generated = time.monotonic()
        # Fresh statistics before the aggregates query plans over millions of new rows
        # (ANALYZE needs the tables' owner; the application role is not).
        with dangerously_as_database_owner(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(demo.TABLES)}")
        if summary.orders:
            with account_scope(account):
                customer_aggregates_refresh(account_id=account.pk, customer_ids=None)
        with account_scope(account):
            points = loyalty_demo.generate(
                account_id=account.pk, seed=options["seed"], earn_rate=account.loyalty_earn_rate
            )
        with dangerously_as_database_owner(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(loyalty_demo.TABLES)}")
        self.stdout.write(
            f"{account.slug}: {summary.customers} customers, {summary.orders} orders "
            f"({summary.items} items), {summary.products} products, "
            f"{summary.points_of_sale} points of sale in {generated - started:.1f}s; "
            f"{points.cards} loyalty cards with {points.transactions} ledger rows, "
            f"{points.levels} levels; aggregates and loyalty in "
            f"{time.monotonic() - generated:.1f}s."
        )
