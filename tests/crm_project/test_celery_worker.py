"""A real Celery worker process, against the test database and the real Redis: tasks
run in the account scope they were sent from."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.tasks import api_key_mark_used
from crm_project.tenancy import account_scope
from tests.factories import AccountFactory, make_api_key

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(start_celery_worker):
    return start_celery_worker()


def wait_until(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def last_used(account, key_id):
    with account_scope(account):
        return ApiKey.objects.get(pk=key_id).last_used_at


def test_a_task_sent_on_commit_runs_in_its_senders_account_scope(worker):
    account = AccountFactory()
    api_key, _raw = make_api_key(account)
    used_at = timezone.now() - timedelta(minutes=5)

    with account_scope(account):
        api_key_mark_used.delay_on_commit(str(api_key.pk), used_at.isoformat())
        # Not sent before the commit.
        assert transaction.get_connection().run_on_commit
    # Row-level security would hide the key from a worker outside the scope.
    assert wait_until(lambda: last_used(account, api_key.pk) is not None)
    assert last_used(account, api_key.pk) == used_at


def test_a_task_sent_without_an_account_cannot_touch_tenant_rows(worker):
    account = AccountFactory()
    api_key, _raw = make_api_key(account)
    other = AccountFactory()
    other_key, _ = make_api_key(other)
    api_key_mark_used.apply_async(args=[str(api_key.pk), timezone.now().isoformat()])
    # A second, scoped task on the same queue proves the worker has run the first.
    with account_scope(other):
        api_key_mark_used.delay_on_commit(str(other_key.pk), timezone.now().isoformat())
    assert wait_until(lambda: last_used(other, other_key.pk) is not None)
    assert last_used(account, api_key.pk) is None
