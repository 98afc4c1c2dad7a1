"""A customer's interactions (nested CRUD) and timeline."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from crm_project.tenancy import account_scope
from customers import timeline
from customers.models import Interaction
from tests.customers.conftest import add_interaction, place_order
from tests.factories import AgentFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def interactions_url(customer, pk=None):
    base = f"/api/v1/customers/{customer.pk}/interactions/"
    return f"{base}{pk}/" if pk else base


def stored_interaction(account, pk):
    with account_scope(account):
        return Interaction.objects.get(pk=pk)


# --- Interactions ---------------------------------------------------------------------


def test_interaction_round_trips_every_field(api_client, account, customer, agent):
    payload = {
        "type": "call",
        "subject": "Product Discussion",
        "description": "Discussed new features and pricing",
        "date": "2024-01-15T10:00:00Z",
        "outcome": "positive",
        "next_action": "Send proposal",
        "next_action_date": "2024-01-20T10:00:00Z",
        "agent": str(agent.pk),
        "completed": False,
    }
    response = api_client.post(interactions_url(customer), payload, format="json")
    assert response.status_code == 201, response.json()
    body = api_client.get(interactions_url(customer, response.json()["id"])).json()
    for field, value in payload.items():
        assert body[field] == value, field
    assert body["customer"] == str(customer.pk)
    interaction = stored_interaction(account, body["id"])
    assert (interaction.customer_id, interaction.agent_id) == (customer.pk, agent.pk)


def test_interaction_needs_a_type_a_subject_and_a_date(api_client, customer):
    response = api_client.post(interactions_url(customer), {"type": "note"}, format="json")
    assert response.status_code == 400
    assert {e["attr"] for e in response.json()["errors"]} == {"type", "subject", "date"}


def test_interaction_dates_without_offset_are_in_the_accounts_timezone(
    api_client, account, customer
):
    account.timezone = "Europe/Paris"
    account.save()
    response = api_client.post(
        interactions_url(customer),
        {"type": "MEETING", "subject": "Visit", "date": "2024-07-01", "notes": "At the shop"},
        format="json",
    )
    interaction = stored_interaction(account, response.json()["id"])
    assert interaction.date == datetime(2024, 6, 30, 22, tzinfo=UTC)
    assert (interaction.type, interaction.description) == ("meeting", "At the shop")


def test_interactions_of_a_customer_are_listed_newest_first(api_client, account, customer):
    other = CustomerFactory(account=account)
    old = add_interaction(account, customer, date=timezone.now() - timedelta(days=2))
    new = add_interaction(account, customer, date=timezone.now())
    add_interaction(account, other)
    body = api_client.get(interactions_url(customer)).json()
    assert [row["id"] for row in body["results"]] == [str(new.pk), str(old.pk)]


def test_interaction_update_is_partial_and_delete_removes_it(api_client, account, customer):
    interaction = add_interaction(account, customer, subject="First call")
    response = api_client.put(
        interactions_url(customer, interaction.pk),
        {"outcome": "completed", "completed": True},
        format="json",
    )
    assert response.status_code == 200
    interaction = stored_interaction(account, interaction.pk)
    assert (interaction.subject, interaction.outcome, interaction.completed) == (
        "First call",
        "completed",
        True,
    )
    assert api_client.delete(interactions_url(customer, interaction.pk)).status_code == 204
    with account_scope(account):
        assert not Interaction.objects.filter(pk=interaction.pk).exists()


def test_the_customer_number_works_in_interaction_paths(api_client, account, customer):
    response = api_client.post(
        f"/api/v1/customers/{customer.number}/interactions/",
        {"type": "email", "subject": "Hi", "date": "2024-01-01"},
        format="json",
    )
    assert response.status_code == 201
    assert stored_interaction(account, response.json()["id"]).customer_id == customer.pk


def test_an_interaction_of_another_customer_is_404(api_client, account, customer):
    other = CustomerFactory(account=account)
    foreign = add_interaction(account, other, subject="Theirs")
    assert api_client.get(interactions_url(customer, foreign.pk)).status_code == 404
    response = api_client.patch(
        interactions_url(customer, foreign.pk), {"subject": "Mine"}, format="json"
    )
    assert response.status_code == 404
    assert api_client.delete(interactions_url(customer, foreign.pk)).status_code == 404
    assert stored_interaction(account, foreign.pk).subject == "Theirs"


def test_interactions_of_an_unknown_customer_are_404(api_client, account):
    response = api_client.post(
        "/api/v1/customers/4242/interactions/",
        {"type": "email", "subject": "Hi", "date": "2024-01-01"},
        format="json",
    )
    assert response.status_code == 404
    with account_scope(account):
        assert not Interaction.objects.exists()


def test_an_agent_of_another_account_is_a_400_on_agent(api_client, other_account, customer):
    foreign = AgentFactory(account=other_account)
    response = api_client.post(
        interactions_url(customer),
        {"type": "call", "subject": "x", "date": "2024-01-01", "agent": str(foreign.pk)},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "agent"


def test_deleting_a_customer_deletes_their_interactions(api_client, account, customer):
    interaction = add_interaction(account, customer)
    api_client.delete(f"/api/v1/customers/{customer.pk}/")
    with account_scope(account):
        assert not Interaction.objects.filter(pk=interaction.pk).exists()


# --- Timeline -------------------------------------------------------------------------


def test_timeline_merges_orders_and_interactions_newest_first(api_client, account, customer):
    now = timezone.now()
    order_old = place_order(account, customer, "10.00", ordered_at=now - timedelta(days=10))
    call = add_interaction(account, customer, subject="Follow-up", date=now - timedelta(days=5))
    order_new = place_order(
        account, customer, "25.50", ordered_at=now - timedelta(days=1), status="cancelled"
    )
    meeting = add_interaction(account, customer, type="meeting", subject="Visit", date=now)
    add_interaction(account, CustomerFactory(account=account), date=now)  # someone else's

    body = api_client.get(f"/api/v1/customers/{customer.number}/timeline/").json()
    entries = body["results"]
    assert [(e["kind"], e["id"]) for e in entries] == [
        ("interaction", str(meeting.pk)),
        ("order", str(order_new.pk)),
        ("interaction", str(call.pk)),
        ("order", str(order_old.pk)),
    ]
    assert entries[0]["summary"] == "Meeting: Visit"
    assert entries[1]["data"]["amount"] == "25.50"
    assert entries[1]["data"]["status"] == "cancelled"
    assert entries[1]["data"]["counted"] is False
    assert entries[1]["summary"].startswith(f"Order #{order_new.number}")
    assert entries[3]["at"].endswith("Z")


def test_timeline_limit(api_client, account, customer):
    now = timezone.now()
    for days in range(4):
        place_order(account, customer, "1.00", ordered_at=now - timedelta(days=days))
        add_interaction(account, customer, date=now - timedelta(days=days, hours=12))
    entries = api_client.get(f"/api/v1/customers/{customer.pk}/timeline/?limit=3").json()["results"]
    assert [e["kind"] for e in entries] == ["order", "interaction", "order"]
    assert len(api_client.get(f"/api/v1/customers/{customer.pk}/timeline/").json()["results"]) == 8
    assert api_client.get(f"/api/v1/customers/{customer.pk}/timeline/?limit=0").status_code == 400
    assert api_client.get(f"/api/v1/customers/{customer.pk}/timeline/?limit=x").status_code == 400


def test_timeline_sources_are_registered_by_kind(account, customer, monkeypatch):
    monkeypatch.setattr(timeline, "_sources", dict(timeline._sources))
    at = datetime(2030, 1, 1, tzinfo=UTC)

    @timeline.register("message")
    def messages(account, customer, limit):
        return [{"kind": "message", "at": at, "id": "m1", "summary": "Sent", "data": {}}]

    add_interaction(account, customer)
    with account_scope(account):
        entries = timeline.customer_timeline(account, customer, limit=10)
    assert [e["kind"] for e in entries] == ["message", "interaction"]
    assert {"feedback", "interaction", "message", "order", "points"} == set(
        timeline.registered_kinds()
    )
