"""Public tracking: click redirects only to the message's own links, the open pixel,
and one-click unsubscribe (RFC 8058) with its confirmation page. No login; every
failure is the same 404."""

import uuid

import pytest
from django.test import Client

from campaigns import selectors, tracking
from crm_project.tenancy import account_scope
from customers.models import Customer
from tests.campaigns.sent import (
    email_to,
    list_unsubscribe_path,
    reload,
    send_campaign,
    tracked_paths,
)
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Hi {{ first_name }}, see https://shop.example.com/spring and https://example.org/b"
HTML = '<p>Hi {{ first_name }}, <a href="https://shop.example.com/spring">our offer</a></p>'


@pytest.fixture
def public():
    """A browser with no session: what a recipient's mail client is."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def ann(account):
    return CustomerFactory(account=account, email="ann@example.com", city="Lyon")


@pytest.fixture
def sent(account, ann):
    """Ann's message of a plain-text email campaign with two links."""
    _campaign, messages = send_campaign(account, city="Lyon", message=TEXT)
    return messages[ann.pk]


def customer(account, pk):
    with account_scope(account):
        return Customer.objects.get(pk=pk)


def test_a_click_redirects_to_the_link_and_marks_the_message_clicked(public, account, sent):
    click, second = [p for p in tracked_paths(email_to("ann@example.com")) if "/t/c/" in p]

    response = public.get(click)

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/spring"
    assert response["Cache-Control"] == "no-store, private"
    message = reload(account, sent)
    assert message.status == "clicked"
    assert message.clicked_at is not None
    assert message.opened_at is not None
    assert message.delivered_at is not None
    assert public.get(second)["Location"] == "https://example.org/b"


def test_a_second_click_keeps_the_first_clicks_time(public, account, sent):
    path = f"/t/c/{tracking.make_token('click', sent.pk, 0)}"
    public.get(path)
    first = reload(account, sent).clicked_at

    assert public.get(path).status_code == 302
    assert reload(account, sent).clicked_at == first


def test_a_link_index_the_message_does_not_have_is_404(public, account, sent):
    response = public.get(f"/t/c/{tracking.make_token('click', sent.pk, 2)}")

    assert response.status_code == 404
    assert reload(account, sent).clicked_at is None


def test_a_link_of_another_message_cannot_be_reached(public, account, other_account, sent):
    CustomerFactory(account=other_account, email="o@example.com", city="Rome")
    _campaign, theirs = send_campaign(
        other_account, city="Rome", message="a https://x.example/1 b https://evil.example/2"
    )
    (their_message,) = theirs.values()
    # Ann's message has two links; theirs has an index 1 too, but a token binds one message.
    forged = f"/t/c/{tracking.make_token('click', sent.pk, 1)}"
    assert public.get(forged)["Location"] == "https://example.org/b"
    assert reload(other_account, their_message).clicked_at is None


def test_a_tampered_token_is_404(public, account, sent):
    token = tracking.make_token("click", sent.pk, 0)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")

    assert public.get(f"/t/c/{tampered}").status_code == 404
    assert public.get("/t/c/not-a-token").status_code == 404
    assert reload(account, sent).status == "delivered"


def test_a_token_of_another_kind_is_404(public, account, sent):
    click = tracking.make_token("click", sent.pk, 0)
    opened = tracking.make_token("open", sent.pk)
    unsubscribe = tracking.make_token("unsubscribe", sent.pk)

    assert public.get(f"/t/o/{click}").status_code == 404
    assert public.get(f"/t/c/{opened}").status_code == 404
    assert public.get(f"/u/{opened}").status_code == 404
    assert public.post(f"/u/{click}").status_code == 404
    assert public.get(f"/t/o/{unsubscribe}").status_code == 404
    message = reload(account, sent)
    assert (message.status, message.opened_at, message.unsubscribed_at) == ("delivered", None, None)


def test_a_token_of_an_unknown_message_is_404(public):
    ghost = uuid.uuid4()
    assert public.get(f"/t/c/{tracking.make_token('click', ghost, 0)}").status_code == 404
    assert public.get(f"/t/o/{tracking.make_token('open', ghost)}").status_code == 404
    assert public.post(f"/u/{tracking.make_token('unsubscribe', ghost)}").status_code == 404


def test_the_pixel_is_an_uncached_gif_that_marks_the_message_opened(public, account, ann):
    _campaign, messages = send_campaign(account, city="Lyon", message=HTML)
    (pixel,) = [p for p in tracked_paths(email_to("ann@example.com")) if "/t/o/" in p]

    response = public.get(pixel)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Cache-Control"] == "no-store, private"
    assert response.content.startswith(b"GIF89a")
    assert len(response.content) < 64
    message = reload(account, messages[ann.pk])
    assert message.status == "opened"
    assert message.opened_at is not None


def test_an_open_after_a_click_keeps_the_message_clicked(public, account, sent):
    public.get(f"/t/c/{tracking.make_token('click', sent.pk, 0)}")
    clicked = reload(account, sent)

    assert public.get(f"/t/o/{tracking.make_token('open', sent.pk)}").status_code == 200

    message = reload(account, sent)
    assert message.status == "clicked"
    assert message.opened_at == clicked.opened_at


def test_the_unsubscribe_page_asks_and_changes_nothing(public, account, ann, sent):
    path = list_unsubscribe_path(email_to("ann@example.com"))

    response = public.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    assert "ann@example.com" in page
    assert "Acme" in page
    assert "email" in page
    assert 'method="post"' in page
    assert customer(account, ann.pk).email_opt_in is True
    assert reload(account, sent).unsubscribed_at is None


def test_one_click_unsubscribe_needs_no_cookie_nor_csrf_token(public, account, ann, sent):
    path = list_unsubscribe_path(email_to("ann@example.com"))

    response = public.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert "unsubscribed" in response.content.decode()
    stored = customer(account, ann.pk)
    assert stored.email_opt_in is False
    assert stored.sms_opt_in is True
    assert stored.unsubscribed_at is not None
    assert reload(account, sent).unsubscribed_at is not None
    with account_scope(account):
        stats = selectors.campaign_stats(account, [sent.campaign_id])[sent.campaign_id]
    assert stats["unsubscribed"] == 1


def test_unsubscribing_twice_is_unsubscribing_once(public, account, ann, sent):
    path = f"/u/{tracking.make_token('unsubscribe', sent.pk)}"
    public.post(path)
    first = reload(account, sent).unsubscribed_at, customer(account, ann.pk).unsubscribed_at

    again = public.post(path)

    assert again.status_code == 200
    assert (reload(account, sent).unsubscribed_at, customer(account, ann.pk).unsubscribed_at) == (
        first
    )
    assert "You are unsubscribed" in public.get(path).content.decode()


def test_unsubscribing_from_an_sms_turns_off_sms_only(public, account):
    bob = CustomerFactory(account=account, email="", phone="+33612345678", city="Nice")
    _campaign, messages = send_campaign(account, city="Nice", message="Sale!", channel="sms")
    message = messages[bob.pk]
    assert message.status == "delivered"

    response = public.post(f"/u/{tracking.make_token('unsubscribe', message.pk)}")

    assert response.status_code == 200
    stored = customer(account, bob.pk)
    assert (stored.sms_opt_in, stored.email_opt_in) == (False, True)
    assert reload(account, message).unsubscribed_at is not None


def test_tracking_works_for_a_visitor_signed_in_to_another_account(other_account, account, sent):
    """The token is the only credential: a back-office user of another account (whose
    pages run in that account's scope) clicking the link is still redirected."""
    browser = Client()
    browser.force_login(MembershipFactory(account=other_account).user)

    response = browser.get(f"/t/c/{tracking.make_token('click', sent.pk, 0)}")

    assert response.status_code == 302
    assert reload(account, sent).status == "clicked"
