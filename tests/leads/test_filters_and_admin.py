"""The lead list's filters, ordering and pages, and leads in the Django admin."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from crm_project.tenancy import account_scope
from leads import services
from leads.models import Lead
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
ADMIN = "/admin/leads/lead/"


def ids(response):
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def three(account, agent):
    ann = LeadFactory(
        account=account,
        first_name="Ann",
        last_name="Lee",
        email="Ann.Lee@x.example",
        phone="+14155550100",
        external_id="A1",
    )
    bob = LeadFactory(account=account, first_name="Bob", last_name="Ray", email="bob@y.example")
    cid = LeadFactory(account=account, first_name="Cid", last_name="Moe", email="cid@z.example")
    with account_scope(account):
        services.lead_update(lead=bob, status="qualified", source="website", assigned_to=agent)
        Lead.objects.filter(pk=cid.pk).update(created_at=timezone.now() - timedelta(days=10))
    return ann, bob, cid


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "ann le"}, "ann"),
        ({"q": "Y.EXAMPLE"}, "bob"),
        ({"q": "555-0100"}, "ann"),
        ({"q": "A1"}, "ann"),
        ({"external_id": "A1"}, "ann"),
        ({"email": "ANN.LEE@x.example"}, "ann"),
        ({"phone": "(415) 555-0100"}, "ann"),
        ({"status": "QUALIFIED"}, "bob"),
        ({"source": "Web Site"}, "bob"),
    ],
)
def test_filters(api_client, three, params, expected):
    ann, bob, _cid = three
    wanted = {"ann": ann, "bob": bob}[expected]
    assert ids(api_client.get(LEADS, params)) == {str(wanted.pk)}


def test_assigned_to_nurture_state_and_created_filters(api_client, three, agent):
    ann, bob, cid = three
    assert ids(api_client.get(LEADS, {"assigned_to": str(agent.pk)})) == {str(bob.pk)}
    assert ids(api_client.get(LEADS, {"nurture_state": "idle"})) == {
        str(ann.pk),
        str(bob.pk),
        str(cid.pk),
    }
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert str(cid.pk) not in ids(api_client.get(LEADS, {"created_after": since}))
    assert ids(api_client.get(LEADS, {"created_before": since})) == {str(cid.pk)}


def test_ordering_and_pages(api_client, three):
    ann, bob, cid = three
    response = api_client.get(LEADS, {"ordering": "name"})
    assert [r["last_name"] for r in response.json()["results"]] == ["Lee", "Moe", "Ray"]
    page = api_client.get(LEADS, {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    first = api_client.get(LEADS, {"cursor": "", "page_size": 2}).json()
    assert "count" not in first
    second = api_client.get(first["next"]).json()
    walked = [r["id"] for r in first["results"] + second["results"]]
    # Newest first: Bob was created after Ann, Cid ten days ago.
    assert walked == [str(bob.pk), str(ann.pk), str(cid.pk)]


def test_the_list_shows_only_the_callers_leads(other_api_client, three):
    assert other_api_client.get(LEADS).json()["count"] == 0
    assert other_api_client.get(LEADS, {"q": "ann"}).json()["count"] == 0


# --- Admin ----------------------------------------------------------------------------


@pytest.fixture
def staff(user):
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_only_their_accounts_leads(staff, account, other_account):
    LeadFactory(account=account, first_name="Ada", last_name="Acmeson")
    stranger = LeadFactory(account=other_account, first_name="Gus", last_name="Globexson")
    html = staff.get(ADMIN).content.decode()
    assert "Ada Acmeson" in html
    assert "Globexson" not in html
    response = staff.get(f"{ADMIN}{stranger.pk}/change/", follow=True)
    assert "Globexson" not in response.content.decode()


def test_a_lead_added_in_the_admin_goes_through_the_rules(staff, account):
    data = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone": "(202) 555-0143",
        "status": "new",
        "source": "other",
        "score": "0",
        "attributes": "{}",
        "_save": "Save",
    }
    response = staff.post(f"{ADMIN}add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    with account_scope(account):
        grace = Lead.objects.get(last_name="Hopper")
    assert grace.phone == "+12025550143"
    response = staff.post(f"{ADMIN}add/", {**data, "status": "converted", "last_name": "X"})
    assert response.status_code == 200
    with account_scope(account):
        assert not Lead.objects.filter(last_name="X").exists()


def test_a_lead_changed_in_the_admin_keeps_the_other_fields(staff, account):
    lead = LeadFactory(account=account, first_name="Ada", last_name="Lovelace", score=5)
    data = {
        "first_name": "Ada",
        "last_name": "King",
        "email": lead.email,
        "status": "new",
        "source": "other",
        "score": "5",
        "attributes": "{}",
        "_save": "Save",
    }
    response = staff.post(f"{ADMIN}{lead.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert stored(account, lead).last_name == "King"
