"""Set-based writes under concurrency (real threads, real transactions): credit calls
over the same cards in opposite orders never deadlock and every ticket is credited
once; concurrent allow-credit requests for one customer never overrun the credit limit;
concurrent bulk writes of the same orders earn each once."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from crm_project.tenancy import account_scope
from customers.models import Customer
from loyalty.models import CreditRequest, LoyaltyTransaction
from tests.factories import CustomerFactory, make_api_key
from tests.loyalty.conftest import CREDIT, assert_chains, balance, issue_card, run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

NUMBERS = [str(n) for n in range(100, 120)]


def client_for(account):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(account)[1]}")
    return client


def test_credit_calls_over_the_same_cards_in_opposite_orders_credit_every_ticket_once(
    racing_account,
):
    account = racing_account
    for number in NUMBERS:
        issue_card(account, number, CustomerFactory(account=account))
    clients = [client_for(account) for _ in range(8)]

    def call(index):
        numbers = NUMBERS if index % 2 else list(reversed(NUMBERS))
        tickets = [
            # Calls 0-3 and 4-7 send the same ticket ids: each is credited once.
            {"card_number": number, "amount": "2.00", "ticket_id": f"T{index % 4}-{number}"}
            for number in numbers
        ]

        def run():
            response = clients[index].post(CREDIT, {"tickets": tickets}, format="json")
            return response.status_code, response.json()

        return run

    answers = run_in_parallel([call(index) for index in range(8)])
    assert [status for status, _ in answers] == [200] * 8
    outcomes = [row["status"] for _, body in answers for row in body]
    assert outcomes.count("credited") == 4 * len(NUMBERS)
    assert outcomes.count("duplicate") == 4 * len(NUMBERS)
    for number in NUMBERS:
        assert balance(account, number) == Decimal("4.00")  # 4 ticket ids x 2.00 x 0.50
    assert_chains(account)


def test_concurrent_allow_credit_requests_never_overrun_the_limit(racing_account):
    account = racing_account
    customer = CustomerFactory(account=account, credit_limit=Decimal("100.00"))
    clients = [client_for(account) for _ in range(12)]

    def ask(index):
        def run():
            response = clients[index].post(
                "/api/v1/loyalty/allow-credit/",
                {"customer": str(customer.pk), "amount": "30.00"},
                format="json",
            )
            return response.status_code, response.json()

        return run

    answers = run_in_parallel([ask(index) for index in range(12)])
    assert [status for status, _ in answers] == [200] * 12
    allowed = [body for _, body in answers if body["allowed"]]
    refused = [body for _, body in answers if not body["allowed"]]
    assert len(allowed) == 3  # 3 x 30 fits in 100, a fourth does not
    assert {tuple(body["reasons"]) for body in refused} <= {
        ("over_credit_limit",),
        ("too_many_refusals", "over_credit_limit"),
    }
    with account_scope(account):
        assert CreditRequest.objects.filter(customer=customer).count() == 3
        assert Customer.objects.get(pk=customer.pk).refusals_count == 9


def test_concurrent_bulk_writes_of_the_same_orders_earn_each_once(racing_account):
    account = racing_account
    customer = CustomerFactory(account=account)
    issue_card(account, "33", customer)
    clients = [client_for(account) for _ in range(6)]
    orders = [
        {
            "external_id": f"O-{n}",
            "customer": str(customer.pk),
            "amount": "10.00",
            "status": "completed",
        }
        for n in range(10)
    ]

    def write(index):
        def run():
            response = clients[index].post(
                "/api/v1/orders/bulk/", {"orders": orders}, format="json"
            )
            return response.status_code, response.json()

        return run

    answers = run_in_parallel([write(index) for index in range(6)])
    assert all(status == 200 for status, _ in answers), answers
    with account_scope(account):
        earned = LoyaltyTransaction.objects.filter(kind="earn")
        assert earned.count() == 10
        assert len({row.order for row in earned}) == 10
    assert balance(account) == Decimal("50.00")
    assert_chains(account)
