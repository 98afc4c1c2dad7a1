"""Helpers of the leads tests: leads made by leads.services, read back as stored."""

import factory
import pytest

from crm_project.tenancy import account_scope
from leads import services
from leads.models import Lead
from tests.factories import AgentFactory, TenantFactory


class LeadFactory(TenantFactory):
    """A lead made by leads.services.lead_create, as the API makes one."""

    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@leads.example")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        account = kwargs.pop("account")
        with account_scope(account):
            return services.lead_create(account=account, **kwargs)


def stored(account, lead_or_id):
    """The lead as stored now (read back from the database), with its place in
    nurturing (read with it: its properties are read outside the scope)."""
    pk = getattr(lead_or_id, "pk", lead_or_id)
    with account_scope(account):
        return Lead.objects.select_related("nurture").get(pk=pk)


@pytest.fixture
def lead(account):
    return LeadFactory(
        account=account,
        first_name="John",
        last_name="Smith",
        email="John.Smith@alot.co",
        external_id="EXT-1",
    )


@pytest.fixture
def agent(account):
    return AgentFactory(account=account, external_id="2")


@pytest.fixture
def other_agent(other_account):
    return AgentFactory(account=other_account, external_id="2")
