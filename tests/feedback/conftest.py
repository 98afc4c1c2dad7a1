import pytest

from campaigns.models import Message
from crm_project.tenancy import account_scope
from tests.factories import CustomerFactory


@pytest.fixture
def customer(account):
    return CustomerFactory(
        account=account,
        first_name="Ada",
        email="ada@example.com",
        phone="+33612345678",
        email_opt_in=True,
        sms_opt_in=True,
    )


def request_feedback(client, customer, body=None, expected=202):
    response = client.post(
        f"/api/v1/customers/{customer.pk}/feedback/request/", body or {}, format="json"
    )
    assert response.status_code == expected, response.content
    return response.json()


def form_path(account, feedback_id, round_=0):
    """The public form's path, as the request's message carries it."""
    with account_scope(account):
        message = Message.objects.get(source_key=f"feedback:{feedback_id}:{round_}")
    url = message.context["feedback_url"]
    return url[url.index("/f/") :]
