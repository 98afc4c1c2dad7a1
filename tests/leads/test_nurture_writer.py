"""Beat's nurture writer (leads.nurture.nurture_write_due and its tasks): each due step
written to the ledger once per lead and run (twice called, or two writers at once),
the next step due after its delay, completed after the last; paused accounts and
inactive sequences wait; a step without an address is skipped and the sequence goes
on; the delivered message renders the lead's fields, attributes and the account."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.services import account_change_status
from campaigns.models import Message
from crm_project.tenancy import account_scope
from leads import nurture, services, tasks
from tests.leads.conftest import LeadFactory, stored
from tests.leads.nurturing import make_sequence, nurture_messages, set_fields

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)


def start(account, *, now=T0, **kwargs):
    with account_scope(account):
        return services.nurture_start(account=account, now=now, **kwargs)


def write(account, hours, **kwargs):
    return nurture.nurture_write_due(account=account, now=T0 + timedelta(hours=hours), **kwargs)


THREE_STEPS = [
    {"channel": "email", "delay_hours": 1, "subject": "One", "message": "First"},
    {"channel": "sms", "delay_hours": 2, "message": "Second"},
    {"channel": "email", "delay_hours": 0, "subject": "Three", "message": "Third"},
]


@pytest.mark.django_db
def test_steps_follow_their_delays_and_each_is_written_once(account):
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(
        account=account, first_name="Ann", email="ann@x.example", phone="+13331118888"
    )
    assert start(account).enrolled == 1

    assert write(account, 0.9).messages == 0
    assert write(account, 1) == nurture.Written(leads=1, messages=1, queued=1)
    assert write(account, 1).messages == 0  # called twice: nothing more
    state = stored(account, lead)
    assert (state.nurture_step, state.nurture_state) == (1, "active")
    assert state.nurture_next_at == T0 + timedelta(hours=3)

    assert write(account, 2.9).messages == 0
    assert write(account, 3).messages == 1  # step 2 (SMS)
    assert write(account, 3).messages == 1  # step 3: no delay after step 2
    state = stored(account, lead)
    assert (state.nurture_step, state.nurture_state, state.nurture_next_at) == (
        3,
        "completed",
        None,
    )
    assert write(account, 100).messages == 0

    messages = nurture_messages(account, lead)
    assert [(m.channel, m.address, m.body, m.status) for m in messages] == [
        ("email", "ann@x.example", "First", "queued"),
        ("sms", "+13331118888", "Second", "queued"),
        ("email", "ann@x.example", "Third", "queued"),
    ]
    assert [m.subject for m in messages] == ["One", "", "Three"]
    assert [m.source_key for m in messages] == [f"nurture:{lead.pk}:1:{n}" for n in (1, 2, 3)]


@pytest.mark.django_db
def test_the_ledger_key_keeps_a_replayed_step_from_being_written_twice(account):
    """A lead whose row says a step is still due (a crash between the ledger and the
    lead's row, were they not one transaction) gets no second message: the ledger's
    key `nurture:<lead>:<run>:<step>` is unique."""
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    assert write(account, 1).messages == 1
    set_fields(account, lead, nurture_step=0, nurture_next_at=T0)  # as if step 1 were due
    written = write(account, 1)
    assert (written.leads, written.messages) == (1, 0)
    assert len(nurture_messages(account, lead)) == 1
    assert stored(account, lead).nurture_step == 1


@pytest.mark.django_db
def test_a_reset_lead_gets_its_steps_again_in_a_new_run(account):
    make_sequence(account, steps=THREE_STEPS[:1], is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    write(account, 1)
    with account_scope(account):
        services.nurture_reset(account=account, lead=lead, now=T0 + timedelta(hours=5))
    assert write(account, 6).messages == 1
    keys = [m.source_key for m in nurture_messages(account, lead)]
    assert keys == [f"nurture:{lead.pk}:1:1", f"nurture:{lead.pk}:2:1"]


@pytest.mark.django_db
def test_an_sms_step_to_a_lead_without_phone_is_skipped_and_the_sequence_goes_on(account):
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    write(account, 1)
    assert write(account, 3) == nurture.Written(leads=1, messages=1, queued=0)
    write(account, 3)
    messages = nurture_messages(account, lead)
    assert [(m.channel, m.status, m.error) for m in messages] == [
        ("email", "queued", ""),
        ("sms", "skipped", "no_address"),
        ("email", "queued", ""),
    ]
    assert stored(account, lead).nurture_state == "completed"


@pytest.mark.django_db
def test_a_paused_account_writes_nothing_until_unpaused(account):
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    account_change_status(account=account, action="pause")
    assert write(account, 1) == nurture.Written(0, 0, 0)
    assert nurture_messages(account) == []
    assert stored(account, lead).nurture_step == 0
    account_change_status(account=account, action="unpause")
    assert write(account, 1).messages == 1


@pytest.mark.django_db
def test_an_inactive_sequences_leads_wait(account):
    sequence = make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    with account_scope(account):
        services.sequence_update(sequence=sequence, active=False)
    assert write(account, 1).messages == 0
    assert stored(account, lead).nurture_state == "active"
    with account_scope(account):
        services.sequence_update(sequence=sequence, active=True)
    assert write(account, 1).messages == 1


@pytest.mark.django_db
def test_stopped_and_unsubscribed_leads_get_nothing(account):
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    stopped = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    gone = LeadFactory(account=account, first_name="Bea", email="bea@x.example")
    start(account)
    with account_scope(account):
        services.nurture_stop(lead=stopped)
        services.lead_unsubscribe(account=account, lead=gone)
    assert write(account, 10).messages == 0


@pytest.mark.django_db
def test_a_lead_whose_remaining_steps_were_removed_is_completed(account):
    sequence = make_sequence(account, steps=THREE_STEPS, is_default=True)
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    write(account, 1)
    with account_scope(account):
        services.sequence_update(sequence=sequence, steps=THREE_STEPS[:1])
    assert write(account, 5).messages == 0
    assert stored(account, lead).nurture_state == "completed"


@pytest.mark.django_db
def test_another_accounts_due_leads_are_not_written(account, other_account):
    make_sequence(other_account, steps=THREE_STEPS, is_default=True)
    theirs = LeadFactory(account=other_account, first_name="Ann", email="ann@x.example")
    start(other_account)
    assert write(account, 5).messages == 0
    assert stored(other_account, theirs).nurture_step == 0


@pytest.mark.django_db
def test_batches_cover_every_due_lead(account):
    make_sequence(account, steps=THREE_STEPS[:1], is_default=True)
    for n in range(7):
        LeadFactory(account=account, first_name=f"L{n}", email=f"l{n}@x.example")
    start(account)
    assert write(account, 1, batch=3) == nurture.Written(leads=7, messages=7, queued=7)
    assert len(nurture_messages(account)) == 7


# --- Two writers at once, delivery ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_write_each_step_once(account):
    make_sequence(account, steps=THREE_STEPS[:2], is_default=True)
    leads = [
        LeadFactory(account=account, first_name=f"L{n}", email=f"l{n}@x.example") for n in range(40)
    ]
    start(account)
    barrier = threading.Barrier(2)
    results, failures = [], []

    def writer():
        try:
            barrier.wait()
            results.append(write(account, 1, batch=5))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert sum(r.messages for r in results) == 40
    messages = nurture_messages(account)
    assert len(messages) == 40
    assert len({m.source_key for m in messages}) == 40
    assert {m.lead_id for m in messages} == {lead.pk for lead in leads}
    assert all(stored(account, lead).nurture_step == 1 for lead in leads)


@pytest.mark.django_db(transaction=True)
def test_the_delivered_step_renders_the_leads_fields_attributes_and_account(account):
    make_sequence(
        account,
        steps=[
            {
                "channel": "email",
                "subject": "{{ account.name }} for {{ first_name }}",
                "message": "Hi {{ first_name }} {{ last_name }}, "
                "code {{ attributes.DISCOUNT_CODE }} from {{ account.name }}",
            }
        ],
        is_default=True,
    )
    lead = LeadFactory(
        account=account,
        first_name="Lea",
        last_name="Moreau",
        email="lea@x.example",
        attributes={"DISCOUNT_CODE": "TR44"},
    )
    # No delay: start sends the writer on commit, which sends the delivery (eager).
    assert start(account, now=timezone.now()).sent == 1
    (email,) = mail.outbox
    assert email.to == ["lea@x.example"]
    assert email.subject == "Acme for Lea"
    assert "Hi Lea Moreau, code TR44 from Acme" in email.body
    (message,) = nurture_messages(account, lead)
    assert message.status == "delivered"
    assert stored(account, lead).nurture_state == "completed"


@pytest.mark.django_db(transaction=True)
def test_beat_writes_the_due_steps_of_active_accounts_only(account, other_account):
    make_sequence(account, steps=THREE_STEPS[:1], is_default=True)
    make_sequence(other_account, steps=THREE_STEPS[:1], is_default=True)
    mine = LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    theirs = LeadFactory(account=other_account, first_name="Bo", email="bo@x.example")
    start(account)
    start(other_account)
    account_change_status(account=other_account, action="pause")

    assert tasks.nurture_write_due_all() == 1
    (message,) = nurture_messages(account, mine)
    assert message.status == "delivered"
    assert [e.to for e in mail.outbox] == [["ann@x.example"]]
    assert nurture_messages(other_account, theirs) == []
    assert tasks.nurture_write_due_all() == 0


@pytest.mark.django_db(transaction=True)
def test_the_writer_task_runs_for_the_account_it_was_sent_for(account):
    make_sequence(account, steps=THREE_STEPS[:1], is_default=True)
    LeadFactory(account=account, first_name="Ann", email="ann@x.example")
    start(account)
    tasks.nurture_write_due.delay_on_commit_for(account.pk)  # outside a transaction: at once
    with account_scope(account):
        assert Message.objects.filter(source="nurture").count() == 1


@pytest.mark.django_db
def test_a_due_place_whose_lead_is_no_longer_active_is_cleared_not_sent(account):
    """A place left due by a write that bypassed the services (its lead stopped by an
    UPDATE) is not sent, and no longer picked: the next batches move on."""
    make_sequence(account, steps=THREE_STEPS, is_default=True)
    stale, live = (LeadFactory(account=account, email=f"{n}@x.example") for n in "ab")
    assert start(account).enrolled == 2
    set_fields(account, stale, nurture_state="stopped")

    assert write(account, 1, batch=1) == nurture.Written(leads=2, messages=1, queued=1)
    assert stored(account, stale).nurture_next_at is None
    assert [m.lead_id for m in nurture_messages(account)] == [live.pk]
