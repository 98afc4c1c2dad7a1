"""The orders rollup (orders.models.OrderDay) behind the customers report's revenue by
month: whatever writes the orders (services, queryset updates, deletes, a change of the
account's timezone, a fold by beat), the report answers what the orders themselves
say, for windows of whole days and of part-days alike."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import account_update
from crm_project import rollups
from crm_project import tasks as platform_tasks
from crm_project.tenancy import account_scope, unscoped
from orders import services as order_services
from orders.models import UNCOUNTED_STATUSES, Order, OrderDay
from reports import selectors
from tests.factories import AccountFactory, CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def revenue_by_month(account, start=None, end=None):
    with account_scope(account):
        months = selectors.customer_report(account, start=start, end=end)["revenue_by_month"]
    return {m["month"]: (m["revenue"], m["orders"]) for m in months if m["orders"]}


def reference(account, start=None, end=None):
    """The same figures from the orders themselves, in Python."""
    zone = ZoneInfo(account.timezone)
    months = defaultdict(lambda: [Decimal(0), 0])
    with account_scope(account):
        orders = list(Order.objects.exclude(status__in=UNCOUNTED_STATUSES))
    for order in orders:
        if (start and order.ordered_at < start) or (end and order.ordered_at >= end):
            continue
        figures = months[order.ordered_at.astimezone(zone).strftime("%Y-%m")]
        figures[0] += order.amount
        figures[1] += 1
    return {month: (revenue, count) for month, (revenue, count) in months.items()}


def windows():
    local = lambda *args: datetime(*args, tzinfo=NEW_YORK)  # noqa: E731
    return [
        (None, None),
        (local(2024, 1, 31), local(2024, 3, 1)),  # whole local days
        (local(2024, 1, 31, 23), None),  # a part-day, then every day after
        (None, local(2024, 2, 1, 0, 45)),  # every day before, then a part-day
        (local(2024, 1, 31, 22), local(2024, 1, 31, 23, 45)),  # within one day
        (datetime(2024, 2, 1, 4, 0, tzinfo=UTC), datetime(2024, 4, 30, 12, tzinfo=UTC)),
    ]


@pytest.fixture
def shop():
    account = AccountFactory(timezone="America/New_York")
    ann = CustomerFactory(account=account)
    bob = CustomerFactory(account=account)
    local = lambda *args: datetime(*args, tzinfo=NEW_YORK)  # noqa: E731
    orders = [
        OrderFactory(account=account, customer=ann, amount=Decimal("100.00"),
                     ordered_at=local(2024, 1, 31, 23, 30)),  # February in UTC
        OrderFactory(account=account, customer=ann, amount=Decimal("50.00"),
                     ordered_at=local(2024, 2, 1, 0, 30)),
        OrderFactory(account=account, customer=bob, amount=Decimal("25.50"),
                     ordered_at=local(2024, 4, 10, 9)),
        OrderFactory(account=account, customer=bob, amount=Decimal("999.00"),
                     ordered_at=local(2024, 2, 15, 10), status="cancelled"),
        OrderFactory(account=account, customer=bob, amount=Decimal("7.25"),
                     ordered_at=local(2024, 1, 31, 22, 15), status="pending"),
    ]  # fmt: skip
    return account, orders


def assert_exact(account):
    for start, end in windows():
        assert revenue_by_month(account, start, end) == reference(account, start, end), (
            start,
            end,
        )


def test_the_rollup_answers_what_the_orders_say_through_every_kind_of_write(shop):
    account, orders = shop
    assert_exact(account)
    with account_scope(account):
        first, second, third, cancelled, pending = (
            Order.objects.get(pk=order.pk) for order in orders
        )
        order_services.order_cancel(order=second)  # out of the counted orders
        order_services.order_update(order=third, amount=Decimal("30.00"))
        order_services.order_update(order=first, ordered_at=datetime(2024, 3, 2, 3, tzinfo=UTC))
        Order.objects.filter(pk=cancelled.pk).update(status="completed")  # back in
        Order.objects.filter(pk__in=[first.pk, third.pk]).update(amount=Decimal("12.34"))
        order_services.order_delete(order=Order.objects.get(pk=pending.pk))
    assert_exact(account)


def test_a_fold_keeps_the_figures_and_beat_folds_every_rollup_that_needs_it(
    shop, django_capture_on_commit_callbacks
):
    account, orders = shop
    with account_scope(account):
        Order.objects.filter(pk=orders[0].pk).update(amount=Decimal("1.00"))
        Order.objects.filter(pk=orders[0].pk).update(amount=Decimal("2.00"))
        before = OrderDay.objects.count()
    order_days = rollups.rollup("orders.orderday")
    with unscoped():
        assert rollups.accounts_with_rows_to_fold(order_days) == [account.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert platform_tasks.rollups_compact_all.delay().get() >= 1
    with account_scope(account):
        assert OrderDay.objects.count() < before
        assert rollups.rollup_compact(order_days, account_id=account.pk) == (0, 0)
    assert_exact(account)


def test_a_new_timezone_moves_the_orders_to_its_days(shop):
    account, _ = shop
    with unscoped():  # a platform admin's update: no account in scope
        account_update(account=account, timezone="Asia/Tokyo")
    account.refresh_from_db()
    months = revenue_by_month(account)
    assert months == reference(account)
    # January 31st's two late orders in New York are on February 1st in Tokyo
    assert "2024-01" not in months
    assert months["2024-02"][1] == 3
    assert_exact(account)


def test_another_account_has_its_own_rows(shop):
    account, _ = shop
    other = AccountFactory(timezone="UTC")
    OrderFactory(
        account=other, amount=Decimal("5.00"), ordered_at=datetime(2024, 2, 1, 1, tzinfo=UTC)
    )
    assert revenue_by_month(other) == {"2024-02": (Decimal("5.00"), 1)}
    assert_exact(account)
    with account_scope(other):
        assert {row.account_id for row in OrderDay.objects.all()} == {other.pk}


def test_a_window_over_many_days_reads_the_rollup_not_the_orders(shop):
    account, _ = shop
    start = datetime(2024, 1, 1, tzinfo=NEW_YORK)
    with account_scope(account), CaptureQueriesContext(connection) as queries:
        selectors.customer_report(account, start=start, end=start + timedelta(days=366))
    revenue = [q["sql"] for q in queries.captured_queries if "orders_orderday" in q["sql"]]
    assert len(revenue) == 1
    assert "orders_order o" not in revenue[0]  # whole days only: no part-day to read
