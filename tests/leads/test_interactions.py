"""A lead's interactions (`/leads/{id}/interactions/`, the lead addressed by UUID or
`ext:<external_id>`): types, `notes`, `date` default and timezone, `agent` default and
tenancy, the lead's `last_contact` maintained; follow-ups cover leads' interactions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Message
from crm_project.tenancy import account_scope
from customers.models import FollowUp, Interaction
from tests.factories import AgentFactory
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db


def url(ref, pk=None):
    base = f"/api/v1/leads/{ref}/interactions/"
    return f"{base}{pk}/" if pk else base


def stored_interaction(account, pk):
    with account_scope(account):
        return Interaction.objects.get(pk=pk)


def test_an_interaction_round_trips_and_sets_last_contact(api_client, account, lead, agent):
    payload = {
        "type": "call",
        "subject": "First call",
        "notes": "Interested in the pro plan",
        "date": "2024-01-15T10:00:00Z",
        "outcome": "positive",
        "next_action": "Send proposal",
        "next_action_date": "2024-01-20T10:00:00Z",
        "agent": str(agent.pk),
        "completed": False,
    }
    response = api_client.post(url(lead.pk), payload, format="json")
    assert response.status_code == 201, response.json()
    body = api_client.get(url(lead.pk, response.json()["id"])).json()
    for field, value in payload.items():
        assert body[field] == value, field
    assert body["lead"] == str(lead.pk)
    interaction = stored_interaction(account, body["id"])
    assert (interaction.lead_id, interaction.customer_id) == (lead.pk, None)
    assert interaction.description == "Interested in the pro plan"
    assert stored(account, lead).last_contact == datetime(2024, 1, 15, 10, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["call", "email", "meeting", "note", "sms", "other", "SMS"])
def test_every_lead_interaction_type_is_accepted(api_client, lead, kind):
    response = api_client.post(url("ext:EXT-1"), {"type": kind}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["type"] == kind.lower()


@pytest.mark.parametrize("kind", ["support", "purchase", "visit", ""])
def test_other_types_are_a_400_on_type(api_client, account, lead, kind):
    response = api_client.post(url(lead.pk), {"type": kind}, format="json")
    assert response.status_code == 400
    assert [e["attr"] for e in response.json()["errors"]] == ["type"]
    with account_scope(account):
        assert not Interaction.objects.exists()


def test_date_defaults_to_now_and_agent_to_the_leads_assigned_agent(api_client, account, agent):
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example", assigned_to=agent)
    before = timezone.now()
    response = api_client.post(url(lead.pk), {"type": "note", "notes": "hi"}, format="json")
    assert response.status_code == 201, response.json()
    interaction = stored_interaction(account, response.json()["id"])
    assert before <= interaction.date <= timezone.now()
    assert interaction.agent_id == agent.pk
    assert response.json()["agent"] == str(agent.pk)
    assert stored(account, lead).last_contact == interaction.date


def test_an_explicit_null_agent_is_kept(api_client, account, agent):
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example", assigned_to=agent)
    response = api_client.post(url(lead.pk), {"type": "note", "agent": None}, format="json")
    assert response.status_code == 201, response.json()
    assert stored_interaction(account, response.json()["id"]).agent_id is None


def test_a_bare_date_is_midnight_in_the_accounts_timezone(api_client, account, lead):
    account.timezone = "America/New_York"
    account.save()
    response = api_client.post(
        url(lead.pk),
        {"type": "meeting", "date": "2024-07-01", "next_action_date": "2024-07-03"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    interaction = stored_interaction(account, response.json()["id"])
    assert interaction.date == datetime(2024, 7, 1, 4, tzinfo=UTC)
    assert interaction.next_action_date == datetime(2024, 7, 3, 4, tzinfo=UTC)


def test_another_accounts_agent_is_a_400_on_agent(api_client, account, lead, other_agent):
    response = api_client.post(
        url(lead.pk), {"type": "call", "agent": str(other_agent.pk)}, format="json"
    )
    assert response.status_code == 400
    assert [e["attr"] for e in response.json()["errors"]] == ["agent"]


def test_a_bad_date_is_a_400_on_date(api_client, lead):
    response = api_client.post(url(lead.pk), {"type": "call", "date": "yesterday"}, format="json")
    assert response.status_code == 400
    assert [e["attr"] for e in response.json()["errors"]] == ["date"]


def test_last_contact_follows_updates_and_deletes(api_client, account, lead):
    ids = []
    for day in (1, 5):
        response = api_client.post(
            url(lead.pk), {"type": "call", "date": f"2024-03-0{day}T09:00:00Z"}, format="json"
        )
        ids.append(response.json()["id"])
    assert stored(account, lead).last_contact == datetime(2024, 3, 5, 9, tzinfo=UTC)

    response = api_client.patch(
        url(lead.pk, ids[0]), {"date": "2024-03-09T09:00:00Z"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert stored(account, lead).last_contact == datetime(2024, 3, 9, 9, tzinfo=UTC)

    response = api_client.put(url(lead.pk, ids[0]), {"notes": "edited"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["notes"] == "edited"
    assert response.json()["type"] == "call"

    assert api_client.delete(url(lead.pk, ids[0])).status_code == 204
    assert stored(account, lead).last_contact == datetime(2024, 3, 5, 9, tzinfo=UTC)
    assert api_client.delete(url(lead.pk, ids[1])).status_code == 204
    assert stored(account, lead).last_contact is None


def test_the_list_holds_the_leads_interactions_newest_first(api_client, account, lead):
    other = LeadFactory(account=account, first_name="Bo", email="bo@x.example")
    for day in (1, 3, 2):
        api_client.post(url(lead.pk), {"type": "call", "date": f"2024-03-0{day}"}, format="json")
    api_client.post(url(other.pk), {"type": "call"}, format="json")
    body = api_client.get(url("ext:EXT-1")).json()
    assert [r["date"][:10] for r in body["results"]] == ["2024-03-03", "2024-03-02", "2024-03-01"]
    assert {r["lead"] for r in body["results"]} == {str(lead.pk)}


def test_another_leads_interaction_is_a_404(api_client, account, lead):
    other = LeadFactory(account=account, first_name="Bo", email="bo@x.example")
    pk = api_client.post(url(other.pk), {"type": "call"}, format="json").json()["id"]
    assert api_client.get(url(lead.pk, pk)).status_code == 404
    assert api_client.patch(url(lead.pk, pk), {"notes": "x"}, format="json").status_code == 404
    assert api_client.delete(url(lead.pk, pk)).status_code == 404


@pytest.mark.parametrize("ref", ["nope", "ext:missing", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_lead_is_a_404(api_client, ref):
    assert api_client.get(url(ref)).status_code == 404
    assert api_client.post(url(ref), {"type": "call"}, format="json").status_code == 404


def test_another_account_sees_and_changes_nothing(api_client, other_api_client, account, lead):
    pk = api_client.post(url(lead.pk), {"type": "call", "notes": "secret"}, format="json").json()[
        "id"
    ]
    for ref in (lead.pk, "ext:EXT-1"):
        assert other_api_client.get(url(ref)).status_code == 404
        assert other_api_client.post(url(ref), {"type": "call"}, format="json").status_code == 404
        assert other_api_client.get(url(ref, pk)).status_code == 404
        patched = other_api_client.patch(url(ref, pk), {"notes": "x"}, format="json")
        assert patched.status_code == 404
        assert other_api_client.delete(url(ref, pk)).status_code == 404
    assert stored_interaction(account, pk).description == "secret"


def test_read_only_keys_may_read_but_not_write(read_only_client, lead):
    assert read_only_client.get(url(lead.pk)).status_code == 200
    assert read_only_client.post(url(lead.pk), {"type": "call"}, format="json").status_code == 403


# --- Follow-ups of leads' interactions ----------------------------------------------------


def test_follow_ups_cover_leads_interactions_with_the_leads_agent(api_client, account, agent):
    lead = LeadFactory(account=account, first_name="Ann", email="ann@x.example", assigned_to=agent)
    due = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api_client.post(
        url(lead.pk),
        {"type": "call", "agent": None, "next_action": "Call back", "next_action_date": due},
        format="json",
    )
    assert response.status_code == 201, response.json()

    answer = api_client.post("/api/v1/followups/process/")
    assert answer.json() == {"processed": 1, "created": 1, "notified": 1}
    with account_scope(account):
        followup = FollowUp.objects.get()
        message = Message.objects.get(source="followup")
    assert followup.agent_id == agent.pk
    assert message.agent_id == agent.pk
    listed = api_client.get("/api/v1/followups/").json()["results"]
    assert [(r["lead"], r["customer"]) for r in listed] == [(str(lead.pk), None)]
    assert api_client.post("/api/v1/followups/process/").json()["created"] == 0


def test_another_accounts_follow_ups_of_leads_are_not_seen(api_client, other_api_client, lead):
    due = (timezone.now() - timedelta(hours=1)).isoformat()
    api_client.post(url(lead.pk), {"type": "call", "next_action_date": due}, format="json")
    assert other_api_client.post("/api/v1/followups/process/").json()["created"] == 0
    assert api_client.post("/api/v1/followups/process/").json()["created"] == 1
    assert other_api_client.get("/api/v1/followups/").json()["results"] == []


def test_an_agent_of_the_account_without_email_is_fine(api_client, account, lead):
    agent = AgentFactory(account=account, email="", phone="+33612345678")
    response = api_client.post(url(lead.pk), {"type": "sms", "agent": str(agent.pk)}, format="json")
    assert response.status_code == 201, response.json()


def test_deleting_a_lead_deletes_its_interactions(api_client, account, lead):
    pk = api_client.post(url(lead.pk), {"type": "call"}, format="json").json()["id"]
    assert api_client.delete(f"/api/v1/leads/{lead.pk}/").status_code == 204
    with account_scope(account):
        assert not Interaction.objects.filter(pk=pk).exists()


def test_the_list_filters_type_in_any_case_and_refuses_a_bad_completed(api_client, lead):
    for kind in ("call", "note"):
        api_client.post(url(lead.pk), {"type": kind, "notes": kind}, format="json")
    listed = api_client.get(url(lead.pk), {"type": "CALL"}).json()["results"]
    assert [row["type"] for row in listed] == ["call"]
    assert api_client.get(url(lead.pk), {"completed": "false"}).json()["count"] == 2
    response = api_client.get(url(lead.pk), {"completed": "junk"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "completed"
