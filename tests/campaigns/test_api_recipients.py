"""A campaign's recipients over the API (cursor pages, the status filter) and the
audience preview (count against reachable)."""

import pytest
from django.core import mail

from campaigns import services
from crm_project.tenancy import account_scope
from segments.rules import validate_rule
from tests.factories import CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"
PREVIEW = f"{CAMPAIGNS}preview-audience/"
LYON = {"field": "city", "operator": "=", "value": "Lyon"}


def assert_error(response, status, code, attr):
    assert response.status_code == status, response.content
    errors = {(e["code"], e["attr"]) for e in response.json()["errors"]}
    assert (code, attr) in errors, response.json()


def lyon_customers(account):
    """Three reachable by email, and one of each reason not to be."""
    return {
        "ann": CustomerFactory(account=account, city="Lyon", email="ann@example.com"),
        "bob": CustomerFactory(account=account, city="Lyon", email="bob@example.com"),
        "cyd": CustomerFactory(
            account=account, city="Lyon", email="cyd@example.com", phone="+33612345678"
        ),
        "dup": CustomerFactory(account=account, city="Lyon", email=" ANN@example.com"),
        "out": CustomerFactory(
            account=account, city="Lyon", email="out@example.com", email_opt_in=False
        ),
        "none": CustomerFactory(account=account, city="Lyon", email="", phone="+33698765432"),
        "paris": CustomerFactory(account=account, city="Paris", email="paris@example.com"),
    }


def sent_campaign(account):
    with account_scope(account):
        return services.campaign_create(
            account=account, name="Sent", message="Hi", rules=validate_rule(LYON)
        )


# --- Recipients -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_recipients_walk_in_cursor_pages_with_their_outcome(api_client, account):
    people = lyon_customers(account)
    campaign = sent_campaign(account)
    url = f"{CAMPAIGNS}{campaign.pk}/recipients/"
    first = api_client.get(url, {"page_size": 4})
    assert first.status_code == 200, first.content
    assert "count" not in first.json()
    rows, page = [], first.json()
    while True:
        rows += page["results"]
        if page["next"] is None:
            break
        page = api_client.get(page["next"]).json()
    assert len(rows) == 6
    assert len({row["id"] for row in rows}) == 6
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    by_customer = {row["customer"]: row for row in rows}
    outcome = {
        name: (by_customer[str(c.pk)]["status"], by_customer[str(c.pk)]["error"])
        for name, c in people.items()
        if name != "paris"
    }
    assert outcome == {
        "ann": ("delivered", ""),
        "bob": ("delivered", ""),
        "cyd": ("delivered", ""),
        "dup": ("skipped", "duplicate_address"),
        "out": ("skipped", "opted_out"),
        "none": ("skipped", "no_address"),
    }
    ann = by_customer[str(people["ann"].pk)]
    assert ann["address"] == "ann@example.com"
    assert (ann["channel"], ann["source"], ann["tries"]) == ("email", "campaign", 1)
    assert ann["sent_at"] is not None
    assert ann["delivered_at"] is not None
    assert ann["opened_at"] is None
    assert ann["clicked_at"] is None
    assert len(mail.outbox) == 3


@pytest.mark.django_db(transaction=True)
def test_recipients_filter_by_status_and_take_numbered_pages(api_client, account):
    lyon_customers(account)
    campaign = sent_campaign(account)
    url = f"{CAMPAIGNS}{campaign.pk}/recipients/"
    skipped = api_client.get(url, {"status": "SKIPPED"}).json()["results"]
    assert sorted(row["error"] for row in skipped) == [
        "duplicate_address",
        "no_address",
        "opted_out",
    ]
    either = api_client.get(url, {"status": "skipped,delivered", "page": 1, "page_size": 5})
    assert either.json()["count"] == 6
    assert len(either.json()["results"]) == 5
    assert api_client.get(url, {"status": "failed"}).json()["results"] == []
    assert_error(api_client.get(url, {"status": "lost"}), 400, "invalid_choice", "status")


def test_a_forged_recipients_cursor_is_a_400(api_client, account):
    campaign = sent_campaign(account)
    response = api_client.get(f"{CAMPAIGNS}{campaign.pk}/recipients/", {"cursor": "bogus"})
    assert_error(response, 400, "invalid", "cursor")


def test_read_only_keys_read_recipients_and_other_accounts_get_404(
    read_only_client, other_api_client, account
):
    campaign = sent_campaign(account)
    url = f"{CAMPAIGNS}{campaign.pk}/recipients/"
    assert read_only_client.get(url).status_code == 200
    assert other_api_client.get(url).status_code == 404
    assert api_missing(read_only_client).status_code == 404


def api_missing(client):
    return client.get(f"{CAMPAIGNS}00000000-0000-0000-0000-000000000000/recipients/")


# --- Audience preview -----------------------------------------------------------------


def test_preview_counts_the_audience_and_those_the_channel_reaches(api_client, account):
    people = lyon_customers(account)
    email = api_client.post(PREVIEW, {"rules": LYON}, format="json")
    assert email.status_code == 200, email.content
    assert (email.json()["count"], email.json()["reachable"]) == (6, 3)
    sample_ids = {row["id"] for row in email.json()["sample"]}
    assert sample_ids == {str(c.pk) for name, c in people.items() if name != "paris"}
    assert set(email.json()["sample"][0]) >= {"id", "number", "first_name", "email", "phone"}
    sms = api_client.post(PREVIEW, {"rules": LYON, "channel": "SMS"}, format="json").json()
    assert (sms["count"], sms["reachable"]) == (6, 2)


def test_preview_reads_an_active_segment_of_the_account(api_client, account, other_account):
    lyon_customers(account)
    segment = SegmentFactory(account=account, rules=LYON)
    response = api_client.post(PREVIEW, {"segment": str(segment.pk)}, format="json")
    assert (response.json()["count"], response.json()["reachable"]) == (6, 3)
    inactive = SegmentFactory(account=account, rules=LYON, active=False)
    response = api_client.post(PREVIEW, {"segment": str(inactive.pk)}, format="json")
    assert_error(response, 400, "inactive", "segment")
    theirs = SegmentFactory(account=other_account, rules=LYON)
    response = api_client.post(PREVIEW, {"segment": str(theirs.pk)}, format="json")
    assert_error(response, 400, "does_not_exist", "segment")


def test_preview_needs_one_audience_and_valid_rules(api_client, account):
    segment = SegmentFactory(account=account, rules=LYON)
    assert_error(api_client.post(PREVIEW, {}, format="json"), 400, "required", "segment")
    both = api_client.post(PREVIEW, {"rules": LYON, "segment": str(segment.pk)}, format="json")
    assert_error(both, 400, "conflict", "segment")
    bad = api_client.post(PREVIEW, {"rules": {"field": "nope", "operator": "="}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"].startswith("rules")
    assert_error(
        api_client.post(PREVIEW, {"rules": LYON, "channel": "fax"}, format="json"),
        400,
        "invalid_choice",
        "channel",
    )


def test_every_role_may_preview_and_another_account_sees_its_own_customers(
    read_only_client, other_api_client, account
):
    lyon_customers(account)
    mine = read_only_client.post(PREVIEW, {"rules": LYON}, format="json")
    assert mine.status_code == 200
    assert mine.json()["count"] == 6
    theirs = other_api_client.post(PREVIEW, {"rules": LYON}, format="json").json()
    assert (theirs["count"], theirs["reachable"], theirs["sample"]) == (0, 0, [])
