"""`GET /api/v1/reports/leads/`: the account's leads by status, source and agent, the
conversion rate and time, the average score and the newest, within `date_from` /
`date_to` (creation time)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm_project import rollups
from crm_project.tenancy import account_scope
from leads.models import Lead, LeadSource, LeadStatus
from reports import selectors
from tests.factories import AgentFactory
from tests.leads.conftest import LeadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/leads/"
NO_STATUS = dict.fromkeys(LeadStatus.values, 0)
NO_SOURCE = dict.fromkeys(LeadSource.values, 0)


def report(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def make_lead(account, *, created_at=None, converted_at=None, **fields):
    """A lead made as the API makes one; its creation (and conversion) time set after."""
    lead = LeadFactory(account=account, **fields)
    changes = {}
    if created_at is not None:
        changes["created_at"] = created_at
    if converted_at is not None:
        changes |= {"status": LeadStatus.CONVERTED, "converted_at": converted_at}
    if changes:
        with account_scope(account):
            Lead.objects.filter(pk=lead.pk).update(**changes)
    return lead


@pytest.fixture
def agents(account):
    return AgentFactory(account=account), AgentFactory(account=account)


@pytest.fixture
def pipeline(account, agents):
    """Five leads: two of Ann's (one converted in 2 days, one converted in 4), one of
    Bob's qualified, two unassigned (one new from last year)."""
    ann, bob = agents
    now = timezone.now()
    return [
        make_lead(account, assigned_to=ann, source="website", score=80,
                  created_at=now - timedelta(days=10), converted_at=now - timedelta(days=8)),
        make_lead(account, assigned_to=ann, source="website", score=60,
                  created_at=now - timedelta(days=50), converted_at=now - timedelta(days=46)),
        make_lead(account, assigned_to=bob, source="referral", score=40, status="qualified",
                  created_at=now - timedelta(days=5)),
        make_lead(account, source="campaign", score=20, status="lost",
                  created_at=now - timedelta(days=1)),
        make_lead(account, score=0, created_at=now - timedelta(days=400)),
    ]  # fmt: skip


def test_an_account_without_leads_reports_every_key_with_zeros(api_client, agents):
    ann, bob = agents

    assert report(api_client) == {
        "total": 0,
        "by_status": NO_STATUS,
        "by_source": NO_SOURCE,
        "by_agent": {str(ann.pk): 0, str(bob.pk): 0, "unassigned": 0},
        "conversion_rate": 0.0,
        "average_score": None,
        "average_days_to_convert": None,
        "new_last_30_days": 0,
    }


def test_the_report_counts_every_status_source_and_agent(api_client, agents, pipeline):
    ann, bob = agents

    body = report(api_client)

    assert body == {
        "total": 5,
        "by_status": NO_STATUS | {"converted": 2, "qualified": 1, "lost": 1, "new": 1},
        "by_source": NO_SOURCE | {"website": 2, "referral": 1, "campaign": 1, "other": 1},
        "by_agent": {str(ann.pk): 2, str(bob.pk): 1, "unassigned": 2},
        "conversion_rate": 0.4,
        "average_score": 40.0,
        "average_days_to_convert": 3.0,  # (2 + 4) / 2
        "new_last_30_days": 3,
    }
    assert sum(body["by_status"].values()) == sum(body["by_agent"].values()) == body["total"]


def test_rates_and_averages_are_rounded(account, api_client):
    now = timezone.now()
    make_lead(account, score=1, created_at=now - timedelta(days=3), converted_at=now)
    make_lead(account, score=2)
    make_lead(account, score=2)

    body = report(api_client)

    assert body["conversion_rate"] == 0.3333
    assert body["average_score"] == 1.67
    assert body["average_days_to_convert"] == 3.0


def test_a_lead_converted_then_moved_on_counts_by_its_status(account, api_client):
    """Conversion is the status, as by_status counts it."""
    lead = make_lead(account, converted_at=timezone.now())
    with account_scope(account):
        Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.WON)

    body = report(api_client)

    assert (body["by_status"]["won"], body["conversion_rate"]) == (1, 0.0)
    assert body["average_days_to_convert"] is None


def test_a_window_filters_by_creation_time(api_client, account, pipeline):
    today = datetime.now(ZoneInfo(account.timezone)).date()
    week_ago = (today - timedelta(days=7)).isoformat()

    recent = report(api_client, date_from=week_ago)
    older = report(api_client, date_to=(today - timedelta(days=8)).isoformat())

    assert (recent["total"], recent["by_status"]["qualified"], recent["by_status"]["lost"]) == (
        2,
        1,
        1,
    )
    assert recent["conversion_rate"] == 0.0
    assert older["total"] == 3
    assert older["by_status"]["converted"] == 2
    assert older["new_last_30_days"] == 1
    assert older["average_days_to_convert"] == 3.0


def test_a_bare_date_is_midnight_in_the_accounts_timezone_and_date_to_includes_its_day(
    api_client, account
):
    account.timezone = "America/New_York"
    account.save(update_fields=["timezone"])
    # 2024-03-10 23:30 in New York is 2024-03-11 03:30 UTC.
    make_lead(account, created_at=datetime(2024, 3, 11, 3, 30, tzinfo=UTC))

    assert report(api_client, date_from="2024-03-10", date_to="2024-03-10")["total"] == 1
    assert report(api_client, date_from="2024-03-11")["total"] == 0
    assert report(api_client, date_to="2024-03-09")["total"] == 0
    # A datetime is exact, and `date_to` exclusive.
    assert report(api_client, date_to="2024-03-11T03:30:00Z")["total"] == 0
    assert report(api_client, date_from="2024-03-11T03:30:00Z")["total"] == 1


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ({"date_from": "last week"}, "date_from"),
        ({"date_to": "2026-02-30"}, "date_to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"date_from": "0001-01-01T00:00:00+05:00"}, "date_from"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_parameter(api_client, query, attr):
    response = api_client.get(URL, query)

    assert response.status_code == 400, response.content
    assert [error["attr"] for error in response.json()["errors"]] == [attr]


def test_another_account_sees_only_its_own_leads_and_agents(
    other_api_client, other_account, pipeline
):
    theirs = AgentFactory(account=other_account)
    make_lead(other_account, assigned_to=theirs, source="social", score=10)

    body = report(other_api_client)

    assert body["total"] == 1
    assert body["by_agent"] == {str(theirs.pk): 1, "unassigned": 0}
    assert body["by_source"] == NO_SOURCE | {"social": 1}
    assert body["average_score"] == 10.0


def test_every_role_reads_the_report_and_anonymous_callers_none(
    read_only_client, member_client, anonymous_client, pipeline
):
    assert report(read_only_client)["total"] == 5
    assert report(member_client)["total"] == 5
    assert anonymous_client.get(URL).status_code == 401


def test_the_report_is_a_handful_of_queries_whatever_the_leads(
    account, agents, pipeline, django_assert_max_num_queries
):
    # The rollup for the whole days, the leads for the edges of the last 30 days, the
    # rollup again for its whole days, the agents.
    with account_scope(account), django_assert_max_num_queries(4):
        figures = selectors.lead_report(account)

    assert figures["total"] == 5


def reference(account, start=None, end=None):
    """The report's counting figures computed from the leads themselves."""
    with account_scope(account):
        leads = list(Lead.objects.all())
    kept = [
        lead
        for lead in leads
        if (start is None or lead.created_at >= start) and (end is None or lead.created_at < end)
    ]
    converted = [lead for lead in kept if lead.status == LeadStatus.CONVERTED]
    days = sum((lead.converted_at - lead.created_at).total_seconds() for lead in converted)
    return {
        "total": len(kept),
        "by_status": {v: sum(lead.status == v for lead in kept) for v in LeadStatus.values},
        "by_source": {v: sum(lead.source == v for lead in kept) for v in LeadSource.values},
        "unassigned": sum(lead.assigned_to_id is None for lead in kept),
        "score": round(sum(lead.score for lead in kept) / len(kept), 2) if kept else None,
        "days": round(days / len(converted) / 86_400, 2) if converted else None,
    }


def counted(account, start=None, end=None):
    with account_scope(account):
        figures = selectors.lead_report(account, start=start, end=end)
    return {
        "total": figures["total"],
        "by_status": figures["by_status"],
        "by_source": figures["by_source"],
        "unassigned": figures["by_agent"]["unassigned"],
        "score": figures["average_score"],
        "days": figures["average_days_to_convert"],
    }


def test_the_rollup_follows_every_write_of_the_leads_and_its_folding(account, agents, pipeline):
    """Whole days come from the rollup the leads' triggers keep, part-days from the
    leads: after updates, reassignments, conversions, deletes and the rollup's folding,
    every window answers what the leads themselves say."""
    from leads import services as lead_services

    ann, bob = agents
    now = timezone.now()
    windows = [
        (None, None),
        (now - timedelta(days=60), None),
        (now - timedelta(days=49, hours=7), now - timedelta(days=4, minutes=13)),
        (now - timedelta(hours=30), now - timedelta(hours=20)),
        (None, now - timedelta(days=9, hours=1)),
    ]
    with account_scope(account):
        Lead.objects.filter(pk=pipeline[2].pk).update(status="won", score=90, source="email")
        Lead.objects.filter(pk=pipeline[4].pk).update(assigned_to=bob)
        Lead.objects.filter(assigned_to=ann).update(assigned_to=None)  # several at once
        lead_services.lead_update(lead=Lead.objects.get(pk=pipeline[3].pk), status="contacted")
        Lead.objects.filter(pk=pipeline[0].pk).delete()
    for start, end in windows:
        assert counted(account, start, end) == reference(account, start, end), (start, end)

    with account_scope(account):
        lead_days = rollups.rollup("leads.leadday")
        read, written = rollups.rollup_compact(lead_days, account_id=account.pk)
        assert read > written > 0
        assert rollups.rollup_compact(lead_days, account_id=account.pk) == (0, 0)
    for start, end in windows:
        assert counted(account, start, end) == reference(account, start, end), (start, end)


def test_the_rollup_is_folded_for_the_accounts_that_need_it_by_beat(
    account, pipeline, django_capture_on_commit_callbacks
):
    from crm_project import tasks as platform_tasks
    from leads.models import LeadDay

    with account_scope(account):
        Lead.objects.filter(pk=pipeline[1].pk).update(score=61)
        before = LeadDay.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert platform_tasks.rollups_compact_all.delay().get() == 1
    with account_scope(account):
        assert LeadDay.objects.count() < before
    assert counted(account) == reference(account)
