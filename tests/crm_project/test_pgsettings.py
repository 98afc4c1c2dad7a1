"""crm_project.pgsettings.local_settings: the block runs with the settings, the
statements after it with the earlier values, inside a transaction or not."""

import pytest
from django.db import connection, transaction

from crm_project.pgsettings import local_settings


def setting(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_inside_a_transaction_the_block_has_them_and_the_rest_the_earlier_values():
    before = setting("work_mem"), setting("enable_seqscan")
    with local_settings(work_mem="64MB", enable_seqscan="off"):
        assert (setting("work_mem"), setting("enable_seqscan")) == ("64MB", "off")
    assert (setting("work_mem"), setting("enable_seqscan")) == before


@pytest.mark.django_db
def test_an_error_in_the_block_gives_the_earlier_values_back():
    before = setting("work_mem")
    with (
        transaction.atomic(),
        pytest.raises(ZeroDivisionError),
        local_settings(work_mem="64MB"),
    ):
        1 / 0  # noqa: B018
    assert setting("work_mem") == before


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_block_gets_its_own():
    before = setting("work_mem")
    assert not connection.in_atomic_block
    with local_settings(work_mem="64MB"):
        assert setting("work_mem") == "64MB"
    assert setting("work_mem") == before
