"""Campaigns in a real browser: compose an email campaign on a segment, watch the
rendered preview and the audience follow what is typed and chosen, launch it and see
its counts reach the end; and a campaign's pages following it chunk by chunk as it
sends."""

import re
import tempfile
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from campaigns import delivery, services
from campaigns.models import Campaign
from crm_project.celery import app as celery_app
from crm_project.tenancy import account_scope
from tests.browser.test_login import sign_in
from tests.factories import CustomerFactory, SegmentFactory

# Looked at by people: the composer, and the campaign's page once sent.
SCREENSHOT = Path(tempfile.gettempdir()) / "campaigns.png"
DETAIL_SCREENSHOT = Path(tempfile.gettempdir()) / "campaign.png"

pytestmark = pytest.mark.browser

LYON = {"field": "city", "operator": "=", "value": "Lyon"}


@pytest.fixture
def lyon(account, other_account):
    """Three customers in Lyon (Cy has a phone and no email), one in Paris, the "Lyon"
    segment; an inactive segment and another account's, never offered."""
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
    SegmentFactory(account=account, name="Dormant", rules=LYON, active=False)
    SegmentFactory(account=other_account, name="Globex secret", rules=LYON)
    return SegmentFactory(account=account, name="Lyon", rules=LYON)


def expect_audience(page, count, reachable):
    expect(page.locator("#audience-count")).to_have_attribute("data-count", str(count))
    expect(page.locator("#audience-reachable")).to_have_attribute("data-count", str(reachable))


def test_compose_preview_launch_and_see_the_counts_reach_the_end(page, user, account, lyon):
    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page).to_have_url(re.compile(r"/campaigns/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    expect(page.locator("#campaign-rows")).to_contain_text("No campaigns yet.")
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")

    page.get_by_label("Name").fill("Spring sale")
    segment = page.get_by_label("Segment")
    expect(segment.locator("option")).to_have_text(["Choose a segment…", "Lyon (3 customers)"])
    expect(page.locator("#audience-preview")).to_contain_text("Choose a segment")
    segment.select_option(label="Lyon (3 customers)")
    expect_audience(page, 3, 2)  # Cy has no email address
    expect(page.locator("#audience-preview")).to_contain_text("Ann Lee")

    # By SMS only Cy is reachable, and an SMS has no subject.
    page.get_by_label("Channel").select_option("sms")
    expect_audience(page, 3, 1)
    expect(page.get_by_label("Subject")).to_be_hidden()
    page.get_by_label("Channel").select_option("email")
    expect_audience(page, 3, 2)
    expect(page.get_by_label("Subject")).to_be_visible()

    # The preview renders for the account's first customer as it is typed.
    expect(page.locator("#message-preview")).to_contain_text("For Ann Lee")
    expect(page.locator("#preview-subject")).to_have_text("Spring sale")
    page.get_by_label("Subject").fill("Hello {{ first_name }}")
    expect(page.locator("#preview-subject")).to_have_text("Hello Ann")
    message = page.get_by_label("Message")
    message.fill('Hi {{ first_name|upper }},\n{{ city|default:"near you" }} gets 20% off.')
    expect(page.locator("#preview-body")).to_have_text("Hi ANN,\nLyon gets 20% off.")

    # A template error shows with its line, then goes once fixed.
    message.fill("Hi {{ first_name }},\n{{ city|nope }}")
    problem = page.locator("#message-preview .template-problem")
    expect(problem).to_contain_text("Line 2:")
    expect(problem).to_contain_text("nope")
    expect(problem.locator(".problem-line")).to_have_text("2{{ city|nope }}")
    message.fill("Hi {{ first_name }},\n{{ city }} gets 20% off.")
    expect(problem).to_have_count(0)
    expect(page.locator("#preview-body")).to_have_text("Hi Ann,\nLyon gets 20% off.")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Launch now").click()

    expect(page).to_have_url(re.compile(r"/campaigns/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring sale")
    expect(page.locator("#campaign-status")).to_have_text("Sent")
    expect(page.locator(".progress-figure")).to_have_text("3 of 3")
    expect(page.locator("#stat-audience_size")).to_have_text("3")
    expect(page.locator("#stat-sent")).to_have_text("2")
    expect(page.locator("#stat-delivered")).to_have_text("2")
    expect(page.locator("#stat-skipped")).to_have_text("1")
    expect(page.locator("#stat-queued")).to_have_text("0")
    recipients = page.locator("#recipients tbody")
    expect(recipients.locator(".badge-message-delivered")).to_have_count(2)
    expect(page.get_by_role("button", name="Launch now")).to_have_count(0)
    page.screenshot(path=DETAIL_SCREENSHOT, full_page=True)
    assert sorted(m.subject for m in mail.outbox) == ["Hello Ann", "Hello Bob"]
    assert sorted(m.body for m in mail.outbox) == [
        "Hi Ann,\nLyon gets 20% off.",
        "Hi Bob,\nLyon gets 20% off.",
    ]

    page.get_by_label("Recipient status").select_option("skipped")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?status=skipped$"))
    expect(recipients.locator("tr")).to_have_count(1)
    expect(recipients).to_contain_text("Cy Ng")
    expect(recipients).to_contain_text("No address for the channel")

    page.get_by_role("link", name="Campaigns").first.click()
    row = page.locator("#campaign-rows tr", has_text="Spring sale")
    expect(row).to_contain_text("Sent")
    expect(row.locator(".progress-figure")).to_have_text("3 of 3")
    with account_scope(account):
        [campaign] = Campaign.objects.all()
    assert (campaign.name, campaign.status, campaign.segment_id) == ("Spring sale", "sent", lyon.pk)


def test_the_pages_follow_a_campaign_as_it_sends(page, user, account, lyon):
    """Delivery is driven from the test, step by step, while the pages poll: no task
    runs (the launch's task stays in the broker, purged after)."""
    celery_app.conf.task_always_eager = False
    try:
        with account_scope(account):
            campaign = services.campaign_create(
                account=account, name="Flash", message="Hi {{ first_name }}", segment=lyon
            )
        sign_in(page, user)
        page.goto("/campaigns/")
        row = page.locator("#campaign-rows tr", has_text="Flash")
        expect(row).to_contain_text("Sending")
        expect(row).to_contain_text("Preparing recipients…")

        # Its recipients written: Cy skipped (no email), two queued.
        assert delivery.campaign_materialize(account_id=account.pk, campaign_id=campaign.pk) == 2
        expect(row.locator(".progress-figure")).to_have_text("1 of 3")

        row.get_by_role("link", name="Flash").click()
        expect(page.locator("#campaign-status")).to_have_text("Sending")
        expect(page.locator(".progress-figure")).to_have_text("1 of 3")
        expect(page.locator("#stat-queued")).to_have_text("2")
        expect(page.get_by_role("button", name="Cancel campaign")).to_be_visible()

        assert delivery.messages_send_chunk(account_id=account.pk).sent == 2
        expect(page.locator("#campaign-status")).to_have_text("Sent")
        expect(page.locator(".progress-figure")).to_have_text("3 of 3")
        expect(page.locator("#stat-sent")).to_have_text("2")
        expect(page.locator("#stat-queued")).to_have_text("0")
        # The page reloaded once the campaign was done: its recipients and actions too.
        expect(page.locator("#recipients .badge-message-delivered")).to_have_count(2)
        expect(page.get_by_role("button", name="Cancel campaign")).to_have_count(0)
        assert len(mail.outbox) == 2
    finally:
        celery_app.control.purge()
