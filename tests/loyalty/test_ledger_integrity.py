"""The ledger under pressure: append-only in the database itself, protected from
cascades, and exact under concurrent writers (real threads, real transactions)."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from crm_project.tenancy import account_scope, unscoped
from loyalty.models import LoyaltyCard, LoyaltyTransaction
from tests.factories import CustomerFactory, make_api_key
from tests.loyalty.conftest import (
    CREDIT,
    REDEEM,
    assert_chains,
    balance,
    give_points,
    issue_card,
    ledger,
    run_in_parallel,
)

# --- Append-only ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE loyalty_loyaltytransaction SET points = 1000",
        "UPDATE loyalty_loyaltytransaction SET reason = 'edited'",
        "DELETE FROM loyalty_loyaltytransaction",
    ],
)
def test_the_database_refuses_to_update_or_delete_ledger_rows(account, card, statement):
    give_points(account, card, "10.00")
    with (
        account_scope(account),
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert ledger(account) == [("adjust", Decimal("10.00"), Decimal("10.00"))]


@pytest.mark.django_db
def test_the_orm_cannot_update_or_delete_ledger_rows_either(account, card):
    give_points(account, card, "10.00")
    with account_scope(account):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            LoyaltyTransaction.objects.update(points=Decimal("99.00"))
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            LoyaltyTransaction.objects.get().delete()
    assert ledger(account) == [("adjust", Decimal("10.00"), Decimal("10.00"))]


@pytest.mark.django_db
def test_the_balance_cannot_go_negative_even_by_raw_sql(account, card):
    with (
        account_scope(account),
        pytest.raises(Exception, match="loyaltycard_balance_not_negative"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE loyalty_loyaltycard SET points_balance = -1")
    assert balance(account) == Decimal("0.00")


@pytest.mark.django_db
def test_a_customer_holding_a_card_is_not_deleted(api_client, account, card):
    response = api_client.delete(f"/api/v1/customers/{card.customer_id}/")
    assert response.status_code == 409
    with account_scope(account):
        assert LoyaltyCard.objects.filter(pk=card.pk).exists()


@pytest.mark.django_db
def test_only_the_maintenance_role_may_delete_ledger_rows_for_an_accounts_purge(
    account, card, other_account
):
    theirs = issue_card(other_account, "33")
    give_points(account, card, "5.00")
    give_points(other_account, theirs, "7.00")
    with unscoped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_loyaltytransaction WHERE account_id = %s", [account.pk])
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE loyalty_loyaltytransaction SET reason = 'x'")
    assert ledger(account) == []
    assert len(ledger(other_account)) == 1


# --- Races ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_redeems_of_a_balance_covering_ten_leave_exactly_ten(racing_account):
    account = racing_account
    card = issue_card(account, "33", CustomerFactory(account=account))
    give_points(account, card, "10.00")
    raw = make_api_key(account)[1]

    def redeem():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = client.post(REDEEM, {"card_number": "33", "points": "1.00"}, format="json")
        return response.status_code, response.json()

    answers = run_in_parallel([redeem] * 50)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 10 + [409] * 40, answers
    assert {body["errors"][0]["code"] for status, body in answers if status == 409} == {
        "insufficient_points"
    }
    assert balance(account) == Decimal("0.00")
    rows = ledger(account)
    assert [kind for kind, _, _ in rows] == ["adjust"] + ["redeem"] * 10
    assert [after for _, _, after in rows] == [Decimal(n) for n in range(10, -1, -1)]
    assert_chains(account)


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_credits_of_one_ticket_credit_it_once(racing_account):
    account = racing_account
    issue_card(account, "33", CustomerFactory(account=account))
    issue_card(account, "42", CustomerFactory(account=account))
    raw = make_api_key(account)[1]

    def credit(number):
        def call():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            body = {"tickets": [{"card_number": number, "amount": "100", "ticket_id": "T-1"}]}
            response = client.post(CREDIT, body, format="json")
            assert response.status_code == 200, response.content
            return response.json()[0]

        return call

    # Most on one card (they queue on its row), some on another (they meet only at the
    # ledger's unique key).
    answers = run_in_parallel([credit("33")] * 15 + [credit("42")] * 5)

    statuses = sorted(answer["status"] for answer in answers)
    assert statuses == ["credited"] + ["duplicate"] * 19, answers
    assert balance(account, "33") + balance(account, "42") == Decimal("50.00")
    assert len(ledger(account)) == 1
    assert_chains(account)


@pytest.mark.django_db(transaction=True)
def test_parallel_credits_and_redeems_on_one_card_keep_the_chain(racing_account):
    account = racing_account
    card = issue_card(account, "33", CustomerFactory(account=account))
    give_points(account, card, "5.00")
    raw = make_api_key(account)[1]

    def call(path, body):
        def run():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            return client.post(path, body, format="json").status_code

        return run

    calls = [call(CREDIT, {"tickets": [{"card_number": "33", "amount": "2"}]})] * 20
    calls += [call(REDEEM, {"card_number": "33", "points": "1"})] * 20
    answers = run_in_parallel(calls)

    assert set(answers) <= {200, 201, 409}
    redeemed = answers.count(201)
    assert balance(account) == Decimal("5.00") + Decimal(20) - Decimal(redeemed)
    assert_chains(account)
