"""Follow-ups: every due, uncompleted interaction gets exactly one (even with two runs at
once), for the interaction's agent, else the customer's, else nobody; the agent is
notified once through the outbound ledger (email, else SMS, else a recorded reason);
beat fans the work out per account; the API lists, processes and completes them."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from campaigns.models import Message
from crm_project.tenancy import account_scope
from customers import followups as followup_services
from customers import tasks
from customers.models import FollowUp, Interaction
from tests.factories import AccountFactory, AgentFactory, CustomerFactory, InteractionFactory

PROCESS = "/api/v1/followups/process/"
LIST = "/api/v1/followups/"


def due_interaction(account, *, hours_ago=1, customer=None, **fields):
    fields.setdefault("next_action", "Call back about the quote")
    return InteractionFactory(
        account=account,
        customer=customer or CustomerFactory(account=account),
        next_action_date=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )


def process(account):
    with account_scope(account):
        return followup_services.followups_process(account=account)


def followups(account):
    """Every follow-up of the account as stored, by interaction id."""
    with account_scope(account):
        return {f.interaction_id: f for f in FollowUp.objects.select_related("message")}


def interaction_completed(account, interaction):
    with account_scope(account):
        return Interaction.objects.get(pk=interaction.pk).completed


def followup_messages(account):
    with account_scope(account):
        return list(Message.objects.filter(source="followup").order_by("created_at"))


# --- Which interactions ------------------------------------------------------------------


@pytest.mark.django_db
def test_each_due_interaction_gets_one_follow_up_and_the_others_none(account):
    agent = AgentFactory(account=account)
    due = [due_interaction(account, agent=agent), due_interaction(account, hours_ago=48)]
    later = due_interaction(account, hours_ago=-2, agent=agent)
    done = due_interaction(account, agent=agent, completed=True)
    undated = InteractionFactory(account=account, customer=CustomerFactory(account=account))

    counts = process(account)

    stored = followups(account)
    assert set(stored) == {due[0].pk, due[1].pk}
    assert later.pk not in stored
    assert done.pk not in stored
    assert undated.pk not in stored
    assert stored[due[0].pk].due_at == due[0].next_action_date
    assert stored[due[0].pk].status == "open"
    assert counts == {"processed": 2, "created": 2, "notified": 1}


@pytest.mark.django_db
def test_a_second_run_creates_and_notifies_nothing(account):
    due_interaction(account, agent=AgentFactory(account=account))
    assert process(account) == {"processed": 1, "created": 1, "notified": 1}

    assert process(account) == {"processed": 0, "created": 0, "notified": 0}
    assert len(followups(account)) == 1
    assert len(followup_messages(account)) == 1


@pytest.mark.django_db
def test_an_interaction_due_later_is_followed_up_once_its_time_has_passed(account):
    interaction = due_interaction(account, hours_ago=-1)
    assert process(account)["created"] == 0
    with account_scope(account):
        counts = followup_services.followups_process(
            account=account, now=timezone.now() + timedelta(hours=2)
        )
    assert counts["created"] == 1
    assert set(followups(account)) == {interaction.pk}


# --- Whose follow-up -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_interactions_agent_comes_first_then_the_customers_then_nobody(account):
    own, assigned = AgentFactory(account=account), AgentFactory(account=account)
    customer = CustomerFactory(account=account, assigned_to=assigned)
    with_agent = due_interaction(account, customer=customer, agent=own)
    without_agent = due_interaction(account, customer=customer)
    nobody = due_interaction(account)

    process(account)

    stored = followups(account)
    assert stored[with_agent.pk].agent_id == own.pk
    assert stored[without_agent.pk].agent_id == assigned.pk
    assert stored[nobody.pk].agent_id is None
    assert (stored[nobody.pk].notified, stored[nobody.pk].notify_error) == (False, "no_agent")
    assert stored[nobody.pk].message is None


# --- Notifications ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_agent_is_notified_by_email_through_the_ledger(account):
    agent = AgentFactory(account=account, email="sam@agents.example", phone="+33612345678")
    customer = CustomerFactory(account=account, first_name="Alice", last_name="Johnson")
    interaction = due_interaction(account, customer=customer, agent=agent)

    process(account)

    followup = followups(account)[interaction.pk]
    (message,) = followup_messages(account)
    assert followup.message == message
    assert followup.notified
    assert followup.notified_at is not None
    assert followup.notify_error == ""
    assert (message.channel, message.address, message.agent_id) == (
        "email",
        "sam@agents.example",
        agent.pk,
    )
    assert message.source_key == f"followup:{followup.pk}"
    assert message.status == "queued"  # sent once this transaction commits
    # The ledger keeps the templates; the follow-up's values travel as data.
    assert message.subject == "Follow-up due: {{ contact }}"
    assert message.context["contact"] == "Alice Johnson"
    assert message.context["action"] == "Call back about the quote"


@pytest.mark.django_db
def test_an_agent_with_only_a_phone_gets_an_sms(account):
    agent = AgentFactory(account=account, email="", phone="+33612345678")
    interaction = due_interaction(account, agent=agent)

    assert process(account)["notified"] == 1

    (message,) = followup_messages(account)
    assert (message.channel, message.address) == ("sms", "+33612345678")
    assert followups(account)[interaction.pk].message == message


@pytest.mark.django_db
def test_an_agent_with_neither_email_nor_phone_is_not_notified_and_the_reason_kept(account):
    agent = AgentFactory(account=account, email="", phone="")
    interaction = due_interaction(account, agent=agent)

    assert process(account) == {"processed": 1, "created": 1, "notified": 0}

    followup = followups(account)[interaction.pk]
    assert (followup.notified, followup.notified_at, followup.notify_error) == (
        False,
        None,
        "no_address",
    )
    assert followup_messages(account) == []


@pytest.mark.django_db(transaction=True)
def test_the_notification_is_delivered_by_email(account):
    agent = AgentFactory(account=account, first_name="Sam", email="sam@agents.example")
    customer = CustomerFactory(account=account, first_name="Alice", last_name="Johnson")
    due_interaction(account, customer=customer, agent=agent)

    process(account)
    process(account)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["sam@agents.example"]
    assert email.subject == "Follow-up due: Alice Johnson"
    assert email.body.startswith("Hello Sam, a follow-up with Alice Johnson is due 20")
    assert email.body.endswith(": Call back about the quote")
    (message,) = followup_messages(account)
    assert message.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_and_notify_each_follow_up_once(account):
    agent = AgentFactory(account=account)
    interactions = [due_interaction(account, agent=agent) for _ in range(30)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(process(account))
        except Exception as exc:  # noqa: BLE001  (asserted below: a thread's failure fails the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == 2
    assert sum(r["created"] for r in results) == 30
    assert sum(r["notified"] for r in results) == 30
    assert set(followups(account)) == {i.pk for i in interactions}
    messages = followup_messages(account)
    assert len(messages) == 30
    assert len({m.source_key for m in messages}) == 30
    assert len(mail.outbox) == 30


# --- Completing -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_completing_a_follow_up_completes_its_interaction(account):
    interaction = due_interaction(account)
    process(account)
    followup = followups(account)[interaction.pk]

    with account_scope(account):
        completed = followup_services.followup_complete(followup=followup)
        again = followup_services.followup_complete(followup=completed)

    stored = followups(account)[interaction.pk]
    assert (stored.status, stored.completed_at) == ("completed", completed.completed_at)
    assert again.completed_at == completed.completed_at
    assert interaction_completed(account, interaction)


# --- Beat -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_beat_sends_one_task_per_account_with_due_interactions(
    account, other_account, django_capture_on_commit_callbacks
):
    CustomerFactory(account=other_account)  # a customer, no due interaction
    third = AccountFactory(slug="initech", name="Initech")
    due_interaction(account)
    due_interaction(account)
    due_interaction(third)
    due_interaction(other_account, hours_ago=-5)  # not due yet

    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert tasks.followups_process_all() == 2

    assert len(sent) == 2
    assert len(followups(account)) == 2
    assert len(followups(third)) == 1
    assert followups(other_account) == {}
    with django_capture_on_commit_callbacks(execute=True) as sent_again:
        assert tasks.followups_process_all() == 0
    assert sent_again == []


# --- API --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_process_over_the_api_answers_its_counts_for_the_callers_account_only(
    api_client, account, other_account
):
    due_interaction(account, agent=AgentFactory(account=account))
    theirs = due_interaction(other_account)

    response = api_client.post(PROCESS)

    assert response.status_code == 200, response.content
    assert response.json() == {"processed": 1, "created": 1, "notified": 1}
    assert len(followups(account)) == 1
    assert theirs.pk not in followups(other_account)
    assert api_client.post(PROCESS).json() == {"processed": 0, "created": 0, "notified": 0}


@pytest.mark.django_db
def test_the_list_holds_the_open_follow_ups_with_their_fields(api_client, account):
    agent = AgentFactory(account=account)
    first = due_interaction(account, agent=agent, hours_ago=5)
    second = due_interaction(account, hours_ago=1)
    done = due_interaction(account, hours_ago=3)
    process(account)
    with account_scope(account):
        followup_services.followup_complete(followup=followups(account)[done.pk])

    body = api_client.get(LIST).json()

    assert body["count"] == 2
    assert [row["interaction"] for row in body["results"]] == [str(first.pk), str(second.pk)]
    row = body["results"][0]
    followup = followups(account)[first.pk]
    assert row == {
        "id": str(followup.pk),
        "interaction": str(first.pk),
        "customer": str(first.customer_id),
        "lead": None,
        "agent": str(agent.pk),
        "next_action": "Call back about the quote",
        "due_at": row["due_at"],
        "status": "open",
        "completed_at": None,
        "notified": True,
        "notified_at": row["notified_at"],
        "notify_error": "",
        "message": str(followup.message_id),
        "created_at": row["created_at"],
    }
    assert row["notified_at"] is not None
    assert body["results"][1]["notify_error"] == "no_agent"


@pytest.mark.django_db
def test_the_list_filters_by_agent_and_due_before(api_client, account):
    sam, kim = AgentFactory(account=account), AgentFactory(account=account)
    old = due_interaction(account, agent=sam, hours_ago=72)
    recent = due_interaction(account, agent=sam, hours_ago=1)
    due_interaction(account, agent=kim, hours_ago=1)
    process(account)

    by_agent = api_client.get(LIST, {"agent": str(sam.pk)}).json()
    assert {row["interaction"] for row in by_agent["results"]} == {str(old.pk), str(recent.pk)}
    before = (timezone.now() - timedelta(hours=24)).isoformat()
    early = api_client.get(LIST, {"due_before": before}).json()
    assert [row["interaction"] for row in early["results"]] == [str(old.pk)]
    assert api_client.get(LIST, {"due_before": "not a date"}).status_code == 400
    assert api_client.get(LIST, {"agent": "nope"}).status_code == 400


@pytest.mark.django_db
def test_complete_over_the_api_answers_the_follow_up_and_completes_the_interaction(
    api_client, account
):
    interaction = due_interaction(account)
    process(account)
    followup = followups(account)[interaction.pk]

    response = api_client.post(f"{LIST}{followup.pk}/complete/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    assert response.json()["completed_at"] is not None
    assert followups(account)[interaction.pk].status == "completed"
    assert interaction_completed(account, interaction)
    assert api_client.get(LIST).json()["count"] == 0
    assert api_client.get(f"{LIST}{followup.pk}/").json()["status"] == "completed"


@pytest.mark.django_db
def test_read_only_keys_may_list_but_not_process_or_complete(read_only_client, account):
    interaction = due_interaction(account)
    process(account)
    followup = followups(account)[interaction.pk]

    assert read_only_client.get(LIST).json()["count"] == 1
    assert read_only_client.get(f"{LIST}{followup.pk}/").status_code == 200
    assert read_only_client.post(PROCESS).status_code == 403
    assert read_only_client.post(f"{LIST}{followup.pk}/complete/").status_code == 403
    assert followups(account)[interaction.pk].status == "open"
    assert not interaction_completed(account, interaction)


@pytest.mark.django_db
def test_a_member_may_process_and_complete(member_client, account):
    interaction = due_interaction(account)
    assert member_client.post(PROCESS).json()["created"] == 1
    followup = followups(account)[interaction.pk]
    assert member_client.post(f"{LIST}{followup.pk}/complete/").status_code == 200
    assert interaction_completed(account, interaction)


@pytest.mark.django_db
def test_another_account_sees_none_of_them_and_cannot_complete_one(
    other_api_client, account, other_account
):
    interaction = due_interaction(account)
    process(account)
    followup = followups(account)[interaction.pk]

    assert other_api_client.get(LIST).json()["count"] == 0
    assert other_api_client.get(f"{LIST}{followup.pk}/").status_code == 404
    assert other_api_client.post(f"{LIST}{followup.pk}/complete/").status_code == 404
    assert other_api_client.post(PROCESS).json() == {"processed": 0, "created": 0, "notified": 0}
    assert followups(account)[interaction.pk].status == "open"
    assert not interaction_completed(account, interaction)


@pytest.mark.django_db
def test_a_missing_or_malformed_id_is_a_404(api_client):
    assert api_client.post(f"{LIST}00000000-0000-0000-0000-000000000000/complete/").status_code == (
        404
    )
    assert api_client.post(f"{LIST}not-an-id/complete/").status_code == 404
    assert api_client.get(f"{LIST}not-an-id/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_template_syntax_in_a_customers_name_or_the_next_action_is_sent_as_written(account):
    agent = AgentFactory(account=account, first_name="Sam", email="sam@agents.example")
    customer = CustomerFactory(account=account, first_name="{{ first_name }}", last_name="{%x%}")
    due_interaction(account, customer=customer, agent=agent, next_action="Ask {# about #} }}")

    process(account)

    (email,) = mail.outbox
    assert email.subject == "Follow-up due: {{ first_name }} {%x%}"
    assert email.body.startswith("Hello Sam, a follow-up with {{ first_name }} {%x%} is due")
    assert email.body.endswith(": Ask {# about #} }}")
