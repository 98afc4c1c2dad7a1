"""A customer's timeline shows the messages of the ledger sent to them, merged with
the other apps' entries newest first."""

import pytest
from django.utils import timezone

from tests.campaigns.sent import send_campaign
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def timeline(client, customer):
    return client.get(f"/api/v1/customers/{customer.pk}/timeline/")


def test_the_timeline_shows_the_customers_messages(api_client, account):
    ann = CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    bob = CustomerFactory(account=account, email="bob@example.com", city="Lyon")
    CustomerFactory(account=account, email="", phone="+33612345678", city="Lyon")  # no email
    campaign, messages = send_campaign(account, city="Lyon", message="Hi", name="Spring sale")
    call = InteractionFactory(account=account, customer=ann, date=timezone.now())

    response = timeline(api_client, ann)

    assert response.status_code == 200, response.content
    entries = response.json()["results"]
    assert [(e["kind"], e["id"]) for e in entries] == [
        ("interaction", str(call.pk)),
        ("message", str(messages[ann.pk].pk)),
    ]
    message = entries[1]
    assert message["summary"] == "Email of campaign “Spring sale”: delivered"
    assert message["data"]["campaign"] == str(campaign.pk)
    assert message["data"]["campaign_name"] == "Spring sale"
    assert message["data"]["address"] == "ann@example.com"
    assert message["data"]["status"] == "delivered"
    assert message["data"]["sent_at"] is not None
    assert message["data"]["clicked_at"] is None
    bobs = [e["id"] for e in timeline(api_client, bob).json()["results"]]
    assert bobs == [str(messages[bob.pk].pk)]


def test_a_skipped_message_shows_why(api_client, account):
    out = CustomerFactory(account=account, email="o@example.com", email_opt_in=False, city="Lyon")
    send_campaign(account, city="Lyon", message="Hi", name="Spring sale")

    (entry,) = timeline(api_client, out).json()["results"]

    assert entry["summary"] == "Email of campaign “Spring sale”: skipped: opted_out"
    assert (entry["data"]["status"], entry["data"]["error"]) == ("skipped", "opted_out")


def test_another_account_cannot_read_the_timeline(other_api_client, api_client, account):
    ann = CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    send_campaign(account, city="Lyon", message="Hi")

    assert timeline(other_api_client, ann).status_code == 404
    assert len(timeline(api_client, ann).json()["results"]) == 1
