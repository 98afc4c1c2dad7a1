"""The buyers' 365-day order statistics kept on their rows (Customer.orders_365d and
after) and the lifecycle counts read from them: whatever the day asked about, a write,
the passing of time or a new timezone, the counts are those of the health query's own
per-customer classification (the oracle), and beat dates the statistics again."""

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import account_update
from crm_project.tenancy import account_scope, unscoped
from customers import selectors
from customers.models import Customer
from orders import services as order_services
from orders import tasks as order_tasks
from orders.models import Order
from tests.factories import AccountFactory, CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    """Sixty customers of various ages with 0-8 orders each over the last two years,
    some cancelled, some dated ahead, in a timezone far from UTC."""
    account = AccountFactory(timezone="Pacific/Auckland")
    rng = random.Random(7)
    now = timezone.now()
    for _ in range(60):
        customer = CustomerFactory(account=account)
        with account_scope(account):
            Customer.objects.filter(pk=customer.pk).update(
                created_at=now - timedelta(days=rng.randint(0, 800))
            )
        for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
            OrderFactory(
                account=account,
                customer=customer,
                amount=Decimal(rng.randint(1, 90000)) / 100,
                ordered_at=now - timedelta(days=rng.randint(-3, 730), hours=rng.randint(0, 23)),
                status=rng.choice(["completed", "completed", "delivered", "cancelled"]),
            )
    return account


def oracle(account, now):
    """Each customer classified by the health query from their orders."""
    thresholds = selectors.health_thresholds_compute(account, now=now)
    with account_scope(account):
        ids = list(Customer.objects.values_list("pk", flat=True))
        lifecycles = selectors.customer_lifecycles(account, ids, thresholds=thresholds, now=now)
    return thresholds, Counter(lifecycles.values())


def assert_counts_exact(account, now):
    thresholds, expected = oracle(account, now)
    with account_scope(account):
        counts = selectors.customer_lifecycle_counts(account, now=now, thresholds=thresholds)
    assert {k: v for k, v in counts.items() if v} == dict(expected), now
    assert sum(counts.values()) == sum(expected.values())


def stored_stats_are_the_orders(account):
    with account_scope(account):
        for customer in Customer.objects.filter(total_orders__gt=0):
            health = selectors.customer_health(account, customer)
            assert (customer.orders_365d, customer.spend_365d) == (
                health.frequency_365d,
                health.monetary_365d,
            ), customer.pk
            assert customer.stats_day is not None


def test_the_counts_are_the_oracles_on_any_day(shop):
    now = timezone.now()
    stored_stats_are_the_orders(shop)
    for days in (0, 1, 40, 200, 400, -30, -200):  # later days age orders out; earlier
        assert_counts_exact(shop, now + timedelta(days=days))  # ones are computed


def test_writes_keep_the_statistics_and_the_counts_exact(shop):
    with account_scope(shop):
        orders = list(Order.objects.order_by("id")[:6])
        if orders[0].status != "cancelled":
            order_services.order_cancel(order=orders[0])
        order_services.order_update(order=orders[1], amount=Decimal("12345.00"))
        order_services.order_update(order=orders[2], ordered_at=timezone.now() - timedelta(days=3))
        order_services.order_delete(order=orders[3])
        Order.objects.filter(pk=orders[4].pk).update(status="completed")  # no service:
        order_services.customer_aggregates_refresh(  # as bulk writers do, by hand
            account_id=shop.pk, customer_ids=[orders[4].customer_id]
        )
    stored_stats_are_the_orders(shop)
    assert_counts_exact(shop, timezone.now())


def test_beat_dates_again_the_statistics_an_order_left(shop, django_capture_on_commit_callbacks):
    today = timezone.now().date()
    with account_scope(shop):
        # As if the statistics were computed long ago: every buyer's oldest counted
        # order left the window today.
        Customer.objects.filter(total_orders__gt=0).update(
            stats_day=today - timedelta(days=300), stats_until=today - timedelta(days=1)
        )
        due = selectors.customers_with_order_stats_due(shop)
        assert set(due) == set(
            Customer.objects.filter(total_orders__gt=0).values_list("pk", flat=True)
        )
    with unscoped():
        assert selectors.accounts_with_order_stats_due() == [shop.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert order_tasks.order_stats_refresh_all.delay().get() == 1
    with account_scope(shop):
        assert selectors.customers_with_order_stats_due(shop) == []
    with unscoped():
        assert selectors.accounts_with_order_stats_due() == []
    stored_stats_are_the_orders(shop)
    assert_counts_exact(shop, timezone.now())


def test_a_new_timezone_undates_the_statistics_until_beat_dates_them(
    shop, django_capture_on_commit_callbacks
):
    with unscoped():  # a platform admin's update: no account in scope
        account_update(account=shop, timezone="America/Los_Angeles")
    shop.refresh_from_db()
    with account_scope(shop):
        assert not Customer.objects.filter(stats_day__isnull=False).exists()
    assert_counts_exact(shop, timezone.now())  # computed from the orders meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        order_tasks.order_stats_refresh_all.delay().get()
    stored_stats_are_the_orders(shop)
    assert_counts_exact(shop, timezone.now())


def test_another_accounts_buyers_are_not_counted_or_refreshed(shop):
    other = AccountFactory()
    OrderFactory(account=other, amount=Decimal("5.00"))
    assert_counts_exact(shop, timezone.now())
    with account_scope(other):
        assert sum(selectors.customer_lifecycle_counts(other).values()) == 1
        assert selectors.customers_with_order_stats_due(other) == []


@pytest.mark.parametrize(
    ("zone", "today"),
    [
        # Clocks go forward at midnight: the day 30 days before 2026-10-06 (2026-09-06)
        # starts at 01:00 in Santiago.
        ("America/Santiago", date(2026, 10, 6)),
        # ...and back at midnight: 2026-04-05 starts after the repeated hour.
        ("America/Santiago", date(2026, 5, 5)),
        ("Pacific/Auckland", date(2026, 12, 6)),
    ],
)
def test_the_counts_hold_at_the_first_instant_of_each_bounding_day(zone, today):
    """Customers created, and buyers who last ordered, one microsecond either side of
    the first instant of the days 30, 90 and 365 days before today in the account's
    timezone (where the lifecycle rules change bucket): the counts are the oracle's."""
    account = AccountFactory(timezone=zone)
    tz = ZoneInfo(zone)
    now = datetime.combine(today, time(12), tzinfo=tz)
    for days in (30, 90, 365):
        # The first instant of that local day, whatever its DST change.
        first = datetime.combine(today - timedelta(days=days), time.min, tzinfo=tz)
        first = first.astimezone(UTC)
        for moment in (first - timedelta(microseconds=1), first):
            customer = CustomerFactory(account=account)
            buyer = CustomerFactory(account=account)
            with account_scope(account):
                Customer.objects.filter(pk=customer.pk).update(created_at=moment)
                Customer.objects.filter(pk=buyer.pk).update(created_at=moment - timedelta(days=400))
            OrderFactory(account=account, customer=buyer, amount=Decimal("10.00"),
                         ordered_at=moment, status="completed")  # fmt: skip
    assert_counts_exact(account, now)
