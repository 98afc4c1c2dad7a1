"""The back office's campaign pages through Django's test client: the list with its
progress, the composer (its previews, saving a draft, launching, scheduling, errors
shown on their fields), a campaign's page (stats, recipients by status and by page,
launch and cancel), and who may see and do what."""

import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from campaigns import services, views
from campaigns.models import Campaign, Message
from crm_project.tenancy import account_scope
from customers.models import Customer
from segments import services as segment_services
from segments.rules import validate_rule
from tests.factories import AccountFactory, CustomerFactory, MembershipFactory, SegmentFactory

pytestmark = pytest.mark.django_db

LYON = {"field": "city", "operator": "=", "value": "Lyon"}


def signed_in(account, role=Role.MEMBER):
    client = Client()
    client.force_login(MembershipFactory(account=account, role=role).user)
    return client


@pytest.fixture
def client(account):
    return signed_in(account)


@pytest.fixture
def lyon(account):
    """Three customers in Lyon (one without an email address) and a segment of them."""
    CustomerFactory(account=account, first_name="Ann", last_name="Lee", city="Lyon")
    CustomerFactory(account=account, first_name="Bob", last_name="Roy", city="Lyon")
    CustomerFactory(
        account=account,
        first_name="Cy",
        last_name="Ng",
        email="",
        phone="+33612345678",
        city="Lyon",
    )
    CustomerFactory(account=account, first_name="Dan", last_name="Po", city="Paris")
    return SegmentFactory(account=account, name="Lyon", rules=LYON)


def campaigns_of(account):
    with account_scope(account):
        return list(Campaign.objects.select_related("segment").order_by("created_at"))


def stored(account, campaign):
    with account_scope(account):
        return Campaign.objects.get(pk=campaign.pk)


def lyon_customers(account):
    with account_scope(account):
        return list(Customer.objects.filter(city="Lyon"))


def draft(account, segment, **fields):
    fields = {"name": "Spring", "message": "Hi {{ first_name }}", **fields}
    with account_scope(account):
        return services.campaign_create(account=account, segment=segment, draft=True, **fields)


def composer_form(segment, **changes):
    data = {
        "name": "Spring sale",
        "channel": "email",
        "segment": str(segment.pk) if segment is not None else "",
        "subject": "Hello {{ first_name }}",
        "message": "Hi {{ first_name }}, 20% off this week.",
        "description": "",
        "scheduled_at": "",
        "action": "draft",
        "form_token": "token-1",
    }
    data.update(changes)
    return data


def field_errors(html, field):
    """The error messages shown under a composer field."""
    block = re.search(rf'<div class="field field-{field}[^"]*">(.*?)</div>', html, re.S)
    assert block, f"no field {field}"
    return re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', block.group(1), re.S)


# --- Access ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(account, lyon):
    campaign = draft(account, lyon)
    for url in ["/campaigns/", "/campaigns/new/", f"/campaigns/{campaign.pk}/"]:
        assert Client().get(url)["Location"] == f"/login/?next={url}"


def test_the_navigation_links_to_campaigns(client):
    html = client.get("/campaigns/").content.decode()

    assert '<a class="nav-link" href="/campaigns/" aria-current="page">Campaigns</a>' in html


def test_another_accounts_campaign_is_a_404_on_every_page(account, other_account, lyon):
    campaign = draft(account, lyon)
    other = signed_in(other_account)

    for url in ["", "edit/", "stats/"]:
        assert other.get(f"/campaigns/{campaign.pk}/{url}").status_code == 404
    for url in ["launch/", "cancel/", "edit/"]:
        assert other.post(f"/campaigns/{campaign.pk}/{url}").status_code == 404
    assert other.get("/campaigns/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert "Spring" not in other.get("/campaigns/").content.decode()
    assert stored(account, campaign).status == "draft"


def test_read_only_members_see_campaigns_but_cannot_write(account, lyon):
    campaign = draft(account, lyon)
    reader = signed_in(account, Role.READ_ONLY)

    listing = reader.get("/campaigns/").content.decode()
    page = reader.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "Spring" in listing
    assert "New campaign" not in listing
    assert "Launch now" not in page
    assert "Cancel campaign" not in page
    assert reader.get("/campaigns/new/").status_code == 403
    assert reader.post("/campaigns/new/", composer_form(lyon)).status_code == 403
    assert reader.get(f"/campaigns/{campaign.pk}/edit/").status_code == 403
    assert reader.post(f"/campaigns/{campaign.pk}/launch/").status_code == 403
    assert reader.post(f"/campaigns/{campaign.pk}/cancel/").status_code == 403
    assert [c.pk for c in campaigns_of(account)] == [campaign.pk]
    assert stored(account, campaign).status == "draft"


# --- The list ---------------------------------------------------------------------------


def test_the_list_shows_each_campaign_with_its_status_and_a_new_campaign_button(
    client, account, lyon
):
    draft(account, lyon, name="Spring")
    draft(account, lyon, name="Summer", channel="sms")

    html = client.get("/campaigns/").content.decode()

    assert "New campaign" in html
    rows = re.findall(r'<tr data-campaign-id="([^"]+)">(.*?)</tr>', html, re.S)
    assert [re.search(r">([^<]+)</a>", row).group(1) for _pk, row in rows] == [
        "Summer",
        "Spring",
    ]
    assert "SMS" in rows[0][1]
    assert "Email" in rows[1][1]
    assert all("badge-campaign-draft" in row for _pk, row in rows)
    assert "data-live-url" not in html  # nothing is sending: no refreshing


def test_a_sending_campaign_makes_the_list_refresh_its_rows(client, account, lyon):
    # Not transactional: the launch's task never runs, the campaign stays sending.
    with account_scope(account):
        services.campaign_create(account=account, name="Now", message="Hi", segment=lyon)

    html = client.get("/campaigns/").content.decode()
    rows = client.get("/campaigns/rows/").content.decode()

    assert 'data-live-url="/campaigns/rows/?"' in html
    assert rows.lstrip().startswith('<tbody id="campaign-rows"')
    assert 'data-live="true"' in rows
    assert "Preparing recipients" in rows


def test_the_list_pages_by_keyset(client, account, lyon, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for name in ["One", "Two", "Three"]:
        draft(account, lyon, name=name)

    first = client.get("/campaigns/").content.decode()
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(f"/campaigns/{next_url}").content.decode()

    assert "Three" in first
    assert "Two" in first
    assert "One" not in first
    assert "One" in second
    assert "Two" not in second
    assert 'rel="next"' not in second


# --- The composer -----------------------------------------------------------------------


def test_the_composer_offers_the_accounts_active_segments_only(
    client, account, other_account, lyon
):
    SegmentFactory(account=account, name="Dormant", active=False)
    SegmentFactory(account=other_account, name="Globex secret")

    html = client.get("/campaigns/new/").content.decode()

    options = re.findall(r"<option value=\"[^\"]+\"[^>]*>([^<]+)</option>", html)
    assert "Lyon (3 customers)" in options
    assert not any("Dormant" in o or "Globex" in o for o in options)
    assert 'type="datetime-local"' in html
    assert "In the account&#x27;s timezone (UTC)." in html


def test_saving_a_draft_writes_it_through_the_services(client, account, lyon):
    response = client.post("/campaigns/new/", composer_form(lyon))

    [campaign] = campaigns_of(account)
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert (campaign.name, campaign.status, campaign.segment_id) == (
        "Spring sale",
        "draft",
        lyon.pk,
    )
    assert campaign.subject == "Hello {{ first_name }}"
    assert campaign.message == "Hi {{ first_name }}, 20% off this week."
    assert campaign.delivery_mode == "immediate"
    page = client.get(response["Location"]).content.decode()
    assert "Saved." in page
    assert "Spring sale" in page
    assert "badge-campaign-draft" in page


def test_sending_the_same_new_campaign_form_twice_makes_one_campaign(client, account, lyon):
    first = client.post("/campaigns/new/", composer_form(lyon))
    second = client.post("/campaigns/new/", composer_form(lyon))

    [campaign] = campaigns_of(account)
    assert first["Location"] == second["Location"] == f"/campaigns/{campaign.pk}/"


def test_a_template_error_is_shown_next_to_the_message_with_its_line(client, account, lyon):
    form = composer_form(lyon, message="Hello\n{{ first_name|nope }}\nBye")

    response = client.post("/campaigns/new/", form)

    html = response.content.decode()
    assert response.status_code == 400
    assert campaigns_of(account) == []
    [error] = field_errors(html, "message")
    assert error.startswith("Line 2:")
    assert "nope" in error
    # The preview shows the line at fault.
    assert re.search(r'<span class="line-number">2</span>\{\{ first_name\|nope \}\}', html)
    # What was typed is kept.
    assert "Hello\n{{ first_name|nope }}\nBye</textarea>" in html


def test_a_subject_error_is_shown_on_the_subject(client, account, lyon):
    response = client.post("/campaigns/new/", composer_form(lyon, subject="{% if %}"))

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "subject")
    assert campaigns_of(account) == []


def test_a_campaign_needs_a_segment_of_the_account(client, account, other_account, lyon):
    foreign = SegmentFactory(account=other_account, name="Globex secret")

    missing = client.post("/campaigns/new/", composer_form(None)).content.decode()
    theirs = client.post("/campaigns/new/", composer_form(foreign)).content.decode()

    assert field_errors(missing, "segment") == ["Choose the segment the campaign goes to."]
    assert field_errors(theirs, "segment") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert campaigns_of(account) == []


def test_a_segment_deactivated_after_the_draft_is_refused_by_the_service(client, account, lyon):
    campaign = draft(account, lyon)
    with account_scope(account):
        segment_services.segment_deactivate(segment=lyon)
    form = composer_form(lyon, action="launch", name="Spring")

    response = client.post(f"/campaigns/{campaign.pk}/edit/", form)

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "segment") == [
        "This segment is inactive: only an active segment can be targeted."
    ]
    assert stored(account, campaign).status == "draft"


def test_scheduling_reads_the_time_in_the_accounts_timezone(db):
    paris = AccountFactory(slug="paris", timezone="Europe/Paris")
    client = signed_in(paris)
    CustomerFactory(account=paris, city="Lyon")
    segment = SegmentFactory(account=paris, rules=LYON)
    when = (timezone.now() + timedelta(days=3)).astimezone(UTC).replace(second=0, microsecond=0)
    local = when.astimezone(ZoneInfo("Europe/Paris"))

    response = client.post(
        "/campaigns/new/",
        composer_form(segment, action="schedule", scheduled_at=local.strftime("%Y-%m-%dT%H:%M")),
    )

    [campaign] = campaigns_of(paris)
    assert response.status_code == 302
    assert (campaign.status, campaign.delivery_mode) == ("scheduled", "scheduled")
    assert campaign.scheduled_at == when
    edit = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert f'value="{local.strftime("%Y-%m-%dT%H:%M")}"' in edit
    assert "Save changes" in edit


def test_scheduling_in_the_past_is_shown_on_the_time(client, account, lyon):
    form = composer_form(lyon, action="schedule", scheduled_at="2020-01-01T10:00")

    response = client.post("/campaigns/new/", form)

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "scheduled_at") == [
        "scheduled_at is in the past."
    ]
    assert campaigns_of(account) == []


def test_scheduling_without_a_time_is_refused_on_the_time(client, account, lyon):
    response = client.post("/campaigns/new/", composer_form(lyon, action="schedule"))

    assert field_errors(response.content.decode(), "scheduled_at") == [
        "A scheduled campaign needs scheduled_at."
    ]
    assert campaigns_of(account) == []


def test_editing_a_draft_changes_it_and_keeps_it_a_draft(client, account, lyon):
    campaign = draft(account, lyon, name="Spring", message="Old")
    page = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert "Old</textarea>" in page
    assert f'<option value="{lyon.pk}" selected>' in page

    response = client.post(
        f"/campaigns/{campaign.pk}/edit/",
        composer_form(lyon, name="Spring v2", message="New {{ name }}", channel="sms"),
    )

    assert response.status_code == 302
    saved = stored(account, campaign)
    assert (saved.name, saved.message, saved.channel, saved.status) == (
        "Spring v2",
        "New {{ name }}",
        "sms",
        "draft",
    )
    assert [c.pk for c in campaigns_of(account)] == [campaign.pk]


def test_a_sent_campaign_cannot_be_edited(client, account, lyon):
    with account_scope(account):
        campaign = services.campaign_create(account=account, name="Now", message="Hi", segment=lyon)

    response = client.get(f"/campaigns/{campaign.pk}/edit/")

    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"


def test_a_draft_with_its_own_rule_keeps_it_when_edited(client, account, lyon):
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name="Inline",
            message="Hi",
            rules=validate_rule(LYON, account=account),
            draft=True,
        )
    page = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert "Its own rule (set through the API)" in page
    assert 'id="audience-count" data-count="3"' in page

    client.post(f"/campaigns/{campaign.pk}/edit/", composer_form(None, name="Inline v2"))

    saved = stored(account, campaign)
    assert saved.name == "Inline v2"
    assert saved.segment_id is None
    assert saved.rules is not None


# --- The previews -----------------------------------------------------------------------


def test_the_message_preview_renders_for_the_accounts_first_customer(client, account, lyon):
    response = client.post(
        "/campaigns/preview/message/",
        {
            "channel": "email",
            "name": "N",
            "subject": "For {{ first_name }}",
            "message": "Hi {{ name }}!",
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="message-preview"')
    assert '<strong id="preview-subject">For Ann</strong>' in html
    assert '<div class="preview-body" id="preview-body">Hi Ann Lee!</div>' in html


def test_the_message_preview_uses_the_sample_customer_without_customers(client):
    html = client.post(
        "/campaigns/preview/message/", {"channel": "sms", "message": "Hi {{ first_name }}"}
    ).content.decode()

    assert "a sample customer (Alex Martin)" in html
    assert ">Hi Alex</div>" in html
    assert "7 characters" in html
    assert "preview-subject" not in html


def test_an_html_email_is_previewed_escaped_in_a_sandboxed_frame(client, account):
    CustomerFactory(account=account, first_name="<b>Eve</b>")

    html = client.post(
        "/campaigns/preview/message/", {"channel": "email", "message": "<p>Hi {{ first_name }}</p>"}
    ).content.decode()

    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert " sandbox " in frame
    # The customer's value escaped by the template, then the whole document by the page.
    assert "&lt;p&gt;Hi &amp;lt;b&amp;gt;Eve&amp;lt;/b&amp;gt;&lt;/p&gt;" in frame


def test_the_message_preview_shows_a_template_error_with_its_line(client):
    html = client.post(
        "/campaigns/preview/message/", {"channel": "sms", "message": "a\nb\n{% load x %}"}
    ).content.decode()

    assert "Line 3: the tag {% load %} is not allowed in messages." in html
    assert '<span class="line-number">3</span>{% load x %}' in html


def test_the_audience_preview_counts_matching_and_reachable_customers(client, lyon):
    email = client.post(
        "/campaigns/preview/audience/", {"segment": str(lyon.pk), "channel": "email"}
    ).content.decode()
    sms = client.post(
        "/campaigns/preview/audience/", {"segment": str(lyon.pk), "channel": "sms"}
    ).content.decode()

    assert 'id="audience-count" data-count="3"' in email
    assert 'id="audience-reachable" data-count="2"' in email  # Cy has no email
    assert 'id="audience-reachable" data-count="1"' in sms  # only Cy has a phone
    assert "Ann Lee" in email


def test_the_audience_preview_knows_nothing_of_another_accounts_segment(
    account, other_account, lyon
):
    html = (
        signed_in(other_account)
        .post("/campaigns/preview/audience/", {"segment": str(lyon.pk), "channel": "email"})
        .content.decode()
    )

    assert "audience-count" not in html
    assert "Choose a segment" in html


def test_previews_need_the_csrf_token(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(MembershipFactory(account=account).user)

    assert client.post("/campaigns/preview/message/", {"message": "x"}).status_code == 403


# --- A campaign's page ------------------------------------------------------------------


def test_a_drafts_page_shows_its_details_and_actions(client, account, lyon):
    campaign = draft(account, lyon)

    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "<h1>Spring</h1>" in html
    assert "Launch now" in html
    assert "Cancel campaign" in html
    assert f'href="/campaigns/{campaign.pk}/edit/"' in html
    assert 'data-live="false"' in html
    assert "Recipients are written when the campaign starts." in html


@pytest.mark.django_db(transaction=True)
def test_launching_from_the_composer_sends_and_the_page_shows_the_counts(account, lyon):
    client = signed_in(account)

    response = client.post("/campaigns/new/", composer_form(lyon, action="launch"))

    [campaign] = campaigns_of(account)
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.status == "sent"
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        c.email for c in lyon_customers(account) if c.email
    )
    html = client.get(response["Location"]).content.decode()
    assert "Launched: the campaign is sending." in html
    assert 'id="stat-audience_size">3<' in html
    assert 'id="stat-sent">2<' in html
    assert 'id="stat-skipped">1<' in html
    assert 'data-done="3" data-total="3">3 of 3<' in html
    assert 'data-live="false"' in html
    assert "Launch now" not in html
    assert html.count('class="badge badge-message-delivered"') == 2
    assert "No address for the channel" in html


@pytest.mark.django_db(transaction=True)
def test_launching_a_draft_from_its_page(account, lyon):
    client = signed_in(account)
    campaign = draft(account, lyon)

    response = client.post(f"/campaigns/{campaign.pk}/launch/")

    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert stored(account, campaign).status == "sent"
    assert len(mail.outbox) == 2
    again = client.post(f"/campaigns/{campaign.pk}/launch/", follow=True).content.decode()
    assert "Not launched: This campaign is sent: it cannot be launched." in again
    assert len(mail.outbox) == 2


def test_cancelling_a_scheduled_campaign_from_its_page(client, account, lyon):
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name="Later",
            message="Hi",
            segment=lyon,
            delivery_mode="scheduled",
            scheduled_at=timezone.now() + timedelta(days=1),
        )

    page = client.post(f"/campaigns/{campaign.pk}/cancel/", follow=True).content.decode()

    assert stored(account, campaign).status == "cancelled"
    assert "Cancelled:" in page
    assert "Cancel campaign" not in page


def test_a_sending_campaigns_stats_refresh(client, account, lyon):
    with account_scope(account):
        campaign = services.campaign_create(account=account, name="Now", message="Hi", segment=lyon)

    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    fragment = client.get(f"/campaigns/{campaign.pk}/stats/").content.decode()

    assert f'data-live-url="/campaigns/{campaign.pk}/stats/" data-live="true"' in page
    assert fragment.lstrip().startswith('<section class="card campaign-stats" id="campaign-stats"')
    assert 'data-live="true"' in fragment
    assert "Cancel campaign" in page
    assert "Launch now" not in page


@pytest.mark.django_db(transaction=True)
def test_the_recipients_filter_by_status_and_page(account, lyon, monkeypatch):
    CustomerFactory(account=account, first_name="Eve", last_name="Moe", city="Lyon")
    client = signed_in(account)
    with account_scope(account):
        campaign = services.campaign_create(account=account, name="Now", message="Hi", segment=lyon)
    monkeypatch.setattr(views, "RECIPIENTS_PAGE_SIZE", 2)
    url = f"/campaigns/{campaign.pk}/"

    def names(html):
        return re.findall(r'<td class="cell-name"><a href="/customers/\d+/">([^<]+)</a>', html)

    skipped = client.get(url, {"status": "skipped"}).content.decode()
    first = client.get(url).content.decode()
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(url + next_url).content.decode()
    delivered = client.get(url, {"status": "delivered"}).content.decode()
    delivered_next = re.search(r'href="([^"]+)" rel="next"', delivered).group(1)

    assert names(skipped) == ["Cy Ng"]
    assert "No address for the channel" in skipped
    assert len(names(first)) == 2
    assert len(names(second)) == 2
    assert sorted(names(first) + names(second)) == ["Ann Lee", "Bob Roy", "Cy Ng", "Eve Moe"]
    assert names(client.get(url, {"status": "nope"}).content.decode()) == names(first)
    assert "status=delivered" in delivered_next
    assert '<option value="delivered" selected>' in delivered
    with account_scope(account):
        assert Message.objects.filter(campaign=campaign.pk).count() == 4
