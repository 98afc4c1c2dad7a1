"""The campaigns API: create (draft, immediate, scheduled), read, change, delete, launch
and cancel, with the bad input of issue 11, roles and another account's credentials."""

import threading
from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Campaign, Message
from crm_project.tenancy import account_scope
from segments.rules import validate_rule
from tests.factories import CustomerFactory, OrderFactory, SegmentFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"
LYON = {"field": "city", "operator": "=", "value": "Lyon"}
ZERO_STATS = {
    "audience_size": 0,
    "queued": 0,
    "sent": 0,
    "failed": 0,
    "skipped": 0,
    "delivered": 0,
    "opened": 0,
    "clicked": 0,
    "unsubscribed": 0,
    "bounced": 0,
    "ctr": 0.0,
}


def url(campaign_id, action=""):
    return f"{CAMPAIGNS}{campaign_id}/" + (f"{action}/" if action else "")


def assert_error(response, status, code, attr):
    assert response.status_code == status, response.content
    errors = {(e["code"], e["attr"]) for e in response.json()["errors"]}
    assert (code, attr) in errors, response.json()


def stored(account, campaign_id):
    with account_scope(account):
        return Campaign.objects.filter(pk=campaign_id).first()


def campaign_names(account):
    with account_scope(account):
        return sorted(Campaign.objects.values_list("name", flat=True))


def message_count(account):
    with account_scope(account):
        return Message.objects.count()


def body(**fields):
    return {"name": "Spring", "rules": LYON, "message": "Hi {{ first_name }}", **fields}


def make_campaign(account, **fields):
    fields.setdefault("rules", None if "segment" in fields else validate_rule(LYON))
    fields.setdefault("draft", True)
    fields.setdefault("name", "Made")
    with account_scope(account):
        return services.campaign_create(account=account, message="Hi", **fields)


def in_an_hour():
    return (timezone.now() + timedelta(hours=1)).replace(microsecond=0)


def iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Create ---------------------------------------------------------------------------


def test_a_draft_is_created_with_its_defaults_and_sends_nothing(api_client, account):
    CustomerFactory(account=account, city="Lyon")
    response = api_client.post(CAMPAIGNS, body(status="draft"), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    read = api_client.get(url(created["id"])).json()
    assert read == created
    assert read["status"] == "draft"
    assert read["channel"] == "email"
    assert read["delivery_mode"] == "immediate"
    assert read["subject"] == "Spring"  # the name by default
    assert read["rules"] == validate_rule(LYON)
    assert read["segment"] is None
    assert read["started_at"] is None
    assert read["stats"] == ZERO_STATS
    assert stored(account, created["id"]).status == "draft"
    assert message_count(account) == 0


@pytest.mark.django_db(transaction=True)
def test_seed_000s_immediate_campaign_starts_at_once_and_is_sent(api_client, account):
    ann = CustomerFactory(account=account, first_name="Ann", email="ann@example.com")
    CustomerFactory(account=account, email="poor@example.com")
    OrderFactory(account=account, customer=ann, amount=Decimal("12000.00"))
    response = api_client.post(
        CAMPAIGNS,
        {
            "campaignName": "Summer Promo",
            "rules": {
                "logic": "AND",
                "rules": [{"field": "lifetimeSpend", "operator": ">", "value": 10000}],
            },
            "message": "Get 20% off, {{ first_name }}!",
            "deliveryMode": "IMMEDIATE",
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["name"] == "Summer Promo"
    assert response.json()["status"] == "sending"
    read = api_client.get(url(response.json()["id"])).json()
    assert read["status"] == "sent"
    assert read["started_at"] is not None
    assert read["finished_at"] is not None
    assert read["stats"]["audience_size"] == 1
    assert read["stats"]["sent"] == read["stats"]["delivered"] == 1
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert "Get 20% off, Ann!" in mail.outbox[0].body


def test_a_campaign_on_an_active_segment_keeps_the_segments_id(api_client, account):
    segment = SegmentFactory(account=account, rules=LYON)
    response = api_client.post(
        CAMPAIGNS,
        {"name": "Seg", "segment": str(segment.pk), "message": "Hi", "status": "DRAFT"},
        format="json",
    )
    assert response.status_code == 201, response.content
    read = api_client.get(url(response.json()["id"])).json()
    assert (read["segment"], read["rules"]) == (str(segment.pk), None)
    assert stored(account, read["id"]).segment_id == segment.pk


def test_scheduled_at_without_delivery_mode_schedules_it_in_the_accounts_timezone(
    api_client, account
):
    account.timezone = "Europe/Paris"
    account.save()
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("Europe/Paris"))
    local = local.replace(hour=9, minute=30, second=0, microsecond=0, tzinfo=None)
    response = api_client.post(
        CAMPAIGNS, body(scheduledAt=local.isoformat(), channel="SMS"), format="json"
    )
    assert response.status_code == 201, response.content
    read = api_client.get(url(response.json()["id"])).json()
    assert read["status"] == "scheduled"
    assert read["delivery_mode"] == "scheduled"
    assert read["channel"] == "sms"
    expected = local.replace(tzinfo=ZoneInfo("Europe/Paris"))
    assert read["scheduled_at"] == iso(expected)
    assert stored(account, read["id"]).scheduled_at == expected
    assert message_count(account) == 0


def test_a_scheduled_campaign_needs_a_time_to_come(api_client, account):
    past = iso(timezone.now() - timedelta(minutes=1))
    response = api_client.post(
        CAMPAIGNS, body(delivery_mode="scheduled", scheduled_at=past), format="json"
    )
    assert_error(response, 400, "past", "scheduled_at")
    response = api_client.post(CAMPAIGNS, body(delivery_mode="scheduled"), format="json")
    assert_error(response, 400, "required", "scheduled_at")
    assert campaign_names(account) == []


@pytest.mark.parametrize("status", ["sending", "sent", "scheduled", "bogus"])
def test_on_create_the_status_can_only_be_draft(api_client, account, status):
    response = api_client.post(CAMPAIGNS, body(status=status), format="json")
    assert_error(response, 400, "invalid_choice", "status")
    assert campaign_names(account) == []


# --- The audience: segment or rules --------------------------------------------------


def test_another_accounts_or_a_missing_segment_is_a_400_on_segment(
    api_client, account, other_account
):
    theirs = SegmentFactory(account=other_account, rules=LYON)
    for segment_id in (str(theirs.pk), "00000000-0000-0000-0000-000000000000"):
        response = api_client.post(
            CAMPAIGNS, {"name": "x", "segment": segment_id, "message": "Hi"}, format="json"
        )
        assert_error(response, 400, "does_not_exist", "segment")
    assert campaign_names(account) == []


def test_an_inactive_segment_is_a_400_on_segment(api_client, account):
    segment = SegmentFactory(account=account, rules=LYON, active=False)
    response = api_client.post(
        CAMPAIGNS, {"name": "x", "segment": str(segment.pk), "message": "Hi"}, format="json"
    )
    assert_error(response, 400, "inactive", "segment")
    assert campaign_names(account) == []


def test_a_segment_and_rules_together_or_neither_are_400s_on_segment(api_client, account):
    segment = SegmentFactory(account=account, rules=LYON)
    both = api_client.post(CAMPAIGNS, body(segment=str(segment.pk)), format="json")
    assert_error(both, 400, "conflict", "segment")
    neither = api_client.post(CAMPAIGNS, {"name": "x", "message": "Hi"}, format="json")
    assert_error(neither, 400, "required", "segment")
    assert campaign_names(account) == []


def test_bad_inline_rules_name_the_node_at_fault(api_client, account):
    rules = {"logic": "AND", "rules": [LYON, {"field": "city", "operator": "~", "value": "x"}]}
    response = api_client.post(CAMPAIGNS, body(rules=rules), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"].startswith("rules.rules.1")
    assert campaign_names(account) == []


# --- Templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "attr"),
    [
        ({"message": "{% if first_name %}Hi"}, "message"),
        ({"message": "{% load static %}Hi"}, "message"),
        ({"subject": "Hello {% if %}"}, "subject"),
        ({"message": "Hi \0 there"}, "message"),
        ({"message": "x" * 100 * 1024}, "message"),
    ],
    ids=["syntax", "forbidden-tag", "subject", "nul", "100-kb"],
)
def test_a_template_that_does_not_compile_is_a_400_naming_it(api_client, account, fields, attr):
    response = api_client.post(CAMPAIGNS, body(status="draft", **fields), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == attr
    assert campaign_names(account) == []


# --- Idempotency ----------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_answer_and_creates_once(api_client, account):
    first = api_client.post(CAMPAIGNS, body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post(CAMPAIGNS, body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = api_client.post(
        CAMPAIGNS, body(name="Other"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert_error(other, 409, "idempotency_key_reused", None)
    assert campaign_names(account) == ["Spring"]


# --- Read -----------------------------------------------------------------------------


def test_the_list_filters_orders_and_pages(api_client, account):
    make_campaign(account, name="B email")
    make_campaign(account, name="A sms", channel="sms")
    make_campaign(
        account,
        name="C scheduled",
        delivery_mode="scheduled",
        scheduled_at=in_an_hour(),
        draft=False,
    )
    everything = api_client.get(CAMPAIGNS, {"ordering": "name"}).json()
    assert everything["count"] == 3
    assert [c["name"] for c in everything["results"]] == ["A sms", "B email", "C scheduled"]
    sms = api_client.get(CAMPAIGNS, {"channel": "SMS"}).json()["results"]
    assert [c["name"] for c in sms] == ["A sms"]
    scheduled = api_client.get(CAMPAIGNS, {"status": "scheduled,sent"}).json()["results"]
    assert [c["name"] for c in scheduled] == ["C scheduled"]
    page = api_client.get(CAMPAIGNS, {"ordering": "-name", "page": 2, "page_size": 2}).json()
    assert (page["count"], [c["name"] for c in page["results"]]) == (3, ["A sms"])
    newest_first = api_client.get(CAMPAIGNS).json()["results"]
    assert [c["name"] for c in newest_first] == ["C scheduled", "A sms", "B email"]


def test_an_unknown_status_filter_is_a_400(api_client, account):
    assert_error(api_client.get(CAMPAIGNS, {"status": "bogus"}), 400, "invalid_choice", "status")


def test_a_page_of_campaigns_reads_its_stats_in_one_query(api_client, account):
    make_campaign(account, name="one")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = api_client.get(CAMPAIGNS)
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    api_client.get(CAMPAIGNS)  # the key's first request fills this process's key cache
    one = queries()
    for n in range(4):
        make_campaign(account, name=f"more {n}")
    five = queries()
    assert (one[1], five[1]) == (1, 5)
    assert five[0] == one[0]


# --- Update ---------------------------------------------------------------------------


def test_put_and_patch_are_partial_and_read_back(api_client, account):
    campaign = make_campaign(account, name="Old")
    segment = SegmentFactory(account=account, rules=LYON)
    response = api_client.patch(
        url(campaign.pk), {"campaignName": "New", "segment": str(segment.pk)}, format="json"
    )
    assert response.status_code == 200, response.content
    read = api_client.get(url(campaign.pk)).json()
    assert (read["name"], read["subject"], read["message"]) == ("New", "New", "Hi")
    assert (read["segment"], read["rules"]) == (str(segment.pk), None)
    response = api_client.put(url(campaign.pk), {"rules": LYON, "subject": "S"}, format="json")
    assert response.status_code == 200, response.content
    read = api_client.get(url(campaign.pk)).json()
    assert (read["name"], read["subject"]) == ("New", "S")
    assert (read["segment"], read["rules"]) == (None, validate_rule(LYON))
    assert stored(account, campaign.pk).name == "New"


def test_patching_scheduled_at_schedules_a_draft_when_it_is_launched(api_client, account):
    campaign = make_campaign(account)
    at = in_an_hour()
    response = api_client.patch(url(campaign.pk), {"scheduled_at": iso(at)}, format="json")
    assert response.status_code == 200, response.content
    read = api_client.get(url(campaign.pk)).json()
    assert (read["status"], read["delivery_mode"], read["scheduled_at"]) == (
        "draft",
        "scheduled",
        iso(at),
    )


def test_a_scheduled_campaign_made_immediate_waits_as_a_draft(api_client, account):
    campaign = make_campaign(
        account, delivery_mode="scheduled", scheduled_at=in_an_hour(), draft=False
    )
    assert campaign.status == "scheduled"
    response = api_client.patch(url(campaign.pk), {"delivery_mode": "immediate"}, format="json")
    assert response.status_code == 200, response.content
    read = api_client.get(url(campaign.pk)).json()
    assert (read["status"], read["delivery_mode"], read["scheduled_at"]) == (
        "draft",
        "immediate",
        None,
    )


def test_an_update_with_a_bad_template_or_status_changes_nothing(api_client, account):
    campaign = make_campaign(account, name="Keep")
    response = api_client.patch(
        url(campaign.pk), {"message": "{{ x|nosuchfilter }}"}, format="json"
    )
    assert_error(response, 400, "invalid_template", "message")
    response = api_client.patch(url(campaign.pk), {"status": "sent"}, format="json")
    assert_error(response, 400, "invalid_choice", "status")
    assert stored(account, campaign.pk).message == "Hi"


def test_a_campaign_that_started_cannot_be_changed(api_client, account):
    campaign = make_campaign(account, draft=False)  # immediate: sending
    response = api_client.patch(url(campaign.pk), {"name": "Late"}, format="json")
    assert_error(response, 409, "campaign_not_editable", None)
    assert stored(account, campaign.pk).name == "Made"


# --- Delete ---------------------------------------------------------------------------


def test_a_draft_is_deleted(api_client, account):
    campaign = make_campaign(account)
    assert api_client.delete(url(campaign.pk)).status_code == 204
    assert api_client.get(url(campaign.pk)).status_code == 404
    assert stored(account, campaign.pk) is None


@pytest.mark.django_db(transaction=True)
def test_a_campaign_with_messages_is_not_deleted(api_client, account):
    CustomerFactory(account=account, city="Lyon")
    campaign = make_campaign(account, draft=False)
    assert message_count(account) == 1
    assert_error(api_client.delete(url(campaign.pk)), 409, "campaign_has_messages", None)
    assert stored(account, campaign.pk) is not None


# --- Launch and cancel ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_launch_answers_202_the_stats_reach_the_end_and_a_second_launch_sends_nothing(
    api_client, account
):
    CustomerFactory(account=account, city="Lyon", email="a@example.com")
    CustomerFactory(account=account, city="Lyon", email="b@example.com")
    CustomerFactory(account=account, city="Lyon", email="", phone="+33612345678")
    campaign = make_campaign(account)
    response = api_client.post(url(campaign.pk, "launch"))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "sending"
    read = api_client.get(url(campaign.pk)).json()
    assert read["status"] == "sent"
    assert {k: read["stats"][k] for k in ("audience_size", "sent", "skipped", "queued")} == {
        "audience_size": 3,
        "sent": 2,
        "skipped": 1,
        "queued": 0,
    }
    assert len(mail.outbox) == 2
    again = api_client.post(url(campaign.pk, "launch"))
    assert_error(again, 409, "campaign_not_launchable", None)
    assert len(mail.outbox) == 2
    assert message_count(account) == 3
    assert api_client.get(url(campaign.pk)).json()["stats"] == read["stats"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_launches_start_it_once_and_send_each_message_once(api_client, account):
    for n in range(5):
        CustomerFactory(account=account, city="Lyon", email=f"c{n}@example.com")
    campaign = make_campaign(account)
    answers = []

    def launch():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client.raw_key}")
        try:
            answers.append(client.post(url(campaign.pk, "launch")).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=launch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [202] + [409] * 5
    assert sorted(m.to[0] for m in mail.outbox) == [f"c{n}@example.com" for n in range(5)]
    assert message_count(account) == 5
    assert api_client.get(url(campaign.pk)).json()["stats"]["sent"] == 5


def test_launching_a_campaign_that_is_sending_is_a_409(api_client, account):
    campaign = make_campaign(account, draft=False)
    assert_error(api_client.post(url(campaign.pk, "launch")), 409, "campaign_not_launchable", None)


def test_a_scheduled_campaign_launched_after_its_time_starts_now(api_client, account):
    campaign = make_campaign(
        account, delivery_mode="scheduled", scheduled_at=in_an_hour(), draft=False
    )
    with account_scope(account):
        Campaign.objects.filter(pk=campaign.pk).update(
            scheduled_at=timezone.now() - timedelta(seconds=5)
        )
    response = api_client.post(url(campaign.pk, "launch"))
    assert response.status_code == 202, response.content
    assert stored(account, campaign.pk).status == "sending"


def test_launching_a_campaign_whose_segment_was_deleted_is_a_400(api_client, account):
    segment = SegmentFactory(account=account, rules=LYON)
    campaign = make_campaign(account, segment=segment)
    assert api_client.delete(f"/api/v1/segments/{segment.pk}/").status_code == 204
    assert_error(api_client.post(url(campaign.pk, "launch")), 400, "does_not_exist", "segment")
    assert stored(account, campaign.pk).status == "draft"


def test_cancel_stops_a_scheduled_campaign_once(api_client, account):
    campaign = make_campaign(
        account, delivery_mode="scheduled", scheduled_at=in_an_hour(), draft=False
    )
    response = api_client.post(url(campaign.pk, "cancel"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert stored(account, campaign.pk).status == "cancelled"
    assert_error(api_client.post(url(campaign.pk, "cancel")), 409, "campaign_not_cancellable", None)
    assert_error(api_client.post(url(campaign.pk, "launch")), 409, "campaign_not_launchable", None)


# --- Roles and tenancy ----------------------------------------------------------------


def test_read_only_keys_read_but_cannot_write(read_only_client, account):
    campaign = make_campaign(account)
    assert read_only_client.get(CAMPAIGNS).status_code == 200
    assert read_only_client.get(url(campaign.pk)).status_code == 200
    writes = [
        read_only_client.post(CAMPAIGNS, body(status="draft"), format="json"),
        read_only_client.patch(url(campaign.pk), {"name": "x"}, format="json"),
        read_only_client.put(url(campaign.pk), {"name": "x"}, format="json"),
        read_only_client.delete(url(campaign.pk)),
        read_only_client.post(url(campaign.pk, "launch")),
        read_only_client.post(url(campaign.pk, "cancel")),
    ]
    assert [r.status_code for r in writes] == [403] * len(writes)
    assert campaign_names(account) == ["Made"]
    assert stored(account, campaign.pk).status == "draft"


def test_members_write_campaigns(member_client, account):
    response = member_client.post(CAMPAIGNS, body(status="draft"), format="json")
    assert response.status_code == 201, response.content
    assert member_client.post(url(response.json()["id"], "cancel")).status_code == 200
    assert stored(account, response.json()["id"]).status == "cancelled"


def test_another_account_sees_none_of_it(other_api_client, account):
    campaign = make_campaign(account)
    assert other_api_client.get(CAMPAIGNS).json()["count"] == 0
    answers = [
        other_api_client.get(url(campaign.pk)),
        other_api_client.patch(url(campaign.pk), {"name": "x"}, format="json"),
        other_api_client.put(url(campaign.pk), {"name": "x"}, format="json"),
        other_api_client.delete(url(campaign.pk)),
        other_api_client.post(url(campaign.pk, "launch")),
        other_api_client.post(url(campaign.pk, "cancel")),
        other_api_client.get(url(campaign.pk, "recipients")),
    ]
    assert [r.status_code for r in answers] == [404] * len(answers)
    assert stored(account, campaign.pk).name == "Made"
    assert stored(account, campaign.pk).status == "draft"


def test_another_accounts_segment_in_an_update_is_a_400(other_api_client, other_account, account):
    mine = SegmentFactory(account=account, rules=LYON)
    theirs = make_campaign(other_account)
    response = other_api_client.patch(url(theirs.pk), {"segment": str(mine.pk)}, format="json")
    assert_error(response, 400, "does_not_exist", "segment")
    with account_scope(other_account):
        assert Campaign.objects.get(pk=theirs.pk).segment_id is None
