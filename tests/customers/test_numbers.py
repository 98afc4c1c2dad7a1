"""Per-account numbers: unique, in creation order, and handed out without a lock that
outlives the call (a transaction creating many records never holds back another create
of the account)."""

import threading

import pytest
from django.db import connection

from crm_project.tenancy import account_scope
from customers import services
from orders import services as order_services
from tests.factories import CustomerFactory


def _holding_a_transaction_open(account, write):
    """Run `write` in a transaction of another connection and keep it open until the
    returned `release` is called."""
    written, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run():
        try:
            with account_scope(account):
                write()
                written.set()
                release.wait(10)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            failure.append(exc)
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert written.wait(10)
    assert not failure, failure

    def finish():
        release.set()
        thread.join(10)
        assert not failure, failure

    return finish


def _without_waiting(account, write):
    """`write` in the account's scope, failing at once if it has to wait for a lock."""
    with account_scope(account):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
        return write()


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_that_created_a_customer_holds_back_no_other_create(account):
    with account_scope(account):
        first = services.customer_create(account=account, email="first@example.com")
    finish = _holding_a_transaction_open(
        account, lambda: services.customer_create(account=account, email="slow@example.com")
    )
    try:
        other = _without_waiting(
            account, lambda: services.customer_create(account=account, email="quick@example.com")
        )
    finally:
        finish()
    with account_scope(account):
        numbers = sorted(
            services.Customer.objects.filter(account=account).values_list("number", flat=True)
        )
    assert numbers == [first.number, first.number + 1, other.number]
    assert other.number == first.number + 2


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_that_created_an_order_holds_back_no_other_order(account):
    ann, bob = CustomerFactory(account=account), CustomerFactory(account=account)
    with account_scope(account):
        first = order_services.order_create(account=account, customer=ann, amount=1)
    finish = _holding_a_transaction_open(
        account, lambda: order_services.order_create(account=account, customer=ann, amount=2)
    )
    try:
        other = _without_waiting(
            account, lambda: order_services.order_create(account=account, customer=bob, amount=3)
        )
    finally:
        finish()
    assert other.number == first.number + 2


@pytest.mark.django_db
def test_a_block_of_numbers_is_consecutive_and_follows_single_ones(account):
    from accounts.services import sequence_reserve

    with account_scope(account):
        single = sequence_reserve(account_id=account.pk, name="order")
        block = sequence_reserve(account_id=account.pk, name="order", count=100)
        after = sequence_reserve(account_id=account.pk, name="order")
    assert (single, block, after) == (1, 2, 102)


@pytest.mark.django_db
def test_an_accounts_sequence_starts_after_its_former_counter(account):
    """Accounts numbered before sequences existed go on from their counter row."""
    from accounts.models import AccountSequence
    from accounts.services import sequence_reserve

    with account_scope(account):
        AccountSequence.objects.create(account=account, name="customer", last_value=41)
        assert sequence_reserve(account_id=account.pk, name="customer") == 42
        assert sequence_reserve(account_id=account.pk, name="order") == 1
