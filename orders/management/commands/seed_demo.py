import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.selectors import account_by_slug_or_id
from campaigns import demo as campaigns_demo
from crm_project.tenancy import account_scope, dangerously_as_database_owner
from customers.models import Customer
from feedback import demo as feedback_demo
from feedback import themes as feedback_themes
from leads import demo as leads_demo
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
        parser.add_argument(
            "--leads", type=int, default=None, help="leads to write (default: customers / 2)"
        )
        parser.add_argument(
            "--feedback",
            type=int,
            default=None,
            help="feedback requests to write, after as many orders (default: orders / 10)",
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        account = account_by_slug_or_id(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']!r}.")
        if options["leads"] is None:
            options["leads"] = options["customers"] // 2
        if options["feedback"] is None:
            options["feedback"] = options["orders"] // 10
        for name in ("customers", "orders", "products", "points_of_sale", "leads", "feedback"):
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
        # Fresh statistics before the aggregates query plans over millions of new rows.
        _analyze(demo.TABLES)
        if summary.orders:
            with account_scope(account):
                customer_aggregates_refresh(account_id=account.pk, customer_ids=None)
            # The customers' statistics again: their aggregates were all zero before
            # (a "top spenders" plan read from them scanned every buyer).
            _analyze([Customer._meta.db_table])
        with account_scope(account):
            levels, cards = loyalty_demo.generate_cards(account_id=account.pk, seed=options["seed"])
        # The new cards' statistics before their orders are joined to them.
        _analyze(loyalty_demo.TABLES)
        with account_scope(account):
            points = loyalty_demo.generate_points(
                account_id=account.pk, seed=options["seed"], earn_rate=account.loyalty_earn_rate
            )
        with account_scope(account):
            leads = leads_demo.generate(
                account_id=account.pk, leads=options["leads"], seed=options["seed"]
            )
            feedback = feedback_demo.generate(
                account_id=account.pk,
                requests=options["feedback"],
                orders=options["orders"],
                seed=options["seed"],
            )
            themes = (
                feedback_themes.mentions_index(account_id=account.pk, feedback_ids=None)
                if feedback.answered
                else None
            )
            campaign = campaigns_demo.generate(account_id=account.pk, seed=options["seed"])
        # Every table written, vacuumed as well: the reports' index-only passes (the
        # customers' and the feedback's figures) need the visibility map that
        # autovacuum keeps for a business that has been running.
        tables = [
            *demo.TABLES,
            *loyalty_demo.TABLES,
            *leads_demo.TABLES,
            *feedback_demo.TABLES,
            *campaigns_demo.TABLES,
        ]
        _analyze(tables, vacuum=True)
        self.stdout.write(
            f"{account.slug}: {summary.customers} customers, {summary.orders} orders "
            f"({summary.items} items), {summary.products} products, "
            f"{summary.points_of_sale} points of sale in {generated - started:.1f}s; "
            f"{cards} loyalty cards with {points} ledger rows, "
            f"{levels} levels; {leads.leads} leads ({leads.converted} converted); "
            f"{feedback.requests} feedback requests ({feedback.answered} answered"
            f"{'' if themes is None else f', {themes} theme mentions'}); "
            f"{campaign.campaigns} sent campaign with {campaign.messages} messages; "
            f"aggregates, loyalty, leads, feedback and campaign in "
            f"{time.monotonic() - generated:.1f}s."
        )


def _analyze(tables: list[str], *, vacuum: bool = False) -> None:
    """Fresh planner statistics of `tables` (ANALYZE needs the tables' owner; the
    application role is not), vacuumed first with `vacuum` unless the caller holds a
    transaction (a test's), where VACUUM cannot run."""
    command = "VACUUM (ANALYZE)" if vacuum and not connection.in_atomic_block else "ANALYZE"
    with dangerously_as_database_owner(), connection.cursor() as cursor:
        cursor.execute(f"{command} {', '.join(tables)}")
