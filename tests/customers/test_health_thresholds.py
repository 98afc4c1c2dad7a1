"""Health reads the account's stored quintile thresholds (customers.models.
HealthThresholds) instead of ranking every customer on each request: exact for every
buyer of the snapshot, refreshed by beat and on demand."""

from datetime import timedelta
from decimal import Decimal
from math import ceil

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_project.tenancy import account_scope
from customers import selectors, services, tasks
from customers.models import Customer, HealthThresholds
from orders.models import Order
from tests.customers.conftest import local_noon, place_order
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def health_url(customer):
    return f"/api/v1/customers/{customer.pk}/health/"


def stored_thresholds(account):
    with account_scope(account):
        return HealthThresholds.objects.get()


@pytest.fixture
def buyers(account):
    """Five buyers spending 10, 20, 30, 40 and 50 today: m quintiles 1 to 5."""
    people = []
    for n in range(1, 6):
        customer = CustomerFactory(account=account)
        place_order(account, customer, 10 * n)
        people.append(customer)
    return people


def test_health_computes_and_stores_the_thresholds_on_first_use(api_client, account, buyers):
    assert api_client.get(health_url(buyers[0])).json()["rfm"]["m"] == 1
    stored = stored_thresholds(account)
    assert stored.buyers == 5
    assert stored.monetary == [Decimal("20.00"), Decimal("30.00"), Decimal("40.00"), Decimal(50)]
    assert stored.frequency == [1, 1, 1, 1]
    assert stored.recency == [0, 0, 0, 0]


def test_health_reads_the_stored_thresholds_until_they_are_refreshed(api_client, account, buyers):
    top = buyers[-1]
    assert api_client.get(health_url(top)).json()["rfm"]["m"] == 5
    # A sixth buyer spends far more: the snapshot does not know it yet.
    place_order(account, CustomerFactory(account=account), "1000")
    assert api_client.get(health_url(top)).json()["rfm"]["m"] == 5
    with account_scope(account):
        services.health_thresholds_refresh(account=account)
    # ceil(5 x 5 / 6) = 5 still for 50; 40 is now ceil(5 x 4 / 6) = 4, 10 is 1.
    assert stored_thresholds(account).buyers == 6
    assert api_client.get(health_url(buyers[3])).json()["rfm"]["m"] == 4
    assert api_client.get(health_url(top)).json()["rfm"]["m"] == 5


def test_stale_thresholds_are_refreshed_on_demand(api_client, account, buyers):
    api_client.get(health_url(buyers[0]))
    old = timezone.now() - services.HEALTH_THRESHOLDS_MAX_AGE - timedelta(minutes=1)
    with account_scope(account):
        HealthThresholds.objects.update(computed_at=old, buyers=99)
    api_client.get(health_url(buyers[0]))
    stored = stored_thresholds(account)
    assert (stored.buyers, stored.computed_at > old) == (5, True)


def test_a_snapshot_without_buyers_is_recomputed_once_someone_buys(api_client, account):
    customer = CustomerFactory(account=account)
    assert api_client.get(health_url(customer)).json()["rfm"] == {"r": None, "f": None, "m": None}
    assert stored_thresholds(account).buyers == 0
    place_order(account, customer, "5")
    assert api_client.get(health_url(customer)).json()["rfm"] == {"r": 5, "f": 5, "m": 5}


def test_lifecycle_counts_and_the_table_read_the_same_thresholds(
    api_client, client, account, buyers, user
):
    api_client.get("/api/v1/customers/lifecycle/")
    computed_at = stored_thresholds(account).computed_at
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert api_client.get(f"/api/v1/customers/{buyers[0].pk}/health/").status_code == 200
    assert stored_thresholds(account).computed_at == computed_at


def test_beat_refreshes_the_accounts_whose_thresholds_are_due(
    account, buyers, django_capture_on_commit_callbacks
):
    fresh = AccountFactory(slug="fresh")
    place_order(fresh, CustomerFactory(account=fresh), "7")
    with account_scope(fresh):
        services.health_thresholds_refresh(account=fresh)
    empty = AccountFactory(slug="empty")  # no customers: nothing to rank
    with django_capture_on_commit_callbacks(execute=True):
        sent = tasks.health_thresholds_refresh_all()
    assert sent == 1
    assert stored_thresholds(account).buyers == 5
    with account_scope(empty):
        assert not HealthThresholds.objects.exists()


# --- Exact for every buyer of the snapshot (a plain oracle) ----------------------------

ORDERS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=60)),
    max_size=3,
)


def quintile(value, population, *, reverse=False):
    """ceil(5 c / N): c buyers with a value at most `value` (at least, with reverse)."""
    c = sum(1 for other in population if (other >= value if reverse else other <= value))
    return ceil(5 * c / len(population))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(ORDERS, min_size=1, max_size=7))
def test_quintiles_from_thresholds_match_the_formula(account, plans):
    with account_scope(account):
        Order.objects.all().delete()
        Customer.objects.all().delete()
    customers = []
    for orders in plans:
        customer = CustomerFactory(account=account)
        for days_ago, amount in orders:
            place_order(account, customer, amount, ordered_at=local_noon(account, days_ago))
        customers.append((customer, orders))
    values = {
        customer.pk: (
            min(days for days, _ in orders),
            sum(1 for days, _ in orders if days <= 365),
            sum(amount for days, amount in orders if days <= 365),
        )
        for customer, orders in customers
        if orders
    }
    population = list(values.values())
    with account_scope(account):
        thresholds = services.health_thresholds_refresh(account=account)
        for customer, _orders in customers:
            health = selectors.customer_health(account, customer, thresholds=thresholds)
            if customer.pk not in values:
                assert health.rfm == {"r": None, "f": None, "m": None}
                continue
            r, f, m = values[customer.pk]
            assert health.rfm == {
                "r": quintile(r, [p[0] for p in population], reverse=True),
                "f": quintile(f, [p[1] for p in population]),
                "m": quintile(m, [p[2] for p in population]),
            }
