"""Unfiltered lists of big tables read their count from a counter maintained by
triggers with the rows; it must always equal the real count."""

import pytest
from django.core.management import call_command

from crm_project.api.pagination import row_count
from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def real_and_counted(account):
    with account_scope(account):
        return Customer.objects.count(), row_count("customers")


def test_counter_follows_creates_bulk_and_deletes(api_client, account, other_account):
    CustomerFactory(account=other_account)
    api_client.post("/api/v1/customers/", {"email": "a@x.io"}, format="json")
    api_client.post(
        "/api/v1/customers/bulk/",
        {"customers": [{"email": f"b{i}@x.io"} for i in range(5)]},
        format="json",
    )
    assert real_and_counted(account) == (6, 6)
    customer_id = api_client.get("/api/v1/customers/").json()["results"][0]["id"]
    api_client.delete(f"/api/v1/customers/{customer_id}/")
    assert real_and_counted(account) == (5, 5)
    assert real_and_counted(other_account) == (1, 1)


def test_counter_follows_set_based_writes(account):
    call_command("seed_demo", "--account", account.slug, "--customers", "40", "--orders", "90")
    assert real_and_counted(account) == (40, 40)


def test_unfiltered_and_filtered_lists_count_exactly(api_client, account):
    for i in range(3):
        CustomerFactory(account=account, city="Lyon" if i else "Paris")
    assert api_client.get("/api/v1/customers/").json()["count"] == 3
    assert api_client.get("/api/v1/customers/?city=Lyon").json()["count"] == 2
    assert api_client.get("/api/v1/customers/?page_size=1&ordering=email").json()["count"] == 3


def test_a_rolled_back_write_leaves_the_counter_unchanged(api_client, account):
    CustomerFactory(account=account, email="taken@x.io")
    response = api_client.post("/api/v1/customers/", {"email": "TAKEN@x.io"}, format="json")
    assert response.status_code == 409
    assert real_and_counted(account) == (1, 1)


def test_deep_pages_answer_the_same_rows_as_offset(api_client, account, settings, monkeypatch):
    from crm_project.api import pagination

    for i in range(12):
        CustomerFactory(account=account, email=f"c{i:02d}@x.io")
    url = "/api/v1/customers/?page=3&page_size=4&ordering=email"
    direct = api_client.get(url).json()["results"]
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_OFFSET", 0)
    deferred = api_client.get(url).json()["results"]
    assert [c["email"] for c in deferred] == ["c08@x.io", "c09@x.io", "c10@x.io", "c11@x.io"]
    assert deferred == direct


@pytest.mark.parametrize("ordering", ["email", "-last_order_date", "name", "-created_at"])
def test_few_matches_are_sorted_after_their_ids_are_read_in_the_same_order(
    api_client, account, monkeypatch, ordering
):
    """A filtered list with at most FEW_MATCHES rows reads their ids by the filter's
    plan, then sorts only them: every page is the one the plain ORDER BY ... LIMIT
    answers, in every ordering (missing dates last, name ties broken by id)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm_project.api import pagination
    from tests.customers.conftest import place_order

    for i in range(11):
        customer = CustomerFactory(
            account=account, email=f"c{i:02d}@x.io", last_name="Same" if i % 2 else f"N{i}"
        )
        if i % 3:
            place_order(account, customer, f"{i}.00")
    CustomerFactory(account=account, email="other@y.io")
    urls = [f"/api/v1/customers/?q=x.io&page_size=4&page={n}&ordering={ordering}" for n in (1, 3)]
    with CaptureQueriesContext(connection) as queries:
        pages = [api_client.get(url).json() for url in urls]
    assert pages[0]["count"] == 11
    assert len(pages[1]["results"]) == 3
    # The ids were read unordered, then only they were sorted.
    assert any(
        q["sql"].startswith('SELECT "customers_customer"."id" AS "pk"')
        and "ORDER BY" not in q["sql"]
        for q in queries.captured_queries
    )
    monkeypatch.setattr(pagination, "FEW_MATCHES", 0)
    assert [api_client.get(url).json() for url in urls] == pages


def lead_counts(account):
    """(the counts kept per status, the counts of the rows) of the account's leads."""
    from leads import selectors
    from leads.models import Lead

    with account_scope(account):
        leads = Lead.objects.all()
        return (
            selectors.lead_status_counts(leads, whole_table=True),
            selectors.lead_status_counts(leads),
        )


def test_per_status_counters_follow_inserts_updates_and_deletes(account, other_account):
    from leads.models import Lead
    from tests.leads.conftest import LeadFactory

    leads = [LeadFactory(account=account, status="new") for _ in range(4)]
    LeadFactory(account=other_account, status="new")
    kept, real = lead_counts(account)
    assert kept == real
    assert (kept["new"], kept["qualified"]) == (4, 0)
    with account_scope(account):
        # One statement moving several rows, one moving none, one row by the ORM.
        Lead.objects.filter(pk__in=[leads[0].pk, leads[1].pk]).update(status="qualified")
        Lead.objects.filter(pk=leads[2].pk).update(score=5)
        leads[3].status = "lost"
        leads[3].save(update_fields=["status"])
        Lead.objects.filter(pk=leads[0].pk).delete()
    kept, real = lead_counts(account)
    assert kept == real
    assert (kept["new"], kept["qualified"], kept["lost"]) == (1, 1, 1)
    kept, real = lead_counts(other_account)
    assert kept == real
    assert kept["new"] == 1
