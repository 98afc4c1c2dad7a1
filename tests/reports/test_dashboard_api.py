"""`GET /api/v1/analytics/dashboard/`: the leads and customers reports, and the
campaigns', feedback's and loyalty's summaries, over one window."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from crm_project.tenancy import account_scope
from customers.selectors import health_thresholds_compute
from loyalty import services as loyalty_services
from reports import selectors
from tests.factories import CustomerFactory, OrderFactory
from tests.leads.conftest import LeadFactory
from tests.loyalty.conftest import give_points, issue_card

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/dashboard/"
KEYS = {"leads", "customers", "campaigns", "feedback", "loyalty"}
NO_CAMPAIGNS = {
    "sent": 0,
    "delivered": 0,
    "opened": 0,
    "clicked": 0,
    "ctr": 0.0,
    "by_campaign": [],
}
NO_LOYALTY = {
    "cards": 0,
    "active_cards": 0,
    "points_earned": "0.00",
    "points_redeemed": "0.00",
    "points_outstanding": "0.00",
    "credit_requests": 0,
}


def dashboard(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def read(client, url, **query):
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    return response.json()


def campaign_with(account, name, statuses, *, created_at=None):
    """A campaign whose messages are in these statuses (opened and clicked ones with
    their times, as tracking leaves them)."""
    now = timezone.now()
    with account_scope(account):
        campaign = Campaign.objects.create(account=account, name=name, message="Hi")
        if created_at is not None:
            Campaign.objects.filter(pk=campaign.pk).update(created_at=created_at)
        for n, status in enumerate(statuses):
            Message.objects.create(
                account=account,
                source="campaign",
                campaign=campaign,
                channel="email",
                address=f"{name}-{n}@example.com",
                status=status,
                opened_at=now if status in ("opened", "clicked") else None,
                clicked_at=now if status == "clicked" else None,
            )
    return campaign


@pytest.fixture
def business(account, api_client):
    """A lead; a buyer with 80.00 and a cancelled 500.00; two campaigns of this month
    (Spring: every status once; Summer: one delivered) and one of last year (one
    delivered), and a feedback message outside any campaign; two cards (one blocked),
    50.00 points credited, 20.00 redeemed, 5.00 adjusted, one scheduled credit request."""
    now = timezone.now()
    LeadFactory(account=account, score=40)
    buyer = CustomerFactory(account=account, first_name="Bea", last_name="Buyer")
    OrderFactory(account=account, customer=buyer, amount=Decimal("80.00"))
    OrderFactory(account=account, customer=buyer, amount=Decimal("500.00"), status="cancelled")

    campaign_with(account, "old", ["delivered"], created_at=now - timedelta(days=400))
    spring = campaign_with(
        account,
        "spring",
        ["queued", "sending", "sent", "delivered", "bounced", "failed", "skipped", "opened",
         "clicked"],
    )  # fmt: skip
    summer = campaign_with(account, "summer", ["delivered"])
    with account_scope(account):
        Message.objects.create(
            account=account, source="feedback", channel="email", address="f@example.com",
            status="clicked", opened_at=now, clicked_at=now,
        )  # fmt: skip

    holder = CustomerFactory(account=account, first_name="Cal", last_name="Card")
    card = issue_card(account, "C1", holder)
    blocked = issue_card(account, "C2", holder)
    with account_scope(account):
        loyalty_services.card_block(card=blocked)
    credited = api_client.post(
        "/api/v1/loyalty/credit/",
        {"tickets": [{"card_number": "C1", "amount": "100.00", "ticket_id": "t-1"}]},
        format="json",
    )
    assert credited.json()[0]["credited"] == "50.00", credited.content
    redeemed = api_client.post(
        "/api/v1/loyalty/redeem/", {"card_number": "C1", "points": "20.00"}, format="json"
    )
    assert redeemed.status_code == 201, redeemed.content
    give_points(account, card, "5.00")
    today = timezone.now().astimezone(ZoneInfo(account.timezone)).date().isoformat()
    allowed = api_client.post(
        "/api/v1/loyalty/allow-credit/",
        {"customer": str(holder.pk), "amount": "10.00", "date": today},
        format="json",
    )
    assert allowed.json()["allowed"] is True, allowed.content
    return spring, summer


def test_the_dashboard_answers_each_sub_report_as_its_own_endpoint_does(api_client, business):
    body = dashboard(api_client)

    assert set(body) == KEYS
    assert body["leads"] == read(api_client, "/api/v1/reports/leads/")
    assert body["customers"] == read(api_client, "/api/v1/reports/customers/")
    assert body["feedback"] == read(api_client, "/api/v1/feedback/analytics/")
    assert body["leads"]["total"] == 1
    assert body["customers"]["total"] == 2
    assert body["customers"]["total_revenue"] == "80.00"


def test_campaign_figures_count_campaign_messages_as_campaign_stats_do(api_client, business):
    spring, summer = business

    campaigns = dashboard(api_client)["campaigns"]

    # Sent: sent, delivered, opened, clicked (not bounced); delivered: delivered, opened,
    # clicked; opened and clicked by their times. The feedback message is no campaign's.
    assert {key: campaigns[key] for key in ("sent", "delivered", "opened", "clicked", "ctr")} == {
        "sent": 6,
        "delivered": 5,
        "opened": 2,
        "clicked": 1,
        "ctr": 0.2,
    }
    assert campaigns["by_campaign"][:2] == [
        {"id": str(summer.pk), "name": "summer", "sent": 1, "delivered": 1, "opened": 0,
         "clicked": 0, "ctr": 0.0},
        {"id": str(spring.pk), "name": "spring", "sent": 4, "delivered": 3, "opened": 2,
         "clicked": 1, "ctr": 0.3333},
    ]  # fmt: skip
    assert [line["name"] for line in campaigns["by_campaign"]] == ["summer", "spring", "old"]
    stats = read(api_client, f"/api/v1/campaigns/{spring.pk}/")["stats"]
    assert (stats["sent"], stats["delivered"], stats["opened"], stats["clicked"]) == (4, 3, 2, 1)


def test_loyalty_figures(api_client, business):
    assert dashboard(api_client)["loyalty"] == {
        "cards": 2,
        "active_cards": 1,
        "points_earned": "50.00",
        "points_redeemed": "20.00",
        "points_outstanding": "35.00",
        "credit_requests": 1,
    }


def test_the_window_applies_to_every_summary(api_client, account, business):
    today = timezone.now().astimezone(ZoneInfo(account.timezone)).date()
    recent = dashboard(api_client, date_from=(today - timedelta(days=30)).isoformat())
    tomorrow = dashboard(api_client, date_from=(today + timedelta(days=1)).isoformat())

    # Last year's campaign falls out of the window.
    assert [line["name"] for line in recent["campaigns"]["by_campaign"]] == ["summer", "spring"]
    assert recent["campaigns"]["delivered"] == 4
    assert recent["leads"] == read(
        api_client, "/api/v1/reports/leads/", date_from=(today - timedelta(days=30)).isoformat()
    )
    assert tomorrow["campaigns"] == NO_CAMPAIGNS
    assert tomorrow["customers"]["total"] == tomorrow["leads"]["total"] == 0
    assert tomorrow["customers"]["total_revenue"] == "0.00"
    assert tomorrow["feedback"]["requests"] == 0
    # Balances are now's, whatever the window.
    assert tomorrow["loyalty"] == NO_LOYALTY | {"points_outstanding": "35.00"}


def test_another_account_sees_only_its_own_zeros(other_api_client, business):
    body = dashboard(other_api_client)

    assert body["leads"]["total"] == 0
    assert body["customers"]["total"] == 0
    assert body["customers"]["top_customers"] == []
    assert body["customers"]["by_lifecycle"] == dict.fromkeys(
        ["new", "active", "at_risk", "churned", "vip"], 0
    )
    assert body["campaigns"] == NO_CAMPAIGNS
    assert body["loyalty"] == NO_LOYALTY
    assert (body["feedback"]["requests"], body["feedback"]["responses"]) == (0, 0)


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ({"date_from": "soon"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
    ],
)
def test_a_bad_window_is_a_400(api_client, query, attr):
    response = api_client.get(URL, query)

    assert response.status_code == 400, response.content
    assert [error["attr"] for error in response.json()["errors"]] == [attr]


def test_read_only_keys_read_it_and_anonymous_callers_do_not(read_only_client, anonymous_client):
    assert set(dashboard(read_only_client)) == KEYS
    assert anonymous_client.get(URL).status_code == 401


def test_the_dashboard_is_a_handful_of_queries(account, business, django_assert_max_num_queries):
    with account_scope(account):
        thresholds = health_thresholds_compute(account)
        with django_assert_max_num_queries(18):
            figures = selectors.analytics_dashboard(account, thresholds=thresholds)

    assert figures["loyalty"]["points_outstanding"] == Decimal("35.00")
    assert figures["campaigns"]["sent"] == 6
