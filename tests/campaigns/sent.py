"""Messages made the way production makes them, for the tests of what follows a send
(tracking, receipts, the timeline, statistics, the admin): a real campaign sent through
campaigns.services (Celery eager, so the test needs a transactional database), its
Message rows read back."""

import re
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.core import mail

from campaigns import services
from campaigns.models import Message
from crm_project.tenancy import account_scope
from segments.rules import validate_rule
from tests.campaigns.stubs import Answer, stub_server

TRACKED = re.compile(r"https?://[^\s\"'<>]+/(?:t/[co]|u)/[A-Za-z0-9_-]+")


def send_campaign(account, *, city, message, channel="email", name="Spring"):
    """Send a campaign to the account's customers of `city`; its messages, by customer."""
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name=name,
            channel=channel,
            message=message,
            rules=validate_rule({"field": "city", "operator": "=", "value": city}),
        )
    return campaign, messages_of(account, campaign)


def messages_of(account, campaign):
    with account_scope(account):
        return {m.customer_id: m for m in Message.objects.filter(campaign=campaign.pk)}


def reload(account, message):
    with account_scope(account):
        return Message.objects.get(pk=message.pk)


def tracked_paths(email):
    """The paths of the tracking and unsubscribe URLs of a sent email (text and HTML)."""
    bodies = [email.body, *(content for content, _type in getattr(email, "alternatives", []))]
    return [urlsplit(url).path for body in bodies for url in TRACKED.findall(body)]


def list_unsubscribe_path(email):
    """The path of the email's `List-Unsubscribe: <url>` header (RFC 8058)."""
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return urlsplit(email.extra_headers["List-Unsubscribe"].strip("<>")).path


def email_to(address):
    (email,) = [e for e in mail.outbox if address in e.to]
    return email


@contextmanager
def sms_provider_with_receipts(settings):
    """The `http` SMS provider (whose messages stay `sent` until a receipt) on a local
    stub that accepts everything."""
    with stub_server(lambda request: Answer(202, {"id": "prov-1"})) as server:
        settings.SMS_PROVIDER = "http"
        settings.SMS_HTTP_URL = server.url + "/sms"
        settings.SMS_HTTP_TOKEN = "tok-123"
        yield server
