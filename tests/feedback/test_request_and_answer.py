"""Requesting feedback sends the form's link through the ledger; the customer answers
once on the public form (no login, CSRF-protected), or an integrator records the answer
over the API; either shows on the customer's timeline."""

import pytest
from django.test import Client

from campaigns.models import Message
from crm_project.tenancy import account_scope
from feedback.models import Feedback
from tests.factories import CustomerFactory
from tests.feedback.conftest import form_path, request_feedback

pytestmark = pytest.mark.django_db


def test_a_request_queues_an_email_with_the_forms_link(api_client, account, customer):
    body = request_feedback(api_client, customer, {"category": "delivery"})
    assert (body["channel"], body["category"], body["answered"]) == ("email", "delivery", False)
    with account_scope(account):
        message = Message.objects.get(source_key=f"feedback:{body['id']}:0")
    assert (message.source, message.channel, message.status) == ("feedback", "email", "queued")
    assert message.address == "ada@example.com"
    assert "/f/" in message.context["feedback_url"]


def test_the_channel_falls_back_to_sms_without_an_email(api_client, account):
    customer = CustomerFactory(account=account, email="", phone="+33612345678", sms_opt_in=True)
    assert request_feedback(api_client, customer)["channel"] == "sms"


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ({"email": "", "phone": "+33612345678"}, {"channel": "email"}),
        ({"email": "x@example.com", "email_opt_in": False}, {}),
        ({"email": "x@example.com", "status": "blocked"}, {}),
    ],
)
def test_an_unreachable_customer_is_a_400_no_address(api_client, account, fields, body):
    customer = CustomerFactory(account=account, **fields)
    body = request_feedback(api_client, customer, body, expected=400)
    assert body["errors"][0]["code"] == "no_address"
    with account_scope(account):
        assert not Feedback.objects.exists()


def test_the_public_form_takes_one_answer(api_client, account, customer):
    feedback = request_feedback(api_client, customer)
    path = form_path(account, feedback["id"])
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    assert "How did we do, Ada?" in page.content.decode()
    token = page.cookies["csrftoken"].value
    answer = {"rating": "2", "comment": "Late delivery.", "csrfmiddlewaretoken": token}
    assert browser.post(path, answer).status_code == 200
    again = browser.post(path, {**answer, "rating": "5"})
    assert again.status_code == 409
    assert "already answered" in again.content.decode()
    stored = api_client.get(f"/api/v1/feedback/{feedback['id']}/").json()
    assert (stored["rating"], stored["comment"], stored["answered_via"]) == (
        2,
        "Late delivery.",
        "form",
    )
    entries = api_client.get(f"/api/v1/customers/{customer.pk}/timeline/").json()["results"]
    assert [e["summary"] for e in entries if e["kind"] == "feedback"] == [
        "Feedback: rated 2/5: “Late delivery.”"
    ]


def test_the_form_refuses_a_post_without_its_csrf_token(api_client, account, customer):
    feedback = request_feedback(api_client, customer)
    path = form_path(account, feedback["id"])
    assert Client(enforce_csrf_checks=True).post(path, {"rating": "4"}).status_code == 403


def test_a_tampered_token_is_a_404(api_client, account, customer):
    feedback = request_feedback(api_client, customer)
    path = form_path(account, feedback["id"])
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert Client().get(tampered).status_code == 404


def test_an_integrator_records_the_answer_once(api_client, account, customer):
    feedback = request_feedback(api_client, customer)
    url = f"/api/v1/feedback/{feedback['id']}/"
    first = api_client.post(url, {"rating": 5, "comment": "Great", "category": "product"})
    assert first.status_code == 201, first.content
    assert (first.json()["rating"], first.json()["category"]) == (5, "product")
    second = api_client.post(url, {"rating": 1}, format="json")
    assert second.status_code == 409
    assert second.json()["errors"][0]["code"] == "already_answered"


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({}, "rating"),
        ({"rating": 3, "comment": "x" * 100_000}, "comment"),
        ({"rating": 3, "comment": "bad\x00byte"}, "comment"),
        ({"rating": 3, "category": "weather"}, "category"),
    ],
)
def test_a_bad_answer_is_a_400_naming_the_field(api_client, account, customer, body, attr):
    feedback = request_feedback(api_client, customer)
    response = api_client.post(f"/api/v1/feedback/{feedback['id']}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == attr
    with account_scope(account):
        assert Feedback.objects.get().answered_at is None


def test_another_account_cannot_see_request_or_answer(api_client, other_api_client, customer):
    feedback = request_feedback(api_client, customer)
    url = f"/api/v1/feedback/{feedback['id']}/"
    assert other_api_client.get(url).status_code == 404
    assert other_api_client.post(url, {"rating": 5}, format="json").status_code == 404
    assert other_api_client.get("/api/v1/feedback/").json()["count"] == 0
    request_url = f"/api/v1/customers/{customer.pk}/feedback/request/"
    assert other_api_client.post(request_url, {}, format="json").status_code == 404
