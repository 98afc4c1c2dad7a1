"""`GET /api/v1/account/statistics/`: the account's people, who engaged, and the
ledger's sent, delivered, click and unsubscribe counts, over all time or within
`from` / `to`."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services as campaign_services
from campaigns import tracking
from crm_project.datetimes import account_today
from crm_project.tenancy import account_scope
from leads import services as lead_services
from leads.models import Lead
from tests.campaigns.sent import send_campaign
from tests.factories import CustomerFactory, InteractionFactory
from tests.leads.conftest import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/account/statistics/"
ZEROS = {
    "lead_count": 0,
    "engaged_count": 0,
    "unsubscribe_count": 0,
    "delivered_count": 0,
    "sent_count": 0,
    "click_count": 0,
    "ctr": 0.0,
}


@pytest.fixture
def activity(account):
    """Three customers mailed (Ann clicked, Bob unsubscribed), and Dan, not mailed,
    with a call ten days ago."""
    ann, bob, cat = (
        CustomerFactory(account=account, email=f"{name}@example.com", city="Lyon")
        for name in ("ann", "bob", "cat")
    )
    dan = CustomerFactory(account=account, email="dan@example.com", city="Paris")
    InteractionFactory(account=account, customer=dan, date=timezone.now() - timedelta(days=10))
    _campaign, messages = send_campaign(account, city="Lyon", message="See https://x.example/a")
    public = APIClient()
    assert (
        public.get(f"/t/c/{tracking.make_token('click', messages[ann.pk].pk, 0)}").status_code
        == 302
    )
    assert (
        public.post(f"/u/{tracking.make_token('unsubscribe', messages[bob.pk].pk)}").status_code
        == 200
    )
    return ann, bob, cat, dan


def statistics(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_statistics_count_the_ledger_and_the_engaged(api_client, activity):
    body = statistics(api_client)

    assert body == {
        "lead_count": 0,
        "customer_count": 4,
        "engaged_count": 2,  # Ann's click, Dan's call
        "unsubscribe_count": 1,
        "delivered_count": 3,
        "sent_count": 3,
        "click_count": 1,
        "ctr": 0.3333,
        "from": None,
        "to": None,
    }


def test_a_window_counts_what_happened_in_it(api_client, account, activity):
    today = account_today(account)

    assert statistics(api_client, **{"from": today.isoformat()}) | {"from": None} == {
        "lead_count": 0,
        "customer_count": 4,
        "engaged_count": 1,  # Dan's call was ten days ago
        "unsubscribe_count": 1,
        "delivered_count": 3,
        "sent_count": 3,
        "click_count": 1,
        "ctr": 0.3333,
        "from": None,
        "to": None,
    }
    # A bare `to` includes its whole day.
    assert statistics(api_client, to=today.isoformat())["sent_count"] == 3
    before = statistics(api_client, to=(today - timedelta(days=1)).isoformat())
    assert before | {"to": None} == {
        **ZEROS,
        "customer_count": 0,
        "engaged_count": 1,
        "from": None,
        "to": None,
    }
    after = statistics(api_client, **{"from": (today + timedelta(days=1)).isoformat()})
    assert after | {"from": None} == {**ZEROS, "customer_count": 0, "from": None, "to": None}


def test_a_window_of_datetimes(api_client, activity):
    now = timezone.now()
    start = (now - timedelta(hours=1)).isoformat()
    end = (now + timedelta(hours=1)).isoformat()

    body = statistics(api_client, **{"from": start, "to": end})

    assert (body["sent_count"], body["click_count"], body["engaged_count"]) == (3, 1, 1)
    assert body["from"].endswith("Z")
    assert body["to"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_parameter(api_client, account, query, attr):
    response = api_client.get(URL, query)

    assert response.status_code == 400, response.content
    assert [error["attr"] for error in response.json()["errors"]] == [attr]


def test_another_account_sees_its_own_zeros(other_api_client, activity):
    assert statistics(other_api_client) == {
        **ZEROS,
        "customer_count": 0,
        "from": None,
        "to": None,
    }


def test_any_role_reads_the_statistics_and_anonymous_callers_none(
    read_only_client, anonymous_client, activity
):
    assert statistics(read_only_client)["sent_count"] == 3
    assert anonymous_client.get(URL).status_code == 401


# --- Leads ------------------------------------------------------------------------------


@pytest.fixture
def lead_activity(account):
    """Three leads: Lea mailed and clicked today, Max with a call ten days ago, Zoe
    created last year and quiet; and Kim, a customer who clicked nothing."""
    now = timezone.now()
    lea, max_, zoe = (
        LeadFactory(account=account, first_name=name, email=f"{name}@leads.example")
        for name in ("lea", "max", "zoe")
    )
    with account_scope(account):
        Lead.objects.filter(pk=zoe.pk).update(created_at=now - timedelta(days=400))
        lead_services.lead_interaction_create(
            account=account, lead=max_, type="call", date=now - timedelta(days=10)
        )
        message = campaign_services.message_enqueue(
            account=account,
            source="nurture",
            channel="email",
            recipient=campaign_services.Recipient(lead=lea),
            subject="Hello",
            body="See https://x.example/a",
            source_key=f"nurture:{lea.pk}:1",
        )
    public = APIClient()
    assert public.get(f"/t/c/{tracking.make_token('click', message.pk, 0)}").status_code == 302
    return lea, max_, zoe


def test_the_statistics_count_leads_and_engaged_leads(api_client, account, lead_activity):
    body = statistics(api_client)

    assert body["lead_count"] == 3
    assert body["engaged_count"] == 2  # Lea's click, Max's call
    assert (body["click_count"], body["delivered_count"]) == (1, 1)


def test_a_window_counts_the_leads_created_and_engaged_in_it(api_client, account, lead_activity):
    today = account_today(account)

    this_year = statistics(api_client, **{"from": (today - timedelta(days=30)).isoformat()})
    today_only = statistics(api_client, **{"from": today.isoformat(), "to": today.isoformat()})
    last_year = statistics(api_client, date_to=(today - timedelta(days=300)).isoformat())

    assert (this_year["lead_count"], this_year["engaged_count"]) == (2, 2)
    assert (today_only["lead_count"], today_only["engaged_count"]) == (2, 1)  # Lea's click
    assert (last_year["lead_count"], last_year["engaged_count"]) == (1, 0)


def test_a_lead_and_a_customer_both_engaged_count_twice_a_lead_twice_once(
    api_client, account, activity, lead_activity
):
    """Distinct people: Ann and Dan (customers), Lea and Max (leads); Max's second call
    does not count him again."""
    _lea, max_, _zoe = lead_activity
    with account_scope(account):
        lead_services.lead_interaction_create(
            account=account, lead=max_, type="email", date=timezone.now()
        )

    assert statistics(api_client)["engaged_count"] == 4


def test_another_account_sees_none_of_the_leads(other_api_client, lead_activity):
    body = statistics(other_api_client)

    assert (body["lead_count"], body["engaged_count"]) == (0, 0)


def test_unsubscribe_count_counts_leads_and_customers_unsubscribed_through_the_api(
    api_client, account
):
    from tests.leads.conftest import LeadFactory

    LeadFactory(account=account, email="gone@example.com")
    LeadFactory(account=account, email="stays@example.com")
    response = api_client.post(
        "/api/v1/leads/unsubscribe/", {"email": "GONE@example.com"}, format="json"
    )
    assert response.json() == {"unsubscribed": 1}
    figures = api_client.get("/api/v1/account/statistics/").json()
    assert figures["unsubscribe_count"] == 1
    before = api_client.get("/api/v1/account/statistics/", {"to": "2000-01-01"}).json()
    assert before["unsubscribe_count"] == 0
