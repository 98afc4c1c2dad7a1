"""The back office's lead pages through Django's test client: the pipeline board (its
columns, counts and filters), moving a card (PATCH from the board's script, POST from
its form), converting, a lead's page (fields, interactions, nurturing, statistics),
and who may see and do what."""

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from crm_project.errors import Conflict, FieldError, Invalid
from crm_project.tenancy import account_scope
from customers.models import Customer, Interaction
from leads import services, views
from leads.models import LeadSource, LeadStatus, NurtureState
from tests.factories import AgentFactory, CustomerFactory, MembershipFactory
from tests.leads.conftest import LeadFactory, stored

pytestmark = pytest.mark.django_db


def signed_in(account, role=Role.MEMBER, **client_options):
    client = Client(**client_options)
    client.force_login(MembershipFactory(account=account, role=role).user)
    return client


@pytest.fixture
def client(account):
    return signed_in(account)


def move(client, lead, status, query=""):
    """The board's PATCH, as static/leads/board.js sends it."""
    return client.patch(
        f"/leads/{lead.pk}/status/{query}",
        data=f"status={status}",
        content_type="application/x-www-form-urlencoded",
        headers={"accept": "application/json"},
    )


def column(html, status):
    """The lead names on a board column's cards, and its count."""
    block = re.search(
        rf'<section class="board-column board-column-{status}".*?</section>', html, re.S
    )
    assert block, status
    count = re.search(r'data-count-for="[a-z]+">(\d+)<', block.group(0))
    names = re.findall(r'<a class="lead-name" href="[^"]+">([^<]+)</a>', block.group(0))
    return int(count.group(1)), names


def customers_of(account):
    with account_scope(account):
        return list(Customer.objects.order_by("created_at"))


def make_sequence(account, **fields):
    step = {"channel": "email", "subject": "Hi", "message": "Welcome"}
    with account_scope(account):
        return services.sequence_create(account=account, name="Welcome", steps=[step], **fields)


# --- Access -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(account, lead):
    for url in ["/leads/", f"/leads/{lead.pk}/"]:
        assert Client().get(url)["Location"] == f"/login/?next={url}"
    response = Client().post(f"/leads/{lead.pk}/convert/")
    assert response.status_code == 302
    assert stored(account, lead).status == LeadStatus.NEW


def test_the_navigation_links_to_the_board(client):
    html = client.get("/leads/").content.decode()

    assert '<a class="nav-link" href="/leads/" aria-current="page">Leads</a>' in html


def test_another_accounts_lead_is_a_404_everywhere(account, other_account, lead):
    other = signed_in(other_account, Role.ADMIN)

    assert other.get(f"/leads/{lead.pk}/").status_code == 404
    assert move(other, lead, "qualified").status_code == 404
    for action in ["convert/", "interactions/", "nurture/stop/", "nurture/reset/"]:
        response = other.post(f"/leads/{lead.pk}/{action}", {"type": "call"})
        assert response.status_code == 404, action
    html = other.get("/leads/").content.decode()
    assert "John Smith" not in html
    assert column(html, "new") == (0, [])
    assert stored(account, lead).status == LeadStatus.NEW
    assert customers_of(account) == []
    with account_scope(account):
        assert not Interaction.objects.exists()


def test_a_missing_lead_is_a_404(client):
    assert client.get("/leads/0190a5b6-0000-7000-8000-000000000000/").status_code == 404


def test_read_only_users_see_the_board_and_the_lead_but_cannot_change_them(account, lead):
    reader = signed_in(account, Role.READ_ONLY)

    board = reader.get("/leads/").content.decode()
    assert column(board, "new") == (1, ["John Smith"])
    assert 'draggable="true"' not in board
    assert "lead-move" not in board
    page = reader.get(f"/leads/{lead.pk}/").content.decode()
    assert "John Smith" in page
    assert "Convert to customer" not in page
    assert "Add an interaction" not in page

    assert move(reader, lead, "qualified").status_code == 403
    assert reader.post(f"/leads/{lead.pk}/status/", {"status": "qualified"}).status_code == 403
    assert reader.post(f"/leads/{lead.pk}/convert/").status_code == 403
    assert reader.post(f"/leads/{lead.pk}/interactions/", {"type": "call"}).status_code == 403
    assert reader.post(f"/leads/{lead.pk}/nurture/reset/").status_code == 403
    assert stored(account, lead).status == LeadStatus.NEW
    assert customers_of(account) == []


def test_moves_need_the_csrf_token(account, lead):
    strict = signed_in(account, enforce_csrf_checks=True)

    assert move(strict, lead, "qualified").status_code == 403
    assert stored(account, lead).status == LeadStatus.NEW


def test_a_move_is_a_patch_or_a_post(client, lead):
    assert client.get(f"/leads/{lead.pk}/status/").status_code == 405
    assert client.get(f"/leads/{lead.pk}/convert/").status_code == 405


# --- The board --------------------------------------------------------------------------


def test_the_board_has_a_column_per_status_with_its_count_and_newest_cards(account, client):
    for name in ["Ann", "Bob", "Cy"]:
        LeadFactory(account=account, first_name=name, last_name="New")
    LeadFactory(account=account, first_name="Dee", last_name="Won", status="qualified")

    html = client.get("/leads/").content.decode()

    assert column(html, "new") == (3, ["Cy New", "Bob New", "Ann New"])
    assert column(html, "qualified") == (1, ["Dee Won"])
    for status in ["contacted", "proposal", "negotiation", "converted", "lost", "won"]:
        assert column(html, status) == (0, [])
    assert '<span id="board-total" data-count="4">4</span> leads' in html


def test_a_card_shows_company_contact_score_and_agent(account, client):
    agent = AgentFactory(account=account, first_name="Ada", last_name="Agent")
    lead = LeadFactory(
        account=account,
        first_name="Zoe",
        last_name="Card",
        email="zoe@card.example",
        company="Cards Inc",
        score=72,
        assigned_to=agent,
    )

    html = client.get("/leads/").content.decode()
    card = re.search(rf'<li class="lead-card" id="lead-{lead.pk}".*?</li>', html, re.S).group(0)

    for text in ["Zoe Card", "Cards Inc", "zoe@card.example", "Score 72", "Ada Agent"]:
        assert text in card
    assert f'href="/leads/{lead.pk}/"' in card
    assert 'draggable="true"' in card


def test_a_column_shows_its_newest_cards_and_says_how_many_more(account, client, monkeypatch):
    monkeypatch.setattr(views, "COLUMN_LIMIT", 2)
    for n in range(3):
        LeadFactory(account=account, first_name=f"L{n}", last_name="X")

    html = client.get("/leads/").content.decode()

    assert column(html, "new") == (3, ["L2 X", "L1 X"])
    assert "The newest 2 are shown; 1 more." in html


def test_the_board_filters_by_agent_source_and_search(account, client):
    ada = AgentFactory(account=account, first_name="Ada", last_name="A")
    LeadFactory(account=account, first_name="Ann", last_name="Web", source="website")
    LeadFactory(
        account=account, first_name="Bob", last_name="Ref", source="referral", assigned_to=ada
    )
    LeadFactory(
        account=account,
        first_name="Cy",
        last_name="Ref",
        source="referral",
        status="qualified",
        email="cy@globex.example",
    )

    by_source = client.get("/leads/?source=referral").content.decode()
    assert column(by_source, "new") == (1, ["Bob Ref"])
    assert column(by_source, "qualified") == (1, ["Cy Ref"])
    by_agent = client.get(f"/leads/?assigned_to={ada.pk}").content.decode()
    assert column(by_agent, "new") == (1, ["Bob Ref"])
    assert column(by_agent, "qualified") == (0, [])
    assert f'<option value="{ada.pk}" selected>Ada A</option>' in by_agent
    by_search = client.get("/leads/?q=globex").content.decode()
    assert column(by_search, "new") == (0, [])
    assert column(by_search, "qualified") == (1, ["Cy Ref"])
    by_name = client.get("/leads/?q=ann&source=website").content.decode()
    assert column(by_name, "new") == (1, ["Ann Web"])


def test_an_invalid_filter_is_named_and_shows_no_leads(account, client, lead):
    response = client.get("/leads/?assigned_to=nobody")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="alert alert-error"' in html
    assert "Agent id" in html
    assert column(html, "new") == (0, [])


def test_another_accounts_agent_filters_out_everything(account, other_account, client, lead):
    theirs = AgentFactory(account=other_account)

    html = client.get(f"/leads/?assigned_to={theirs.pk}").content.decode()

    assert column(html, "new") == (0, [])
    assert str(theirs) not in html


# --- Moving a card ----------------------------------------------------------------------


def test_a_patch_moves_the_lead_and_answers_the_counts(account, client, lead):
    LeadFactory(account=account, first_name="Other", last_name="New")

    response = move(client, lead, "qualified")

    assert response.status_code == 200
    body = response.json()
    assert body["lead"] == str(lead.pk)
    assert body["status"] == "qualified"
    assert body["counts"] == {**dict.fromkeys(LeadStatus.values, 0), "new": 1, "qualified": 1}
    assert body["customer_url"] is None
    assert stored(account, lead).status == LeadStatus.QUALIFIED


def test_the_counts_follow_the_boards_filters(account, client, lead):
    LeadFactory(account=account, first_name="Web", last_name="Lead", source="website")

    body = move(client, lead, "contacted", query="?source=other").json()

    assert body["counts"]["contacted"] == 1
    assert body["counts"]["new"] == 0  # the website lead is not on this board


def test_a_json_body_works_too(account, client, lead):
    response = client.patch(
        f"/leads/{lead.pk}/status/",
        data=json.dumps({"status": "lost"}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert stored(account, lead).status == LeadStatus.LOST


@pytest.mark.parametrize("status", ["", "teleported", "NEW "])
def test_a_bad_status_is_a_400_naming_the_field(account, client, lead, status):
    response = move(client, lead, status)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == "status"
    assert body["errors"][0]["code"] == "invalid_choice"
    assert "qualified" in body["message"]
    assert stored(account, lead).status == LeadStatus.NEW


def test_moving_to_converted_converts_the_lead(account, client, lead):
    response = move(client, lead, "converted")

    assert response.status_code == 200
    body = response.json()
    [customer] = customers_of(account)
    assert body["customer_url"] == f"/customers/{customer.number}/"
    assert body["counts"]["converted"] == 1
    assert body["counts"]["new"] == 0
    converted = stored(account, lead)
    assert converted.status == LeadStatus.CONVERTED
    assert converted.converted_customer_id == customer.pk
    assert customer.email == "John.Smith@alot.co"
    assert customer.source_lead == lead.pk


def test_a_services_invalid_is_a_400_naming_its_field(account, client, lead, monkeypatch):
    def refuse(**kwargs):
        raise Invalid({"status": [FieldError("Use convert.", code="use_convert")]})

    monkeypatch.setattr(services, "lead_update", refuse)

    response = move(client, lead, "qualified")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "use_convert", "detail": "Not moved: Use convert.", "attr": "status"}
    ]
    assert stored(account, lead).status == LeadStatus.NEW


def test_a_conflict_is_a_409_with_its_message(account, client, lead, monkeypatch):
    def refuse(**kwargs):
        raise Conflict("This lead no longer exists.", code="not_found")

    monkeypatch.setattr(services, "lead_update", refuse)

    response = move(client, lead, "qualified")

    assert response.status_code == 409
    body = response.json()
    assert body["errors"][0] == {
        "code": "not_found",
        "detail": "Not moved: This lead no longer exists.",
        "attr": "status",
    }


def test_the_cards_form_posts_and_comes_back_to_the_board(account, client, lead):
    response = client.post(
        f"/leads/{lead.pk}/status/", {"status": "proposal", "next": "/leads/?source=other"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/leads/?source=other"
    assert stored(account, lead).status == LeadStatus.PROPOSAL
    html = client.get(response["Location"]).content.decode()
    assert "John Smith moved to Proposal." in html
    assert column(html, "proposal") == (1, ["John Smith"])


def test_a_form_post_never_redirects_off_site(account, client, lead):
    response = client.post(
        f"/leads/{lead.pk}/status/", {"status": "lost", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/leads/"


def test_a_form_post_with_a_bad_status_says_so(account, client, lead):
    response = client.post(f"/leads/{lead.pk}/status/", {"status": "nope"}, follow=True)

    assert "Not moved: Choose one of:" in response.content.decode()
    assert stored(account, lead).status == LeadStatus.NEW


def test_a_converted_card_cannot_be_dragged_or_moved(account, client, lead):
    move(client, lead, "converted")

    html = client.get("/leads/").content.decode()
    card = re.search(rf'<li class="lead-card" id="lead-{lead.pk}".*?</li>', html, re.S).group(0)

    assert 'draggable="true"' not in card
    assert "lead-move" not in card


# --- A lead's page ----------------------------------------------------------------------


def test_the_lead_page_shows_its_fields_and_statistics(account, client):
    agent = AgentFactory(account=account, first_name="Ada", last_name="Agent")
    lead = LeadFactory(
        account=account,
        first_name="Zoe",
        last_name="Page",
        email="zoe@page.example",
        phone="+14155550100",
        company="Pages Ltd",
        score=40,
        source=LeadSource.REFERRAL,
        status="qualified",
        assigned_to=agent,
        city="Austin",
        notes="Met at the fair",
        attributes={"budget": "10k"},
        external_id="Z-1",
    )

    html = client.get(f"/leads/{lead.pk}/").content.decode()

    for text in [
        "Zoe Page",
        "zoe@page.example",
        "+14155550100",
        "Pages Ltd",
        "Score 40",
        "Referral",
        "Ada Agent",
        "Austin",
        "Met at the fair",
        "budget",
        "10k",
        "Z-1",
        "Qualified",
    ]:
        assert text in html, text
    stats = re.search(r'<dl class="details" id="lead-statistics">(.*?)</dl>', html, re.S).group(1)
    assert "<dt>Qualified</dt><dd>yes</dd>" in stats
    assert "<dt>Interactions</dt><dd>0</dd>" in stats
    assert "Convert to customer" in html


def test_interactions_are_listed_newest_first(account, client, lead):
    now = timezone.now()
    with account_scope(account):
        services.lead_interaction_create(
            account=account,
            lead=lead,
            type="call",
            description="First call",
            date=now - timezone.timedelta(days=2),
        )
        services.lead_interaction_create(
            account=account,
            lead=lead,
            type="email",
            description="Then an email",
            date=now - timezone.timedelta(days=1),
        )

    html = client.get(f"/leads/{lead.pk}/").content.decode()

    assert html.index("Then an email") < html.index("First call")
    assert "<dt>Interactions</dt><dd>2</dd>" in html


def test_adding_an_interaction(account, client, lead):
    response = client.post(
        f"/leads/{lead.pk}/interactions/",
        {
            "type": "meeting",
            "notes": "Demo went well",
            "outcome": "Interested",
            "date": "2026-03-02T10:30",
            "next_action": "Send the quote",
            "next_action_date": "2026-03-09",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/leads/{lead.pk}/#interactions"
    with account_scope(account):
        [interaction] = Interaction.objects.filter(lead=lead.pk)
    assert interaction.type == "meeting"
    assert interaction.description == "Demo went well"
    assert interaction.outcome == "Interested"
    assert interaction.next_action == "Send the quote"
    # In the account's timezone (UTC for the factory's account).
    assert interaction.date.isoformat() == "2026-03-02T10:30:00+00:00"
    assert interaction.next_action_date.isoformat() == "2026-03-09T00:00:00+00:00"
    assert stored(account, lead).last_contact == interaction.date
    html = client.get(response["Location"]).content.decode()
    assert "Interaction added." in html
    assert "Demo went well" in html


def test_an_interaction_without_a_date_is_now(account, client, lead):
    before = timezone.now()
    client.post(f"/leads/{lead.pk}/interactions/", {"type": "note", "notes": "Hi"})

    with account_scope(account):
        [interaction] = Interaction.objects.filter(lead=lead.pk)
    assert interaction.date >= before


@pytest.mark.parametrize(
    ("data", "field"),
    [({"type": "purchase"}, "type"), ({"type": "call", "date": "yesterday-ish"}, "date")],
)
def test_a_bad_interaction_is_a_400_showing_the_field(account, client, lead, data, field):
    response = client.post(f"/leads/{lead.pk}/interactions/", data)

    assert response.status_code == 400
    html = response.content.decode()
    block = re.search(rf'<div class="field field-{field} has-error">(.*?)</div>', html, re.S)
    assert block is not None
    assert 'class="field-error"' in block.group(1)
    with account_scope(account):
        assert not Interaction.objects.exists()


def test_converting_opens_the_customer_page(account, client, lead):
    response = client.post(f"/leads/{lead.pk}/convert/")

    [customer] = customers_of(account)
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{customer.number}/"
    page = client.get(response["Location"]).content.decode()
    assert "John Smith converted into this new customer." in page
    assert stored(account, lead).converted_customer_id == customer.pk

    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Convert to customer" not in html
    assert f'href="/customers/{customer.number}/"' in html


def test_converting_twice_opens_the_same_customer(account, client, lead):
    first = client.post(f"/leads/{lead.pk}/convert/")
    second = client.post(f"/leads/{lead.pk}/convert/", follow=True)

    assert second.redirect_chain[-1][0] == first["Location"]
    assert "linked to this existing customer" in second.content.decode()
    assert len(customers_of(account)) == 1


def test_converting_links_an_existing_customer_with_the_email(account, client, lead):
    existing = CustomerFactory(account=account, email="john.smith@ALOT.co")

    response = client.post(f"/leads/{lead.pk}/convert/")

    assert response["Location"] == f"/customers/{existing.number}/"
    assert len(customers_of(account)) == 1


def test_nurturing_is_shown_and_can_be_restarted_and_stopped(account, client, lead):
    make_sequence(account, is_default=True)

    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert 'id="nurture-state">Idle<' in html
    assert "Start nurturing" in html
    assert "Stop nurturing" not in html

    response = client.post(f"/leads/{lead.pk}/nurture/reset/", follow=True)
    html = response.content.decode()
    assert "Nurturing restarted at step 1." in html
    assert 'id="nurture-state">Active<' in html
    assert "Welcome" in html  # the sequence's name
    restarted = stored(account, lead)
    assert restarted.nurture_state == NurtureState.ACTIVE
    assert restarted.nurture_next_at is not None

    response = client.post(f"/leads/{lead.pk}/nurture/stop/", follow=True)
    assert "Nurturing stopped." in response.content.decode()
    assert stored(account, lead).nurture_state == NurtureState.STOPPED


def test_restarting_without_a_default_sequence_says_why(account, client, lead):
    response = client.post(f"/leads/{lead.pk}/nurture/reset/", follow=True)

    html = response.content.decode()
    assert "Not restarted:" in html
    assert stored(account, lead).nurture_state == NurtureState.IDLE


def test_a_converted_lead_cannot_be_restarted(account, client, lead):
    make_sequence(account, is_default=True)
    client.post(f"/leads/{lead.pk}/convert/")

    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Restart at step 1" not in html
    assert "Start nurturing" not in html
    response = client.post(f"/leads/{lead.pk}/nurture/reset/", follow=True)
    assert "Not restarted: This lead was converted" in response.content.decode()
    assert stored(account, lead).nurture_state != NurtureState.ACTIVE


def test_the_lead_pages_status_menu_moves_it_and_comes_back(account, client, lead):
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    menu = re.search(r'<select id="lead-move-status" name="status">(.*?)</select>', html, re.S)
    assert "converted" not in menu.group(1)  # the Convert button does that

    response = client.post(
        f"/leads/{lead.pk}/status/", {"status": "negotiation", "next": f"/leads/{lead.pk}/"}
    )

    assert response["Location"] == f"/leads/{lead.pk}/"
    assert stored(account, lead).status == LeadStatus.NEGOTIATION
    assert 'id="lead-status">Negotiation<' in client.get(response["Location"]).content.decode()
