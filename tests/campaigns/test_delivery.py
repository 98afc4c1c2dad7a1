"""The delivery path end to end, in process (Celery eager): a campaign's recipients
written once with their skips, chunks claimed, sent, marked, and the campaign sent."""

import pytest
from django.core import mail

from campaigns import services
from campaigns.models import Campaign, Message
from crm_project.tenancy import account_scope
from segments.rules import validate_rule
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _statuses(account, campaign):
    with account_scope(account):
        return {
            (m.customer_id, m.status, m.error)
            for m in Message.objects.filter(campaign=campaign.pk)
        }


def test_an_email_campaign_reaches_every_eligible_customer_once(account):
    ok = CustomerFactory(account=account, email="a@example.com", first_name="Ann", city="Lyon")
    dup = CustomerFactory(account=account, email="A@example.com ", first_name="Dup", city="Lyon")
    out = CustomerFactory(account=account, email="o@example.com", email_opt_in=False, city="Lyon")
    none = CustomerFactory(account=account, email="", phone="+33612345678", city="Lyon")
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name="Hello",
            message="Hi {{ first_name }} https://example.com/x",
            rules=validate_rule({"field": "city", "operator": "=", "value": "Lyon"}),
        )
    statuses = {c: (s, e) for c, s, e in _statuses(account, campaign)}
    assert statuses[ok.pk] == ("delivered", "")
    assert statuses[dup.pk] == ("skipped", "duplicate_address")
    assert statuses[out.pk] == ("skipped", "opted_out")
    assert statuses[none.pk] == ("skipped", "no_address")
    assert len(mail.outbox) == 1
    assert "Hi Ann" in mail.outbox[0].body
    with account_scope(account):
        assert Campaign.objects.get(pk=campaign.pk).status == "sent"
