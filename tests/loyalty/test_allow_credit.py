"""POST /api/v1/loyalty/allow-credit/ (seed 001's allow_credit) and the credit requests it
schedules (SPEC: Loyalty): each refusal reason alone and together, refusals counted on
the customer, scheduled requests holding the credit limit, "today" in the account's
timezone, bad input and tenancy."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm_project.tenancy import account_scope
from customers.models import Customer
from loyalty.models import CreditRequest
from tests.factories import CustomerFactory, make_api_key
from tests.loyalty.conftest import run_in_parallel

pytestmark = pytest.mark.django_db

ALLOW = "/api/v1/loyalty/allow-credit/"
REQUESTS = "/api/v1/loyalty/credit-requests/"
CUSTOMERS = "/api/v1/customers/"

# 2026-03-10 11:30 UTC: already 2026-03-11 in Pacific/Auckland (UTC+13).
NOON_UTC = datetime(2026, 3, 10, 11, 30, tzinfo=UTC)
TODAY = "2026-03-10"


@pytest.fixture
def clock(monkeypatch):
    """Pins "now" (time_machine is not installed here: django.utils.timezone.now, which
    the account's "today" reads, is pinned instead). Call it with an aware datetime."""

    def travel(instant):
        monkeypatch.setattr(timezone, "now", lambda: instant)

    travel(NOON_UTC)
    return travel


@pytest.fixture(autouse=True)
def _pinned_clock(clock):
    return clock


def allow(client, body, expected=200):
    response = client.post(ALLOW, body, format="json")
    assert response.status_code == expected, response.content
    return response.json()


def refusals(client, customer):
    response = client.get(f"{CUSTOMERS}{customer.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["refusals_count"]


def stored_refusals(account, customer):
    with account_scope(account):
        return Customer.objects.get(pk=customer.pk).refusals_count


def requests_of(account, customer=None):
    with account_scope(account):
        rows = CreditRequest.objects.order_by("created_at", "id")
        if customer is not None:
            rows = rows.filter(customer=customer)
        return [(row.amount, row.date, row.status) for row in rows]


@pytest.fixture
def ann(account):
    return CustomerFactory(account=account, external_id="EXT-ANN", credit_limit=Decimal("1000"))


def test_allowed_schedules_a_request_and_counts_no_refusal(api_client, account, ann):
    answer = allow(api_client, {"customer": str(ann.pk), "amount": "250.50", "date": TODAY})
    assert answer["allowed"] is True
    assert answer["reasons"] == []
    assert answer["customer"] == str(ann.pk)
    request = answer["credit_request"]
    assert (request["amount"], request["date"], request["status"]) == (
        "250.50",
        TODAY,
        "scheduled",
    )
    assert request["customer"] == str(ann.pk)
    assert requests_of(account, ann) == [(Decimal("250.50"), date(2026, 3, 10), "scheduled")]
    assert refusals(api_client, ann) == 0
    listed = api_client.get(REQUESTS).json()
    assert [row["id"] for row in listed["results"]] == [request["id"]]
    assert listed["results"][0]["amount"] == "250.50"
    one = api_client.get(f"{REQUESTS}{request['id']}/")
    assert one.status_code == 200
    assert one.json()["status"] == "scheduled"


@pytest.mark.parametrize("ref", ["pk", "number", "external_id"])
def test_seed_001_keys_name_the_customer_by_id_number_or_external_id(api_client, account, ann, ref):
    value = {"pk": str(ann.pk), "number": ann.number, "external_id": "EXT-ANN"}[ref]
    answer = allow(api_client, {"idClient": value, "Montant": 36, "Date": "2026-12-06"})
    assert (answer["allowed"], answer["customer"]) == (True, str(ann.pk))
    assert requests_of(account, ann) == [(Decimal("36.00"), date(2026, 12, 6), "scheduled")]


@pytest.mark.parametrize(
    ("setup", "body", "reason"),
    [
        ({"status": "inactive"}, {"amount": 10}, "inactive_customer"),
        ({"status": "blocked"}, {"amount": 10}, "inactive_customer"),
        ({}, {"amount": 0}, "non_positive_amount"),
        ({}, {"amount": "-5"}, "non_positive_amount"),
        ({}, {"amount": 10, "date": "2026-03-09"}, "past_date"),
        ({"refusals": 3}, {"amount": 10}, "too_many_refusals"),
        ({"credit_limit": Decimal("100")}, {"amount": "100.01"}, "over_credit_limit"),
        ({"credit_limit": Decimal("0")}, {"amount": "0.01"}, "over_credit_limit"),
    ],
)
def test_each_reason_alone_refuses_and_counts_one_refusal(api_client, account, setup, body, reason):
    status = setup.get("status", "active")
    limit = setup.get("credit_limit")
    customer = CustomerFactory(account=account, status=status, credit_limit=limit)
    if "refusals" in setup:
        with account_scope(account):
            Customer.objects.filter(pk=customer.pk).update(refusals_count=setup["refusals"])
    before = refusals(api_client, customer)
    answer = allow(api_client, {"customer": str(customer.pk), "date": TODAY, **body})
    assert answer["allowed"] is False
    assert answer["reasons"] == [reason]
    assert answer["credit_request"] is None
    assert refusals(api_client, customer) == before + 1
    assert requests_of(account) == []


def test_a_refusal_below_the_maximum_is_still_allowed(api_client, account):
    customer = CustomerFactory(account=account)
    with account_scope(account):
        Customer.objects.filter(pk=customer.pk).update(refusals_count=2)
    answer = allow(api_client, {"customer": str(customer.pk), "amount": 5, "date": TODAY})
    assert answer["allowed"] is True
    assert refusals(api_client, customer) == 2


def test_the_accounts_max_refusals_is_the_threshold(api_client, account):
    account.max_credit_refusals = 1
    account.save()
    customer = CustomerFactory(account=account)
    first = allow(api_client, {"customer": str(customer.pk), "amount": 0, "date": TODAY})
    assert first["reasons"] == ["non_positive_amount"]
    second = allow(api_client, {"customer": str(customer.pk), "amount": 5, "date": TODAY})
    assert second["reasons"] == ["too_many_refusals"]
    assert refusals(api_client, customer) == 2


def test_a_null_credit_limit_has_no_ceiling(api_client, account):
    customer = CustomerFactory(account=account, credit_limit=None)
    answer = allow(
        api_client, {"customer": str(customer.pk), "amount": "999999999.99", "date": TODAY}
    )
    assert answer["allowed"] is True
    assert refusals(api_client, customer) == 0


def test_several_reasons_are_listed_together_and_count_one_refusal(api_client, account):
    customer = CustomerFactory(account=account, status="inactive", credit_limit=Decimal("5"))
    with account_scope(account):
        Customer.objects.filter(pk=customer.pk).update(refusals_count=3)
    answer = allow(api_client, {"customer": str(customer.pk), "amount": 10, "date": "2025-01-01"})
    assert answer["allowed"] is False
    assert sorted(answer["reasons"]) == [
        "inactive_customer",
        "over_credit_limit",
        "past_date",
        "too_many_refusals",
    ]
    assert refusals(api_client, customer) == 4
    zero = allow(api_client, {"customer": str(customer.pk), "amount": 0, "date": "2025-01-01"})
    assert sorted(zero["reasons"]) == [
        "inactive_customer",
        "non_positive_amount",
        "past_date",
        "too_many_refusals",
    ]
    assert refusals(api_client, customer) == 5
    assert requests_of(account) == []


def test_scheduled_requests_hold_the_limit_until_cancelled(api_client, account):
    customer = CustomerFactory(account=account, credit_limit=Decimal("100"))
    ref = str(customer.pk)
    first = allow(api_client, {"customer": ref, "amount": 60, "date": TODAY})
    assert first["allowed"] is True
    second = allow(api_client, {"customer": ref, "amount": 50, "date": TODAY})
    assert (second["allowed"], second["reasons"]) == (False, ["over_credit_limit"])
    assert refusals(api_client, customer) == 1
    # What is left of the limit exactly fits.
    exact = allow(api_client, {"customer": ref, "amount": 40, "date": TODAY})
    assert exact["allowed"] is True
    cancelled = api_client.patch(
        f"{REQUESTS}{first['credit_request']['id']}/", {"status": "cancelled"}, format="json"
    )
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    third = allow(api_client, {"customer": ref, "amount": 50, "date": TODAY})
    assert third["allowed"] is True
    assert sorted(requests_of(account, customer)) == sorted(
        [
            (Decimal("60.00"), date(2026, 3, 10), "cancelled"),
            (Decimal("40.00"), date(2026, 3, 10), "scheduled"),
            (Decimal("50.00"), date(2026, 3, 10), "scheduled"),
        ]
    )
    assert refusals(api_client, customer) == 1


def test_a_granted_request_frees_the_limit_and_settles_once(api_client, account):
    customer = CustomerFactory(account=account, credit_limit=Decimal("100"))
    ref = str(customer.pk)
    first = allow(api_client, {"customer": ref, "amount": 60, "date": TODAY})
    url = f"{REQUESTS}{first['credit_request']['id']}/"
    assert allow(api_client, {"customer": ref, "amount": 50, "date": TODAY})["allowed"] is False
    granted = api_client.patch(url, {"status": "granted"}, format="json")
    assert granted.status_code == 200, granted.content
    assert allow(api_client, {"customer": ref, "amount": 50, "date": TODAY})["allowed"] is True

    again = api_client.patch(url, {"status": "cancelled"}, format="json")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "invalid_status"
    twice = api_client.patch(url, {"status": "granted"}, format="json")
    assert twice.status_code == 409
    assert requests_of(account, customer)[0] == (Decimal("60.00"), date(2026, 3, 10), "granted")


@pytest.mark.parametrize("body", [{}, {"status": "scheduled"}, {"amount": "1"}])
def test_settling_needs_granted_or_cancelled(api_client, account, body):
    customer = CustomerFactory(account=account)
    made = allow(api_client, {"customer": str(customer.pk), "amount": 5, "date": TODAY})
    response = api_client.patch(f"{REQUESTS}{made['credit_request']['id']}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "status"
    assert requests_of(account, customer) == [(Decimal("5.00"), date(2026, 3, 10), "scheduled")]


def test_today_is_the_accounts_today_ahead_of_utc(api_client, account):
    account.timezone = "Pacific/Auckland"
    account.save()
    customer = CustomerFactory(account=account)
    ref = str(customer.pk)
    ahead = allow(api_client, {"customer": ref, "amount": 5, "date": "2026-03-11"})
    assert ahead["allowed"] is True
    past = allow(api_client, {"customer": ref, "amount": 5, "date": "2026-03-10"})
    assert (past["allowed"], past["reasons"]) == (False, ["past_date"])
    assert refusals(api_client, customer) == 1


def test_today_is_the_accounts_today_behind_utc(api_client, account, clock):
    account.timezone = "America/Los_Angeles"
    account.save()
    customer = CustomerFactory(account=account)
    clock(datetime(2026, 3, 10, 5, 0, tzinfo=UTC))  # still 2026-03-09 there
    answer = allow(api_client, {"customer": str(customer.pk), "amount": 5, "date": "2026-03-09"})
    assert answer["allowed"] is True
    missing = allow(api_client, {"customer": str(customer.pk), "amount": 5})
    assert missing["credit_request"]["date"] == "2026-03-09"
    assert refusals(api_client, customer) == 0


def test_a_missing_date_is_today_in_the_accounts_timezone(api_client, account):
    account.timezone = "Pacific/Auckland"
    account.save()
    customer = CustomerFactory(account=account)
    answer = allow(api_client, {"customer": str(customer.pk), "amount": 5})
    assert answer["allowed"] is True
    assert answer["credit_request"]["date"] == "2026-03-11"
    assert requests_of(account, customer) == [(Decimal("5.00"), date(2026, 3, 11), "scheduled")]


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"amount": "abc", "date": TODAY}, "amount"),
        ({"amount": 5, "date": "2026-13-01"}, "date"),
        ({"date": TODAY}, "amount"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_counts_nothing(
    api_client, account, ann, body, attr
):
    response = api_client.post(ALLOW, {"customer": str(ann.pk), **body}, format="json")
    assert response.status_code == 400, response.content
    assert attr in [error["attr"] for error in response.json()["errors"]]
    assert refusals(api_client, ann) == 0
    assert requests_of(account) == []


@pytest.mark.parametrize("ref", ["00000000-0000-0000-0000-000000000000", "999999", "nobody"])
def test_an_unknown_customer_is_a_400_and_counts_no_refusal(api_client, account, ann, ref):
    response = api_client.post(ALLOW, {"customer": ref, "amount": 0}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "customer"
    with account_scope(account):
        assert list(Customer.objects.values_list("refusals_count", flat=True)) == [0]
    assert requests_of(account) == []


def test_another_accounts_customer_is_a_400_and_untouched(
    api_client, other_api_client, account, other_account
):
    theirs = CustomerFactory(account=other_account, external_id="THEIRS")
    for ref in (str(theirs.pk), "THEIRS"):
        response = api_client.post(ALLOW, {"customer": ref, "amount": 0}, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["errors"][0]["attr"] == "customer"
    assert stored_refusals(other_account, theirs) == 0
    assert refusals(other_api_client, theirs) == 0
    assert requests_of(other_account) == []


def test_another_account_sees_no_credit_requests(api_client, other_api_client, account, ann):
    made = allow(api_client, {"customer": str(ann.pk), "amount": 5, "date": TODAY})
    request_id = made["credit_request"]["id"]
    assert other_api_client.get(REQUESTS).json()["results"] == []
    assert other_api_client.get(f"{REQUESTS}{request_id}/").status_code == 404
    response = other_api_client.patch(
        f"{REQUESTS}{request_id}/", {"status": "cancelled"}, format="json"
    )
    assert response.status_code == 404
    assert requests_of(account, ann) == [(Decimal("5.00"), date(2026, 3, 10), "scheduled")]


def test_read_only_keys_cannot_ask_or_settle(read_only_client, api_client, account, ann):
    body = {"customer": str(ann.pk), "amount": 0, "date": TODAY}
    assert read_only_client.post(ALLOW, body, format="json").status_code == 403
    assert refusals(api_client, ann) == 0
    made = allow(api_client, {"customer": str(ann.pk), "amount": 5, "date": TODAY})
    url = f"{REQUESTS}{made['credit_request']['id']}/"
    assert read_only_client.get(url).status_code == 200
    assert read_only_client.patch(url, {"status": "granted"}, format="json").status_code == 403
    assert requests_of(account, ann) == [(Decimal("5.00"), date(2026, 3, 10), "scheduled")]


def test_a_replayed_idempotency_key_decides_once(api_client, account, ann):
    body = {"customer": str(ann.pk), "amount": 5, "date": TODAY}
    headers = {"HTTP_IDEMPOTENCY_KEY": "allow-1"}
    first = api_client.post(ALLOW, body, format="json", **headers)
    again = api_client.post(ALLOW, body, format="json", **headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert len(requests_of(account, ann)) == 1
    refused = {"customer": str(ann.pk), "amount": 0, "date": TODAY}
    for _ in range(2):
        api_client.post(ALLOW, refused, format="json", HTTP_IDEMPOTENCY_KEY="allow-2")
    assert refusals(api_client, ann) == 1
    other = api_client.post(ALLOW, refused, format="json", **headers)
    assert other.status_code == 409  # the same key with another body
    assert refusals(api_client, ann) == 1


def test_credit_requests_filter_by_customer_and_status(api_client, account, ann):
    bob = CustomerFactory(account=account)
    first = allow(api_client, {"customer": str(ann.pk), "amount": 5, "date": TODAY})
    second = allow(api_client, {"customer": str(bob.pk), "amount": 6, "date": TODAY})
    api_client.patch(
        f"{REQUESTS}{first['credit_request']['id']}/", {"status": "granted"}, format="json"
    )

    def ids(**params):
        response = api_client.get(REQUESTS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(customer=str(ann.pk)) == [first["credit_request"]["id"]]
    assert ids(customer=str(bob.number)) == [second["credit_request"]["id"]]
    assert ids(status="scheduled") == [second["credit_request"]["id"]]
    assert ids(status="GRANTED") == [first["credit_request"]["id"]]
    assert api_client.get(REQUESTS, {"status": "nope"}).status_code == 400


def test_a_settlement_status_is_read_leniently_and_requests_are_neither_posted_nor_deleted(
    api_client, account, ann
):
    made = allow(api_client, {"customer": str(ann.pk), "amount": 5, "date": TODAY})
    url = f"{REQUESTS}{made['credit_request']['id']}/"
    response = api_client.put(url, {"status": "CANCELLED"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert api_client.delete(url).status_code == 405
    assert api_client.post(REQUESTS, {"customer": str(ann.pk), "amount": 5}).status_code == 405
    assert requests_of(account, ann) == [(Decimal("5.00"), date(2026, 3, 10), "cancelled")]


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_never_exceed_the_limit(racing_account):
    account = racing_account
    customer = CustomerFactory(account=account, credit_limit=Decimal("100"))
    raw = make_api_key(account)[1]

    def ask():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        body = {"customer": str(customer.pk), "amount": 20, "date": TODAY}
        response = client.post(ALLOW, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()["allowed"]

    answers = run_in_parallel([ask] * 10)

    assert sorted(answers) == [False] * 5 + [True] * 5
    assert stored_refusals(account, customer) == 5
    scheduled = requests_of(account, customer)
    assert [row[0] for row in scheduled] == [Decimal("20.00")] * 5
