import time
import uuid

import pytest
from django.db import connection

from crm_project.ids import uuid7
from tests.factories import CustomerFactory


def unix_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_uuid7_is_a_version_7_rfc_9562_uuid_carrying_the_time():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000

    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert before <= unix_ms(value) <= after


def test_uuid7s_made_in_different_milliseconds_sort_in_time_order():
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()

    assert first < second
    assert len({uuid7() for _ in range(10_000)}) == 10_000


@pytest.mark.django_db
def test_the_sql_twin_makes_the_same_kind_of_id():
    python_made = uuid7()
    time.sleep(0.002)
    with connection.cursor() as cursor:
        cursor.execute("SELECT crm_uuid7() FROM generate_series(1, 1000)")
        sql_made = [row[0] for row in cursor.fetchall()]

    assert {(v.version, v.variant) for v in sql_made} == {(7, uuid.RFC_4122)}
    assert len(set(sql_made)) == 1000
    assert min(sql_made) > python_made
    assert abs(unix_ms(sql_made[0]) - time.time_ns() // 1_000_000) < 60_000


@pytest.mark.django_db
def test_records_get_time_ordered_ids(account):
    first = CustomerFactory(account=account)
    time.sleep(0.002)
    second = CustomerFactory(account=account)

    assert first.pk.version == 7
    assert first.pk < second.pk
