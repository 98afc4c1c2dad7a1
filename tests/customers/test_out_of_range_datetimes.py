"""A datetime that falls before year 1 or after 9999 once its offset or the account's
timezone is applied is a 400 naming the field: stored, PostgreSQL would keep it (years
BC, past 9999) and every later read of the row would fail."""

import pytest

from crm_project.tenancy import account_scope
from customers.models import Customer, Interaction
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"


@pytest.fixture
def auckland(account):
    account.timezone = "Pacific/Auckland"  # UTC+12/13: its year 1 starts in year 0 UTC
    account.save()
    return account


@pytest.fixture
def new_york(account):
    account.timezone = "America/New_York"  # its last evening of 9999 is year 10000 UTC
    account.save()
    return account


def error_attrs(response):
    return {(e["attr"], e["code"]) for e in response.json()["errors"]}


@pytest.mark.parametrize(
    "value",
    ["0001-01-01", "0001-01-01T05:00:00", "01-01-0001 05:00:00"],
)
def test_a_customer_datetime_before_year_1_in_utc_is_a_400(api_client, auckland, value):
    response = api_client.post(
        URL, {"email": "a@example.com", "unsubscribed_at": value}, format="json"
    )
    assert response.status_code == 400
    assert error_attrs(response) == {("unsubscribed_at", "out_of_range")}
    with account_scope(auckland):
        assert not Customer.objects.exists()
    assert api_client.get(URL).status_code == 200


def test_an_offset_that_leaves_year_9999_is_a_400(api_client, account):
    response = api_client.post(
        URL,
        {"email": "a@example.com", "unsubscribed_at": "9999-12-31T23:00:00-05:00"},
        format="json",
    )
    assert error_attrs(response) == {("unsubscribed_at", "out_of_range")}


def test_the_last_day_of_9999_in_the_accounts_timezone_is_kept(api_client, new_york):
    response = api_client.post(
        URL, {"email": "a@example.com", "unsubscribed_at": "9999-12-31"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["unsubscribed_at"] == "9999-12-31T05:00:00Z"
    listed = api_client.get(URL).json()["results"]
    assert [row["unsubscribed_at"] for row in listed] == ["9999-12-31T05:00:00Z"]


def test_an_interaction_after_9999_in_utc_is_a_400(api_client, new_york):
    customer = CustomerFactory(account=new_york)
    url = f"{URL}{customer.pk}/interactions/"
    response = api_client.post(
        url,
        {"type": "call", "subject": "Later", "date": "9999-12-31T23:30:00"},
        format="json",
    )
    assert error_attrs(response) == {("date", "out_of_range")}
    response = api_client.post(
        url,
        {
            "type": "call",
            "subject": "Later",
            "date": "2024-01-01",
            "next_action_date": "0001-01-01T00:10:00+00:20",
        },
        format="json",
    )
    assert error_attrs(response) == {("next_action_date", "out_of_range")}
    with account_scope(new_york):
        assert not Interaction.objects.exists()
    assert api_client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("query", "status"),
    [
        # Far in the past but a real instant (schemathesis' 500): a plain filter.
        ("created_after=0272-03-01T02:36:39.0-23:49", 200),
        ("created_before=0272-03-01T02:36:39.0%2B23:49", 200),
        ("created_after=0001-01-01T00:00:00%2B01:00", 400),
        ("created_before=9999-12-31T23:59:59-01:00", 400),
    ],
)
def test_created_filters_never_answer_500(api_client, account, query, status):
    CustomerFactory(account=account)
    response = api_client.get(f"{URL}?{query}")
    assert response.status_code == status, response.json()
    if status == 400:
        name = query.split("=", 1)[0]
        assert error_attrs(response) == {(name, "out_of_range")}


def test_created_after_the_first_instant_finds_every_customer(api_client, auckland):
    CustomerFactory(account=auckland)
    response = api_client.get(f"{URL}?created_after=0001-01-01T12:00:00Z")
    assert response.json()["count"] == 1
