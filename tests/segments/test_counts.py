"""`customers_count`: counted on save in the same transaction, and by the periodic task
(beat -> one task per account and chunk of active segments -> one UPDATE each)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountStatus
from crm_project.tenancy import ScopeError, account_scope
from segments import services, tasks
from segments.models import Segment
from tests.factories import CustomerFactory

SEGMENTS = "/api/v1/segments/"
LYON = {"field": "city", "operator": "=", "value": "Lyon"}


def create(client, **fields):
    response = client.post(SEGMENTS, fields, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def stored(account, segment_id):
    with account_scope(account):
        return Segment.objects.get(pk=segment_id)


@pytest.fixture
def lyon(account, api_client):
    """A segment of the two Lyon customers, counted at creation."""
    CustomerFactory(account=account, city="Lyon")
    CustomerFactory(account=account, city="lyon")
    CustomerFactory(account=account, city="Paris")
    return create(api_client, name="Lyon", rules=LYON)


def move_to_lyon(account, count=1):
    for _ in range(count):
        CustomerFactory(account=account, city="Lyon")


def count_task(account, **kwargs):
    """The per-account task as a worker runs it: for the account of its message header."""
    headers = {"account_id": str(account.pk)}
    return tasks.segment_counts_refresh.apply(kwargs=kwargs, headers=headers).get()


# --- On save -----------------------------------------------------------------------------


def test_a_new_segment_is_counted_at_once(account, lyon):
    row = stored(account, lyon["id"])

    assert lyon["customers_count"] == 2
    assert (row.customers_count, row.counted_at) == (2, row.counted_at)
    assert row.counted_at is not None


def test_saving_recounts(account, api_client, lyon):
    move_to_lyon(account)
    before = stored(account, lyon["id"]).counted_at

    response = api_client.patch(f"{SEGMENTS}{lyon['id']}/", {"name": "Lyonnais"}, format="json")

    assert response.json()["customers_count"] == 3
    row = stored(account, lyon["id"])
    assert row.customers_count == 3
    assert row.counted_at > before


def test_the_count_is_one_update_statement(account, lyon):
    segment = stored(account, lyon["id"])

    with account_scope(account), CaptureQueriesContext(connection) as queries:
        services.segment_refresh_count(segment=segment)

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert "count(*)" in updates[0]
    assert not any("FOR UPDATE" in q["sql"] or "FOR SHARE" in q["sql"] for q in queries)


def test_an_invalid_save_leaves_the_count(account, api_client, lyon):
    move_to_lyon(account)

    response = api_client.patch(
        f"{SEGMENTS}{lyon['id']}/",
        {"name": "X", "rules": {"logic": "NOR", "rules": []}},
        format="json",
    )

    assert response.status_code == 400
    assert stored(account, lyon["id"]).customers_count == 2


# --- The periodic task -----------------------------------------------------------------


def test_the_account_task_recounts_active_segments(account, lyon):
    move_to_lyon(account, 2)

    counted = count_task(account)

    assert counted == 1
    assert stored(account, lyon["id"]).customers_count == 4


def test_the_periodic_refresh_ignores_inactive_segments(account, api_client, lyon):
    sleeping = create(api_client, name="Lyon, paused", rules=LYON)
    api_client.post(f"{SEGMENTS}{sleeping['id']}/deactivate/")
    before = stored(account, sleeping["id"])
    move_to_lyon(account)

    counted = count_task(account)

    assert counted == 1
    after = stored(account, sleeping["id"])
    assert (after.customers_count, after.counted_at) == (before.customers_count, before.counted_at)
    assert stored(account, lyon["id"]).customers_count == 3


def test_a_segment_deactivated_after_being_enqueued_is_skipped(account, api_client, lyon):
    api_client.post(f"{SEGMENTS}{lyon['id']}/deactivate/")
    move_to_lyon(account)

    counted = count_task(account, segment_ids=[lyon["id"]])

    assert counted == 0
    assert stored(account, lyon["id"]).customers_count == 2


def test_beat_recounts_every_account_through_celery(
    account, other_account, api_client, other_api_client, lyon, django_capture_on_commit_callbacks
):
    """Celery in eager mode (tests/conftest.py): the beat task sends the per-account
    tasks, which run in their account's scope."""
    CustomerFactory(account=other_account, city="Lyon")
    theirs = create(other_api_client, name="Their Lyon", rules=LYON)
    move_to_lyon(account)
    CustomerFactory(account=other_account, city="Lyon")

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.segment_counts_refresh_all.delay()

    assert result.get() == 2  # one task per account
    assert stored(account, lyon["id"]).customers_count == 3
    assert stored(other_account, theirs["id"]).customers_count == 2


def test_beat_chunks_many_segments_of_one_account(
    account, api_client, lyon, monkeypatch, django_capture_on_commit_callbacks
):
    for number in range(4):
        create(api_client, name=f"Lyon {number}", rules=LYON)
    monkeypatch.setattr(tasks, "COUNT_CHUNK_SIZE", 2)
    sent = []
    original = tasks.segment_counts_refresh.apply_async

    def spy(args=None, kwargs=None, **options):
        sent.append((args, kwargs, options["headers"]))
        return original(args, kwargs, **options)

    monkeypatch.setattr(tasks.segment_counts_refresh, "apply_async", spy)
    move_to_lyon(account)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.segment_counts_refresh_all() == 3

    assert [len(kwargs["segment_ids"]) for _args, kwargs, _headers in sent] == [2, 2, 1]
    assert {headers["account_id"] for _args, _kwargs, headers in sent} == {str(account.pk)}
    with account_scope(account):
        assert set(Segment.objects.values_list("customers_count", flat=True)) == {3}


def test_beat_skips_inactive_accounts(account, api_client, lyon):
    move_to_lyon(account)
    account.status = AccountStatus.INACTIVE
    account.save(update_fields=["status"])

    assert tasks.segment_counts_refresh_all() == 0

    assert stored(account, lyon["id"]).customers_count == 2


def test_the_periodic_count_is_one_update_per_segment_and_locks_no_customer(
    account, api_client, lyon
):
    create(api_client, name="Lyon again", rules=LYON)

    with CaptureQueriesContext(connection) as queries:
        count_task(account)

    sqls = [q["sql"] for q in queries.captured_queries]
    updates = [sql for sql in sqls if sql.startswith("UPDATE")]
    assert len(updates) == 2
    assert all("count(*)" in sql for sql in updates)
    assert not any("FOR UPDATE" in sql or "FOR SHARE" in sql for sql in sqls)


def test_an_account_cannot_send_the_count_of_another_account(account, other_account, lyon):
    with account_scope(other_account), pytest.raises(ScopeError):
        tasks.segment_counts_refresh.delay_on_commit_for(account.pk)


def test_the_account_task_refuses_to_run_for_no_account(lyon):
    with pytest.raises(ScopeError):
        tasks.segment_counts_refresh.apply().get()
