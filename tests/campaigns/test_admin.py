"""Campaigns and the message ledger in the Django admin: staff see their own account's
only; messages are read-only; a campaign's name and description change through
campaigns.services while it has not started."""

import pytest
from django.test import Client

from accounts.models import Role
from campaigns import services
from campaigns.models import Campaign
from crm_project.tenancy import account_scope
from segments.rules import validate_rule
from tests.campaigns.sent import send_campaign
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

CAMPAIGNS = "/admin/campaigns/campaign/"
MESSAGES = "/admin/campaigns/message/"


@pytest.fixture
def staff(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ours(account):
    CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    campaign, messages = send_campaign(account, city="Lyon", message="Hi", name="Our spring")
    return campaign, next(iter(messages.values()))


@pytest.fixture
def theirs(other_account):
    CustomerFactory(account=other_account, email="zed@example.org", city="Lyon")
    campaign, messages = send_campaign(other_account, city="Lyon", message="Hi", name="Their fall")
    return campaign, next(iter(messages.values()))


def draft(account, name="Draft one"):
    with account_scope(account):
        return services.campaign_create(
            account=account,
            name=name,
            message="Hi",
            rules=validate_rule({"field": "city", "operator": "=", "value": "Lyon"}),
            draft=True,
        )


def test_staff_see_only_their_accounts_campaigns_and_messages(staff, ours, theirs):
    campaigns = staff.get(CAMPAIGNS)
    messages = staff.get(MESSAGES)

    assert campaigns.status_code == 200
    assert "Our spring" in campaigns.content.decode()
    assert "Their fall" not in campaigns.content.decode()
    assert messages.status_code == 200
    assert "ann@example.com" in messages.content.decode()
    assert "zed@example.org" not in messages.content.decode()
    for url in (f"{CAMPAIGNS}{theirs[0].pk}/change/", f"{MESSAGES}{theirs[1].pk}/change/"):
        response = staff.get(url, follow=True)
        assert "Their fall" not in response.content.decode()
        assert "zed@example.org" not in response.content.decode()


def test_a_message_is_shown_read_only(staff, ours):
    _campaign, message = ours

    page = staff.get(f"{MESSAGES}{message.pk}/change/")

    assert page.status_code == 200
    assert "ann@example.com" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert staff.get(f"{MESSAGES}add/").status_code == 403
    assert staff.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_sent_campaign_is_read_only(staff, account, ours):
    campaign, _message = ours

    page = staff.get(f"{CAMPAIGNS}{campaign.pk}/change/")
    staff.post(f"{CAMPAIGNS}{campaign.pk}/change/", {"name": "Renamed", "description": ""})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "audience_size 1" in page.content.decode()
    with account_scope(account):
        assert Campaign.objects.get(pk=campaign.pk).name == "Our spring"
    assert staff.get(f"{CAMPAIGNS}add/").status_code == 403


def test_a_drafts_name_changes_through_the_services(staff, account):
    campaign = draft(account)

    response = staff.post(
        f"{CAMPAIGNS}{campaign.pk}/change/", {"name": "Summer", "description": "Warm"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    with account_scope(account):
        stored = Campaign.objects.get(pk=campaign.pk)
    # The subject followed the name, as campaign_update keeps it.
    assert (stored.name, stored.description, stored.subject) == ("Summer", "Warm", "Summer")
    assert stored.status == "draft"


def test_the_cancel_action_cancels_a_draft(staff, account):
    campaign = draft(account)

    staff.post(CAMPAIGNS, {"action": "cancel", "_selected_action": [str(campaign.pk)]})

    with account_scope(account):
        assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


def test_a_read_only_member_can_look_but_not_change(account, other_account):
    campaign = draft(account)
    reader = Client()
    reader.force_login(MembershipFactory(account=account, role=Role.READ_ONLY).user)

    assert reader.get(CAMPAIGNS).status_code == 200
    reader.post(f"{CAMPAIGNS}{campaign.pk}/change/", {"name": "Nope", "description": ""})

    with account_scope(account):
        assert Campaign.objects.get(pk=campaign.pk).name == "Draft one"
