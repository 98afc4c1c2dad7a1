"""Provider receipts: `POST /api/v1/webhooks/delivery/`, signed with the Standard
Webhooks scheme. The signature is the only credential; a receipt never moves a message
backwards, and a repeated webhook-id changes nothing."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from campaigns import tracking
from tests.campaigns.sent import reload, send_campaign, sms_provider_with_receipts
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/webhooks/delivery/"
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.WEBHOOK_SECRET = "whsec_" + base64.b64encode(KEY).decode()


@pytest.fixture
def sms(account, settings):
    """Two SMS messages sent through a provider with receipts: both `sent`."""
    ann = CustomerFactory(account=account, email="", phone="+33612345601", city="Nice")
    bob = CustomerFactory(account=account, email="", phone="+33612345602", city="Nice")
    with sms_provider_with_receipts(settings):
        _campaign, messages = send_campaign(account, city="Nice", message="Sale!", channel="sms")
    first, second = messages[ann.pk], messages[bob.pk]
    assert (first.status, second.status) == ("sent", "sent")
    return first, second


def sign(body, *, webhook_id=None, timestamp=None, key=KEY):
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time() if timestamp is None else timestamp))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "HTTP_WEBHOOK_ID": webhook_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": f"v1,{signature}",
    }


def post(body, headers=None, **signing):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign(raw, **signing) if headers is None else headers
    return APIClient().post(URL, raw, content_type="application/json", **headers)


def receipt(message, event="delivered", **fields):
    return {"message_id": str(message.pk), "event": event, **fields}


def assert_error(response, status, code, attr=None):
    assert response.status_code == status, response.content
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"]) == (code, attr)


def test_a_signed_delivered_receipt_marks_the_message_delivered(account, sms):
    message, other = sms

    response = post(receipt(message))

    assert response.status_code == 200, response.content
    assert response.json() == {"result": "applied"}
    assert response["Cache-Control"] == "no-store"
    stored = reload(account, message)
    assert stored.status == "delivered"
    assert stored.delivered_at is not None
    assert reload(account, other).status == "sent"


def test_a_bounce_keeps_its_reason_and_time(account, sms):
    message, _other = sms

    response = post(
        receipt(message, "bounced", reason="550 no such user", occurred_at="2026-01-02T03:04:05Z")
    )

    assert response.json() == {"result": "applied"}
    stored = reload(account, message)
    assert (stored.status, stored.error) == ("bounced", "550 no such user")
    assert stored.failed_at.isoformat() == "2026-01-02T03:04:05+00:00"


def test_one_valid_signature_among_several_is_enough(account, sms):
    message, _other = sms
    raw = json.dumps(receipt(message)).encode()
    headers = sign(raw)
    headers["HTTP_WEBHOOK_SIGNATURE"] = "v1,AAAA " + headers["HTTP_WEBHOOK_SIGNATURE"]

    assert post(raw, headers).status_code == 200
    assert reload(account, message).status == "delivered"


def test_an_unsigned_receipt_is_401(account, sms):
    message, _other = sms

    response = post(receipt(message), headers={})

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"]
    assert reload(account, message).status == "sent"


def test_a_badly_signed_receipt_is_401(account, sms):
    message, _other = sms
    raw = json.dumps(receipt(message)).encode()
    forged = sign(raw, key=b"not the secret")
    tampered = sign(raw)
    tampered_body = json.dumps(receipt(message, "failed")).encode()

    assert_error(post(raw, forged), 401, "authentication_failed")
    assert_error(post(tampered_body, tampered), 401, "authentication_failed")
    assert reload(account, message).status == "sent"


def test_a_receipt_signed_more_than_five_minutes_ago_or_ahead_is_401(account, sms):
    message, _other = sms

    assert_error(
        post(receipt(message), timestamp=time.time() - 6 * 60), 401, "authentication_failed"
    )
    assert_error(
        post(receipt(message), timestamp=time.time() + 6 * 60), 401, "authentication_failed"
    )
    assert reload(account, message).status == "sent"
    assert post(receipt(message), timestamp=time.time() - 4 * 60).status_code == 200


def test_without_a_webhook_secret_every_receipt_is_401(account, sms, settings):
    message, _other = sms
    settings.WEBHOOK_SECRET = ""

    assert_error(post(receipt(message)), 401, "authentication_failed")
    assert reload(account, message).status == "sent"


def test_an_api_key_is_not_a_signature(api_client, account, sms):
    message, _other = sms

    response = api_client.post(URL, receipt(message), format="json")

    assert_error(response, 401, "authentication_failed")
    assert reload(account, message).status == "sent"


def test_a_repeated_webhook_id_changes_nothing(account, sms):
    first, second = sms
    assert post(receipt(first), webhook_id="msg_1").json() == {"result": "applied"}

    # The same id again, even naming another message, is the event already applied.
    response = post(receipt(second), webhook_id="msg_1")

    assert response.status_code == 200
    assert response.json() == {"result": "duplicate"}
    assert reload(account, second).status == "sent"
    assert post(receipt(second), webhook_id="msg_2").json() == {"result": "applied"}


def test_a_late_delivered_after_a_click_keeps_the_message_clicked(account):
    ann = CustomerFactory(account=account, email="ann@example.com", city="Lyon")
    _campaign, messages = send_campaign(account, city="Lyon", message="See https://x.example/a")
    message = messages[ann.pk]
    APIClient().get(f"/t/c/{tracking.make_token('click', message.pk, 0)}")
    clicked = reload(account, message)
    assert clicked.status == "clicked"

    assert post(receipt(message)).json() == {"result": "unchanged"}
    assert post(receipt(message, "bounced", reason="late")).json() == {"result": "unchanged"}

    stored = reload(account, message)
    assert (stored.status, stored.error) == ("clicked", "")
    assert stored.delivered_at == clicked.delivered_at


def test_a_receipt_for_an_unknown_message_is_acknowledged_and_ignored(account, sms):
    response = post({"message_id": str(uuid.uuid4()), "event": "delivered"})

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"event": "delivered"}, "message_id"),
        ({"message_id": "not-a-uuid", "event": "delivered"}, "message_id"),
        ({"message_id": str(uuid.uuid4()), "event": "opened"}, "event"),
        ({"message_id": str(uuid.uuid4())}, "event"),
        (
            {"message_id": str(uuid.uuid4()), "event": "failed", "occurred_at": "soon"},
            "occurred_at",
        ),
        ({"message_id": str(uuid.uuid4()), "event": "failed", "reason": "x" * 501}, "reason"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(account, sms, body, attr):
    response = post(body)

    assert response.status_code == 400, response.content
    assert attr in [error["attr"] for error in response.json()["errors"]]
    assert {reload(account, m).status for m in sms} == {"sent"}


def test_a_nul_in_the_body_is_a_400_not_a_500(account, sms):
    message, _other = sms

    response = post(receipt(message, "bounced", reason="full\u0000box"))

    assert_error(response, 400, "null_characters_not_allowed", "reason")
    assert reload(account, message).status == "sent"


def test_a_body_that_is_not_json_is_a_400(account, sms):
    response = post(b"{not json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"
