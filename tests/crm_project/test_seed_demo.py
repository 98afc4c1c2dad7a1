"""`manage.py seed_demo` fills an account so that it looks like a running business:
customers who signed up before they ordered, leads in every status and from every
source (some converted into the customers), answered feedback, and a sent campaign.
The same seed twice adds nothing the second time."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Min, Sum
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns.models import Campaign, Message
from crm_project.api.pagination import row_count
from crm_project.tenancy import account_scope
from customers.models import Customer
from feedback.models import Feedback
from leads import selectors as lead_selectors
from leads.models import Lead, LeadDay, LeadSource, LeadStatus
from orders.models import Order
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def seed(account, **sizes):
    out = StringIO()
    sizes = {"customers": 150, "orders": 700, "products": 20, **sizes}
    call_command("seed_demo", account=account.slug, stdout=out, **sizes)
    return out.getvalue()


@pytest.fixture
def seeded(account):
    agents = [AgentFactory(account=account) for _ in range(3)]
    output = seed(account)
    return {"output": output, "agents": agents}


def test_customers_signed_up_before_their_first_order(account, seeded):
    now = timezone.now()
    with account_scope(account):
        customers = list(Customer.objects.annotate(first_order=Min("orders__ordered_at")))
        assert len(customers) == 150
        with_orders = [c for c in customers if c.first_order is not None]
        assert 30 < len(with_orders) < 150
        for customer in with_orders:
            assert customer.created_at <= customer.first_order
            assert customer.first_order - customer.created_at <= timedelta(days=180)
        recent = [c for c in customers if c.created_at > now - timedelta(days=30)]
        assert len(recent) < len(customers) / 5
        assert min(c.created_at for c in customers) < now - timedelta(days=365)
        assert max(c.created_at for c in customers) <= now


def test_leads_of_every_status_and_source_some_converted_into_customers(account, seeded):
    now = timezone.now()
    agent_ids = {agent.pk for agent in seeded["agents"]}
    with account_scope(account):
        leads = list(Lead.objects.all())
        assert len(leads) == 75  # customers / 2
        assert {lead.status for lead in leads} == set(LeadStatus.values)
        assert {lead.source for lead in leads} == set(LeadSource.values)
        converted = [lead for lead in leads if lead.status == LeadStatus.CONVERTED]
        assert 3 <= len(converted) <= 30
        customers = Customer.objects.in_bulk([lead.converted_customer_id for lead in converted])
        assert len(customers) == len(converted)  # each lead its own customer
        for lead in converted:
            customer = customers[lead.converted_customer_id]
            assert customer.source_lead == lead.pk
            assert customer.email == lead.email
            assert lead.converted_at == customer.created_at
            assert lead.created_at < lead.converted_at
        assert Customer.objects.filter(source_lead__isnull=False).count() == len(converted)
        assert all(lead.converted_at is None for lead in leads if lead not in converted)
        open_leads = [lead for lead in leads if lead not in converted]
        assert all(now - timedelta(days=366) < lead.created_at <= now for lead in open_leads)
        assigned = [lead for lead in leads if lead.assigned_to_id is not None]
        assert {lead.assigned_to_id for lead in assigned} == agent_ids
        assert len(leads) / 3 < len(assigned) < len(leads)
        # The counters and the report's rollup follow the inserted rows exactly.
        by_status = dict(Lead.objects.values_list("status").annotate(n=Count("id")))
        kept = lead_selectors.lead_status_counts(Lead.objects.all(), whole_table=True)
        assert {status: n for status, n in kept.items() if n} == by_status
        assert row_count("leads") == 75
        rolled = dict(
            LeadDay.objects.filter(dimension="status")
            .values_list("value")
            .annotate(n=Sum("leads"))
            .filter(n__gt=0)
        )
        assert rolled == by_status


def test_feedback_answered_with_ratings_and_comments(account, seeded):
    with account_scope(account):
        requests = list(Feedback.objects.all())
        assert 40 <= len(requests) <= 70  # orders / 10, less cancelled and refunded
        answered = [f for f in requests if f.answered_at is not None]
        assert 0.4 * len(requests) < len(answered) < 0.8 * len(requests)
        assert {f.rating for f in answered} <= {1, 2, 3, 4, 5}
        assert sum(f.rating for f in answered) / len(answered) > 3.3
        assert all(f.rating is None and f.comment == "" for f in requests if f not in answered)
        commented = [f for f in answered if f.comment]
        assert len(commented) > len(answered) / 2
        assert all(f.category for f in commented)
        first_orders = dict(
            Order.objects.values_list("customer_id").annotate(first=Min("ordered_at"))
        )
        for f in requests:
            assert f.requested_at > first_orders[f.customer_id]
        for f in answered:
            assert f.requested_at < f.answered_at <= f.requested_at + timedelta(days=2, minutes=5)


def test_one_sent_campaign_whose_figures_are_its_messages(account, seeded):
    with account_scope(account):
        campaign = Campaign.objects.get()
        assert campaign.status == "sent"
        assert campaign.started_at < campaign.finished_at < timezone.now()
        messages = Message.objects.filter(campaign=campaign.pk)
        statuses = set(messages.values_list("status", flat=True))
        assert {"sent", "delivered", "opened", "clicked"} <= statuses
        assert not statuses & {"queued", "sending"}
        assert not messages.exclude(status="skipped").filter(sent_at__isnull=True).exists()
        assert not messages.filter(status="clicked", clicked_at__isnull=True).exists()
        recipients = Customer.objects.filter(pk__in=messages.values("customer_id"))
        assert not recipients.filter(total_orders__lt=2).exists()
        stats = campaign_selectors.campaign_stats(account, [campaign.pk])[campaign.pk]
        assert stats["audience_size"] == messages.count()
        assert (
            stats["sent"]
            == messages.filter(status__in=["sent", "delivered", "opened", "clicked"]).count()
        )
        assert 0 < stats["clicked"] < stats["opened"] < stats["delivered"] <= stats["sent"]
        skipped = messages.filter(status="skipped")
        assert set(skipped.values_list("error", flat=True)) <= {"blocked", "opted_out"}


def test_the_summary_says_what_was_made_and_a_rerun_adds_nothing(account, seeded):
    assert "75 leads" in seeded["output"]
    assert "1 sent campaign" in seeded["output"]
    with account_scope(account):
        before = {
            "customers": sorted(Customer.objects.values_list("pk", "created_at", "source_lead")),
            "leads": sorted(Lead.objects.values_list("pk", "status", "created_at")),
            "feedback": sorted(Feedback.objects.values_list("pk", "rating", "answered_at")),
            "campaigns": Campaign.objects.count(),
            "messages": sorted(Message.objects.values_list("pk", "status")),
            "lead_days": LeadDay.objects.count(),
        }
    output = seed(account)
    assert "0 customers, 0 orders" in output
    assert "0 leads (0 converted); 0 feedback requests (0 answered); 0 sent campaign" in output
    with account_scope(account):
        after = {
            "customers": sorted(Customer.objects.values_list("pk", "created_at", "source_lead")),
            "leads": sorted(Lead.objects.values_list("pk", "status", "created_at")),
            "feedback": sorted(Feedback.objects.values_list("pk", "rating", "answered_at")),
            "campaigns": Campaign.objects.count(),
            "messages": sorted(Message.objects.values_list("pk", "status")),
            "lead_days": LeadDay.objects.count(),
        }
    assert after == before


def test_an_account_without_agents_gets_unassigned_leads(account):
    seed(account, customers=40, orders=100, leads=20, feedback=0)
    with account_scope(account):
        assert Lead.objects.count() == 20
        assert not Lead.objects.filter(assigned_to__isnull=False).exists()
        assert Feedback.objects.count() == 0
