"""Customer health and lifecycle buckets, on a small dataset computed by hand.

Account timezone: Pacific/Auckland. Days are counted back from today there; orders are
placed at local noon. Counted orders exclude cancelled and refunded ones.

| customer | created | counted orders (days ago: amount)  | recency | f | m   |
|----------|---------|------------------------------------|---------|---|-----|
| A        | 500     | 2: 100, 20: 100, 40: 100           | 2       | 3 | 300 |
| B        | 500     | 10: 500                            | 10      | 1 | 500 |
| C        | 0       | 10: 50 (and 1: 1000 cancelled)     | 10      | 1 | 50  |
| H        | 200     | 100: 20                            | 100     | 1 | 20  |
| D        | 500     | 400: 1000                          | 400     | 0 | 0   |
| E        | 0       | none                               |         |   |     |
| F        | 400     | none                               |         |   |     |
| G        | 100     | none (5: 70 refunded)              |         |   |     |

Quintiles over the N = 5 customers with counted orders, q = ceil(5 c / N) where c counts
the customers whose value is at most theirs (recency: at least theirs):
r: D 1, H 2, B and C 4 (tie: c = 4), A 5;  f: D 1, B C H 4 (tie: c = 4), A 5;
m: D 1, H 2, C 3, A 4, B 5.
score = round(100 (r+f+m-3) / 12): A 11 -> 92, B 10 -> 83, C 8 -> 67, H 5 -> 42, D 0 -> 0.
Lifecycle: A active, B vip (m 5, f 4), C new (created today, one counted order), H at_risk
(100 days), D churned (400 days), E new, F churned (no order, created 400 days ago),
G active (no counted order, created 100 days ago).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from customers import selectors
from tests.customers.conftest import add_interaction, backdate, local_noon, place_order
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(account):
    account.timezone = "Pacific/Auckland"
    account.save()
    plan = {
        "A": (500, [(2, "100"), (20, "100"), (40, "100")]),
        "B": (500, [(10, "500")]),
        "C": (0, [(10, "50"), (1, "1000", "cancelled")]),
        "H": (200, [(100, "20")]),
        "D": (500, [(400, "1000")]),
        "E": (0, []),
        "F": (400, []),
        "G": (100, [(5, "70", "refunded")]),
    }
    people = {}
    for label, (created_days_ago, orders) in plan.items():
        customer = CustomerFactory(account=account, first_name=label, email=f"{label}@x.io")
        if created_days_ago:
            backdate(account, customer, local_noon(account, created_days_ago))
        for days_ago, amount, *status in orders:
            place_order(
                account,
                customer,
                amount,
                ordered_at=local_noon(account, days_ago),
                status=status[0] if status else "completed",
            )
        people[label] = customer
    return people


EXPECTED = {
    # label: score, grade, risk, lifecycle, recency, f365, m365, (r, f, m)
    "A": (92, "A", "low", "active", 2, 3, "300.00", (5, 5, 4)),
    "B": (83, "A", "low", "vip", 10, 1, "500.00", (4, 4, 5)),
    "C": (67, "B", "low", "new", 10, 1, "50.00", (4, 4, 3)),
    "H": (42, "C", "medium", "at_risk", 100, 1, "20.00", (2, 4, 2)),
    "D": (0, "F", "high", "churned", 400, 0, "0.00", (1, 1, 1)),
    "E": (0, "F", "high", "new", None, 0, "0.00", (None, None, None)),
    "F": (0, "F", "high", "churned", None, 0, "0.00", (None, None, None)),
    "G": (0, "F", "high", "active", None, 0, "0.00", (None, None, None)),
}


@pytest.mark.parametrize("label", list(EXPECTED))
def test_health_follows_the_formula(api_client, dataset, label):
    score, grade, risk, lifecycle, recency, f365, m365, (r, f, m) = EXPECTED[label]
    customer = dataset[label]
    body = api_client.get(f"/api/v1/customers/{customer.pk}/health/").json()
    assert (body["score"], body["grade"], body["risk"], body["lifecycle"]) == (
        score,
        grade,
        risk,
        lifecycle,
    )
    assert (body["recency_days"], body["frequency_365d"], body["monetary_365d"]) == (
        recency,
        f365,
        m365,
    )
    assert body["rfm"] == {"r": r, "f": f, "m": m}
    assert body["customer"] == str(customer.pk)


def test_lifecycle_counts_put_every_customer_in_one_bucket(api_client, dataset):
    expected = {"new": 2, "active": 2, "at_risk": 1, "churned": 2, "vip": 1}
    assert api_client.get("/api/v1/customers/segments/").json() == expected
    assert api_client.get("/api/v1/customers/lifecycle/").json() == expected
    assert sum(expected.values()) == len(dataset)


def test_lifecycle_counts_of_an_empty_account_are_zero(api_client):
    assert api_client.get("/api/v1/customers/segments/").json() == {
        "new": 0,
        "active": 0,
        "at_risk": 0,
        "churned": 0,
        "vip": 0,
    }


def test_health_counts_contacts_and_open_follow_ups(api_client, account, dataset):
    customer = dataset["A"]
    recent = add_interaction(account, customer, date=local_noon(account, 10))
    add_interaction(account, customer, date=local_noon(account, 91))
    add_interaction(account, customer, date=timezone.now() + timedelta(days=3))  # planned
    add_interaction(
        account, customer, date=local_noon(account, 120), next_action_date=timezone.now()
    )
    add_interaction(
        account,
        customer,
        date=local_noon(account, 130),
        next_action_date=timezone.now(),
        completed=True,
    )
    body = api_client.get(f"/api/v1/customers/{customer.number}/health/").json()
    assert body["interactions_90d"] == 1
    assert body["last_contact_at"] == recent.date.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert body["open_follow_ups"] == 1
    assert body["average_feedback_rating"] is None
    assert body["orders_count"] == 3


def test_a_lone_buyer_is_in_the_top_quintile(api_client, account):
    customer = CustomerFactory(account=account)
    place_order(account, customer, "1.00")
    body = api_client.get(f"/api/v1/customers/{customer.pk}/health/").json()
    assert body["rfm"] == {"r": 5, "f": 5, "m": 5}
    assert (body["score"], body["lifecycle"]) == (100, "vip")


def test_days_are_counted_in_the_accounts_timezone(account):
    """UTC+14: at 12:00 UTC it is already tomorrow in Kiritimati."""
    account.timezone = "Pacific/Kiritimati"
    account.save()
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    recent, edge, past_edge = (CustomerFactory(account=account) for _ in range(3))
    for customer in (recent, edge, past_edge):
        backdate(account, customer, now - timedelta(days=1000))
    # 09:00 UTC yesterday is 23:00 the day before yesterday in Kiritimati: two days ago.
    place_order(account, recent, "20.00", ordered_at=now - timedelta(hours=27))
    place_order(account, edge, "10.00", ordered_at=local_noon(account, 365, now=now))
    place_order(account, past_edge, "10.00", ordered_at=local_noon(account, 366, now=now))
    with account_scope(account):
        health = {
            c: selectors.customer_health(account, c, now=now) for c in (recent, edge, past_edge)
        }
    assert health[recent].recency_days == 2
    assert health[recent].as_of == (now + timedelta(hours=14)).date()
    # "Within 365 days" includes the day exactly 365 days ago.
    assert (health[edge].recency_days, health[edge].frequency_365d) == (365, 1)
    assert health[edge].monetary_365d == Decimal("10.00")
    # m: past_edge 0 -> 2, edge 10 -> ceil(5 x 2/3) = 4, recent 20 -> 5; not vip.
    assert health[edge].lifecycle == "at_risk"
    assert (health[past_edge].recency_days, health[past_edge].frequency_365d) == (366, 0)
    assert health[past_edge].lifecycle == "churned"


def test_a_customer_created_31_days_ago_is_no_longer_new(account):
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    fresh, settled = CustomerFactory(account=account), CustomerFactory(account=account)
    backdate(account, fresh, now - timedelta(days=30))
    backdate(account, settled, now - timedelta(days=31))
    with account_scope(account):
        assert selectors.customer_health(account, fresh, now=now).lifecycle == "new"
        assert selectors.customer_health(account, settled, now=now).lifecycle == "active"
