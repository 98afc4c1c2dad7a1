"""`GET /api/v1/reports/customers/`: the customers created within `date_from` /
`date_to`, the counted orders placed within it by month of the account's timezone, the
top spenders and every lifecycle bucket."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from customers.models import Customer, Lifecycle
from customers.selectors import health_thresholds_compute
from reports import selectors
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/customers/"
NEW_YORK = ZoneInfo("America/New_York")
NO_LIFECYCLE = dict.fromkeys(Lifecycle.values, 0)
KEYS = {
    "total",
    "new_last_30_days",
    "active_last_90_days",
    "total_revenue",
    "average_lifetime_spend",
    "revenue_by_month",
    "top_customers",
    "by_lifecycle",
}


def report(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def make_customer(account, *, created_at, **fields):
    customer = CustomerFactory(account=account, **fields)
    with account_scope(account):
        Customer.objects.filter(pk=customer.pk).update(created_at=created_at)
    return customer


def order(account, customer, amount, ordered_at, status="completed"):
    return OrderFactory(
        account=account,
        customer=customer,
        amount=Decimal(amount),
        ordered_at=ordered_at,
        status=status,
    )


def local(*args):
    return datetime(*args, tzinfo=NEW_YORK)


def month(name, revenue, orders):
    return {"month": name, "revenue": revenue, "orders": orders}


@pytest.fixture
def new_york(account):
    account.timezone = "America/New_York"
    account.save(update_fields=["timezone"])
    return account


@pytest.fixture
def shop(new_york):
    """Three customers of 2024 in New York: Ann (created 2024-01-31 23:30 local, i.e.
    February in UTC) with 100.00 at 23:30 local on January 31st, 50.00 just after
    midnight on February 1st and a cancelled 999.00; Bob (March) with 25.50 in April and
    a refunded 500.00; Cid (March) without orders."""
    account = new_york
    ann = make_customer(
        account, first_name="Ann", last_name="Lee", created_at=local(2024, 1, 31, 23, 30)
    )
    bob = make_customer(
        account, first_name="Bob", last_name="Ray", created_at=local(2024, 3, 5, 12)
    )
    cid = make_customer(
        account, first_name="Cid", last_name="Moe", created_at=local(2024, 3, 31, 23, 59)
    )
    order(account, ann, "100.00", local(2024, 1, 31, 23, 30))  # 2024-02-01 04:30 UTC
    order(account, ann, "50.00", local(2024, 2, 1, 0, 30))
    order(account, ann, "999.00", local(2024, 2, 15, 10), status="cancelled")
    order(account, bob, "25.50", local(2024, 4, 10, 9))
    order(account, bob, "500.00", local(2024, 2, 20, 9), status="refunded")
    return ann, bob, cid  # fmt: skip


def test_an_account_without_customers_reports_every_key_with_zeros(api_client):
    assert report(api_client) == {
        "total": 0,
        "new_last_30_days": 0,
        "active_last_90_days": 0,
        "total_revenue": "0.00",
        "average_lifetime_spend": "0.00",
        "revenue_by_month": [],
        "top_customers": [],
        "by_lifecycle": NO_LIFECYCLE,
    }


def test_an_empty_bounded_window_lists_its_months_with_zeros(api_client, shop):
    body = report(api_client, date_from="2023-10-15", date_to="2023-12-31")

    assert body == {
        "total": 0,
        "new_last_30_days": 0,
        "active_last_90_days": 0,
        "total_revenue": "0.00",
        "average_lifetime_spend": "0.00",
        "revenue_by_month": [
            month("2023-10", "0.00", 0),
            month("2023-11", "0.00", 0),
            month("2023-12", "0.00", 0),
        ],
        "top_customers": [],
        # Lifecycles are every customer's state now, whatever the window.
        "by_lifecycle": NO_LIFECYCLE | {"churned": 3},
    }


def test_the_report_counts_customers_revenue_by_local_month_and_top_spenders(api_client, shop):
    ann, bob, _cid = shop

    body = report(api_client)

    assert set(body) == KEYS
    assert body["total"] == 3
    # Cancelled and refunded orders count nowhere.
    assert body["total_revenue"] == "175.50"
    assert body["average_lifetime_spend"] == "58.50"  # (150.00 + 25.50 + 0) / 3
    # 23:30 on January 31st in New York is January's; March has no order but lies
    # between two months that do.
    assert body["revenue_by_month"] == [
        month("2024-01", "100.00", 1),
        month("2024-02", "50.00", 1),
        month("2024-03", "0.00", 0),
        month("2024-04", "25.50", 1),
    ]
    assert body["top_customers"] == [
        {"id": str(ann.pk), "name": "Ann Lee", "lifetime_spend": "150.00", "total_orders": 2},
        {"id": str(bob.pk), "name": "Bob Ray", "lifetime_spend": "25.50", "total_orders": 1},
    ]
    # Orders of 2024 are over 365 days old, and so are the customers: all churned.
    assert body["by_lifecycle"] == NO_LIFECYCLE | {"churned": 3}
    assert (body["new_last_30_days"], body["active_last_90_days"]) == (0, 0)


def test_a_window_filters_customers_by_creation_and_orders_by_order_time_locally(api_client, shop):
    january = report(api_client, date_from="2024-01-01", date_to="2024-01-31")
    from_february = report(api_client, date_from="2024-02-01")
    march = report(api_client, date_from="2024-03-01", date_to="2024-03-31")

    # Ann was created at 23:30 on January 31st local time, her 100.00 ordered then too.
    assert (january["total"], january["total_revenue"]) == (1, "100.00")
    assert january["revenue_by_month"] == [month("2024-01", "100.00", 1)]
    assert january["average_lifetime_spend"] == "150.00"
    assert [c["name"] for c in january["top_customers"]] == ["Ann Lee"]
    # An open end: from the window's start month to the last order month.
    assert from_february["total"] == 2
    assert from_february["total_revenue"] == "75.50"
    assert from_february["revenue_by_month"] == [
        month("2024-02", "50.00", 1),
        month("2024-03", "0.00", 0),
        month("2024-04", "25.50", 1),
    ]
    assert from_february["average_lifetime_spend"] == "12.75"
    # Cid at 23:59 on March 31st local is March's (April in UTC).
    assert (march["total"], march["total_revenue"]) == (2, "0.00")
    assert march["revenue_by_month"] == [month("2024-03", "0.00", 0)]
    assert [c["name"] for c in march["top_customers"]] == ["Bob Ray"]


def test_the_last_30_and_90_days_are_calendar_days_in_the_accounts_timezone(api_client, new_york):
    account = new_york
    today = timezone.now().astimezone(NEW_YORK).date()
    midnight_30 = datetime.combine(today - timedelta(days=30), datetime.min.time(), NEW_YORK)
    midnight_90 = datetime.combine(today - timedelta(days=90), datetime.min.time(), NEW_YORK)
    just_new = make_customer(account, created_at=midnight_30)
    make_customer(account, created_at=midnight_30 - timedelta(seconds=1))
    active = make_customer(account, created_at=midnight_90 - timedelta(days=10))
    order(account, active, "10.00", midnight_90)
    lapsed = make_customer(account, created_at=midnight_90 - timedelta(days=10))
    order(account, lapsed, "30.00", midnight_90 - timedelta(seconds=1))
    order(account, just_new, "5.00", midnight_90 - timedelta(days=1), status="cancelled")

    body = report(api_client)

    assert body["total"] == 4
    assert body["new_last_30_days"] == 1
    assert body["active_last_90_days"] == 1
    assert body["total_revenue"] == "40.00"
    assert body["average_lifetime_spend"] == "10.00"
    assert body["by_lifecycle"] == api_client.get("/api/v1/customers/segments/").json()
    assert sum(body["by_lifecycle"].values()) == 4


def test_every_lifecycle_bucket_is_answered_as_the_customers_segments_count_them(
    api_client, account
):
    now = timezone.now()
    make_customer(account, created_at=now - timedelta(days=2))  # new
    make_customer(account, created_at=now - timedelta(days=500))  # churned
    buyer = make_customer(account, created_at=now - timedelta(days=200))
    order(account, buyer, "10.00", now - timedelta(days=120))  # at_risk
    big = make_customer(account, created_at=now - timedelta(days=300))
    for days in (5, 15, 25):
        order(account, big, "500.00", now - timedelta(days=days))  # vip

    body = report(api_client)

    assert body["by_lifecycle"] == {"new": 1, "active": 0, "at_risk": 1, "churned": 1, "vip": 1}
    assert body["by_lifecycle"] == api_client.get("/api/v1/customers/segments/").json()
    assert (body["new_last_30_days"], body["active_last_90_days"]) == (1, 1)
    assert body["top_customers"][0]["lifetime_spend"] == "1500.00"


def test_top_customers_are_the_ten_highest_spenders(api_client, account):
    now = timezone.now()
    spenders = []
    for n in range(1, 13):
        customer = make_customer(account, created_at=now - timedelta(days=40))
        order(account, customer, f"{n}.25", now - timedelta(days=n))
        spenders.append(customer)

    top = report(api_client)["top_customers"]

    assert [c["id"] for c in top] == [str(c.pk) for c in reversed(spenders[2:])]
    assert top[0]["lifetime_spend"] == "12.25"
    assert top[-1]["lifetime_spend"] == "3.25"


def test_a_windows_top_customers_are_its_own_highest_spenders_ties_newest_first(
    api_client, account
):
    now = timezone.now()
    old_whale = make_customer(account, created_at=now - timedelta(days=400))
    order(account, old_whale, "9999.00", now - timedelta(days=2))  # created before the window
    inside = []
    for n in range(1, 14):
        customer = make_customer(account, created_at=now - timedelta(days=20))
        order(account, customer, "50.00" if n > 10 else f"{n}.00", now - timedelta(days=1))
        inside.append(customer)
    make_customer(account, created_at=now - timedelta(days=5))  # no order: not a buyer

    window = {"date_from": (now - timedelta(days=30)).date().isoformat()}
    top = report(api_client, **window)["top_customers"]

    ties = sorted(inside[10:], key=lambda c: c.pk, reverse=True)  # 50.00 each, newest id first
    expected = [*ties, *reversed(inside[3:10])]
    assert [c["id"] for c in top] == [str(c.pk) for c in expected]
    assert str(old_whale.pk) not in {c["id"] for c in top}
    assert [c["lifetime_spend"] for c in top[:4]] == ["50.00", "50.00", "50.00", "10.00"]


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-01"}, "date_to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_parameter(api_client, query, attr):
    response = api_client.get(URL, query)

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert [error["attr"] for error in response.json()["errors"]] == [attr]


def test_another_account_sees_only_its_own_zeros(other_api_client, shop):
    assert report(other_api_client) == {
        "total": 0,
        "new_last_30_days": 0,
        "active_last_90_days": 0,
        "total_revenue": "0.00",
        "average_lifetime_spend": "0.00",
        "revenue_by_month": [],
        "top_customers": [],
        "by_lifecycle": NO_LIFECYCLE,
    }


def test_every_role_reads_the_report_and_anonymous_callers_none(
    read_only_client, anonymous_client, shop
):
    assert report(read_only_client)["total"] == 3
    assert anonymous_client.get(URL).status_code == 401


def test_the_report_is_a_handful_of_queries_whatever_the_customers(
    account, shop, django_assert_max_num_queries
):
    with account_scope(account):
        thresholds = health_thresholds_compute(account)
        # The customers' figures, the top spenders, the months, the lifecycle counts (and
        # the two round trips setting and restoring its planner setting).
        with django_assert_max_num_queries(6):
            figures = selectors.customer_report(account, thresholds=thresholds)

    assert figures["total"] == 3
    assert figures["total_revenue"] == Decimal("175.50")


def test_a_datetime_window_is_exact(api_client, shop):
    edge = "2024-02-01T04:30:00Z"  # Ann's first order, 23:30 local on January 31st

    before = report(api_client, date_to=edge)
    after = report(api_client, date_from=edge, date_to="2024-02-29")

    assert (before["total_revenue"], before["revenue_by_month"]) == ("0.00", [])
    assert after["total_revenue"] == "150.00"
    assert after["revenue_by_month"] == [
        month("2024-01", "100.00", 1),
        month("2024-02", "50.00", 1),
    ]
    assert datetime(2024, 2, 1, 4, 30, tzinfo=UTC).astimezone(NEW_YORK).day == 31


def test_a_century_wide_window_lists_its_orders_months_not_thousands_of_zeros(api_client):
    response = api_client.get(
        "/api/v1/reports/customers/", {"date_from": "0001-01-01", "date_to": "9999-12-31"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["revenue_by_month"] == []
