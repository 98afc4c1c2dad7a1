"""The delivery path end to end, in process (Celery eager): a campaign's recipients
written once with their skips (each reason, and random customers against a plain-Python
oracle of the rules), chunks claimed, sent, marked, and the campaign sent."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_change_status
from campaigns import delivery, selectors, services
from campaigns.models import Campaign, Message
from crm_project.tenancy import account_scope
from customers.models import Customer
from leads import services as lead_services
from leads.models import Lead
from segments.rules import validate_rule
from tests.campaigns.ledger import (
    EVERYONE,
    assert_stats_match_the_ledger,
    by_customer,
    campaign_start,
    campaign_status,
    customers_bulk,
)
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _statuses(account, campaign):
    with account_scope(account):
        return {
            (m.customer_id, m.status, m.error) for m in Message.objects.filter(campaign=campaign.pk)
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


# --- Skips ----------------------------------------------------------------------------------


def _created_in_order(account, customers):
    """`customers` created one second apart, in the order given."""
    start = timezone.now() - timedelta(hours=1)
    with account_scope(account):
        for offset, customer in enumerate(customers):
            Customer.objects.filter(pk=customer.pk).update(
                created_at=start + timedelta(seconds=offset)
            )


def test_each_skip_reason_of_an_email_campaign(account):
    rows = customers_bulk(account, 9)
    blocked, no_address, blank, opted_out, unsubscribed, holder, dup, out_holder, taker = rows
    with account_scope(account):
        for customer, fields in (
            # Blocked comes first, whatever else is missing.
            (blocked, {"status": "blocked", "email": "", "email_opt_in": False}),
            (no_address, {"email": ""}),
            (blank, {"email": "   "}),
            (opted_out, {"email_opt_in": False, "sms_opt_in": True}),
            (unsubscribed, {"email_opt_in": False, "unsubscribed_at": timezone.now()}),
            (holder, {"email": "Shared@Example.com"}),
            (dup, {"email": " shared@example.COM "}),
            # An opted-out holder of an address does not count: the next one gets it.
            (out_holder, {"email": "other@example.com", "email_opt_in": False}),
            (taker, {"email": "  OTHER@example.com"}),
        ):
            Customer.objects.filter(pk=customer.pk).update(**fields)
    _created_in_order(account, rows)

    campaign = campaign_start(account, message="Hi {{ first_name }}")

    assert by_customer(account, campaign) == {
        blocked.pk: ("skipped", "blocked"),
        no_address.pk: ("skipped", "no_address"),
        blank.pk: ("skipped", "no_address"),
        opted_out.pk: ("skipped", "opted_out"),
        unsubscribed.pk: ("skipped", "unsubscribed"),
        holder.pk: ("delivered", ""),
        dup.pk: ("skipped", "duplicate_address"),
        out_holder.pk: ("skipped", "opted_out"),
        taker.pk: ("delivered", ""),
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["OTHER@example.com", "Shared@Example.com"]
    stats = assert_stats_match_the_ledger(account, campaign)
    assert (stats["audience_size"], stats["skipped"], stats["sent"]) == (9, 7, 2)


def test_an_sms_campaign_skips_by_phone(account):
    rows = customers_bulk(account, 5, phone="+33611111111")
    first, second, opted_out, unsubscribed, no_phone = rows
    with account_scope(account):
        # The email channel's opt-out does not matter to SMS.
        Customer.objects.filter(pk=first.pk).update(email_opt_in=False)
        Customer.objects.filter(pk=opted_out.pk).update(sms_opt_in=False, phone="+33622222222")
        Customer.objects.filter(pk=unsubscribed.pk).update(
            sms_opt_in=False, unsubscribed_at=timezone.now()
        )
        Customer.objects.filter(pk=no_phone.pk).update(phone="")
    _created_in_order(account, [second, first, opted_out, unsubscribed, no_phone])

    campaign = campaign_start(account, channel="sms")

    assert by_customer(account, campaign) == {
        second.pk: ("delivered", ""),  # created first: the phone is its
        first.pk: ("skipped", "duplicate_address"),
        opted_out.pk: ("skipped", "opted_out"),
        unsubscribed.pk: ("skipped", "unsubscribed"),
        no_phone.pk: ("skipped", "no_address"),
    }
    stats = assert_stats_match_the_ledger(account, campaign)
    assert stats["audience_size"] == 5


def test_cancelling_skips_the_queued_messages_and_keeps_the_other_reasons(account):
    customers_bulk(account, 4)
    customers_bulk(account, 1, start=10, email_opt_in=False)
    account_change_status(account=account, action="pause")
    campaign = campaign_start(account)
    with account_scope(account):
        services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
    account_change_status(account=account, action="unpause")
    delivery.messages_send_chunk(account_id=account.pk)

    assert sorted(by_customer(account, campaign).values()) == [
        ("skipped", "cancelled"),
        ("skipped", "cancelled"),
        ("skipped", "cancelled"),
        ("skipped", "cancelled"),
        ("skipped", "opted_out"),
    ]
    assert mail.outbox == []
    assert campaign_status(account, campaign) == "cancelled"
    stats = assert_stats_match_the_ledger(account, campaign)
    assert (stats["audience_size"], stats["skipped"], stats["queued"]) == (5, 5, 0)


# --- The skip rules against a plain-Python oracle -----------------------------------------

EMAILS = ["a@x.com", " A@x.com", "a@X.com  ", "b@x.com", "B@x.com ", "", "   "]
PHONES = ["+33611111111", " +33611111111", "+33622222222", "", "  "]


def oracle(customers, channel):
    """{customer id: (status, error)} by SPEC's rules, one customer at a time: blocked,
    then no address (blank after trimming spaces), then unsubscribed or opted out of the
    channel; among the rest, the earliest created holder of an address (emails ignore
    case) is queued, later ones are duplicates."""
    email = channel == "email"
    answer, holders = {}, set()
    for customer in sorted(customers, key=lambda c: (c.created_at, c.pk)):
        address = (customer.email if email else customer.phone).strip(" ")
        opted_in = customer.email_opt_in if email else customer.sms_opt_in
        if customer.status == "blocked":
            reason = "blocked"
        elif not address:
            reason = "no_address"
        elif not opted_in:
            reason = "unsubscribed" if customer.unsubscribed_at else "opted_out"
        else:
            key = address.lower() if email else address
            reason = "duplicate_address" if key in holders else ""
            holders.add(key)
        answer[customer.pk] = ("skipped", reason) if reason else ("queued", "")
    return answer


customer_specs = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "active", "inactive", "blocked"]),
        "email": st.sampled_from(EMAILS),
        "phone": st.sampled_from(PHONES),
        "email_opt_in": st.booleans(),
        "sms_opt_in": st.booleans(),
        "unsubscribed": st.booleans(),
        "created": st.integers(0, 3),  # seconds: ties happen (the id decides)
    }
)


@given(
    specs=st.lists(customer_specs, min_size=1, max_size=14),
    channel=st.sampled_from(["email", "sms"]),
    # Recipients are written in batches by address hash: whatever their size, every
    # holder of an address is in one batch and the oracle holds.
    batch=st.sampled_from([delivery.RECIPIENT_BATCH, 1, 2, 3]),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_recipients_follow_the_skip_rules_of_the_oracle(specs, channel, batch):
    default_batch, delivery.RECIPIENT_BATCH = delivery.RECIPIENT_BATCH, batch
    try:
        _check_against_the_oracle(specs, channel)
    finally:
        delivery.RECIPIENT_BATCH = default_batch


def _check_against_the_oracle(specs, channel):
    start = timezone.now() - timedelta(days=1)
    with transaction.atomic():
        account = AccountFactory()
        rows, emails = [], set()
        for number, spec in enumerate(specs, start=1):
            email, phone = spec["email"], spec["phone"]
            if email and email.lower() in emails:  # one customer per email (ignoring case)
                email = ""
            emails.add(email.lower())
            if not email and not phone:
                phone = f"+336990000{number:02d}"
            rows.append(
                Customer(
                    account=account,
                    number=number,
                    first_name=f"C{number}",
                    email=email,
                    phone=phone,
                    status=spec["status"],
                    email_opt_in=spec["email_opt_in"],
                    sms_opt_in=spec["sms_opt_in"],
                    unsubscribed_at=start if spec["unsubscribed"] else None,
                )
            )
        with account_scope(account):
            Customer.objects.bulk_create(rows)
            for customer, spec in zip(rows, specs, strict=True):
                customer.created_at = start + timedelta(seconds=spec["created"])
            Customer.objects.bulk_update(rows, ["created_at"])
            campaign = services.campaign_create(
                account=account,
                name="P",
                message="Hi",
                channel=channel,
                rules=validate_rule(EVERYONE),
                draft=True,
            )
            # Launched in this transaction, which is rolled back: its task is never sent.
            services.campaign_launch(campaign=campaign)
        queued = delivery.campaign_materialize(account_id=account.pk, campaign_id=campaign.pk)

        expected = oracle(rows, channel)
        assert by_customer(account, campaign) == expected
        assert queued == sum(1 for status, _ in expected.values() if status == "queued")
        with account_scope(account):
            stats = selectors.campaign_stats(account, [campaign.pk])[campaign.pk]
        assert stats["audience_size"] == len(rows)
        assert stats["skipped"] == len(rows) - queued
        transaction.set_rollback(True)


def test_recipients_written_in_batches_start_sending_after_the_first(account, monkeypatch):
    """The first batch's commit starts the pumps; a cancel between batches stops the
    rest: nothing of the campaign is written after it, nothing is sent twice."""
    customers_bulk(account, 9)
    monkeypatch.setattr(delivery, "RECIPIENT_BATCH", 3)
    account_change_status(account=account, action="pause")
    campaign = campaign_start(account)  # materialized by the eager task: all batches
    assert len(by_customer(account, campaign)) == 9
    with account_scope(account):
        draft = services.campaign_create(
            account=account, name="B", message="Hi", rules=validate_rule(EVERYONE), draft=True
        )
        # Started as launch starts it, without sending its task: this test runs it.
        Campaign.objects.filter(pk=draft.pk).update(status="sending", started_at=timezone.now())
    seen = []

    def cancel_after_the_first_batch(queued, first):
        seen.append((queued, first))
        with account_scope(account):
            services.campaign_cancel(campaign=Campaign.objects.get(pk=draft.pk))

    delivery.campaign_materialize(
        account_id=account.pk, campaign_id=draft.pk, on_batch=cancel_after_the_first_batch
    )
    written = by_customer(account, draft)
    assert len(seen) == 1
    assert seen[0][1] is True
    assert 0 < len(written) < 9
    assert set(written.values()) == {("skipped", "cancelled")}
    assert campaign_status(account, draft) == "cancelled"


def test_templates_read_metadata_tags_account_values_and_a_sources_context(account):
    """Values reach the template as data, not as JSON text: `{{ metadata.KEY }}`, a
    message's own `context`, the account's attributes."""
    with account_scope(account):
        account.attributes = {"brand": "Acme"}
        account.save(update_fields=["attributes"])
    customer = CustomerFactory(
        account=account, email="ann@example.com", first_name="Ann", city="Lyon",
        metadata={"tier": "gold", "visits": 3}, tags=["vip"],
    )  # fmt: skip
    with account_scope(account):
        campaign = services.campaign_create(
            account=account,
            name="Hello",
            message="{{ first_name }}: {{ metadata.tier }}/{{ metadata.visits }}"
            " {{ tags|join:',' }} {{ account.attributes.brand }}",
            rules=validate_rule({"field": "city", "operator": "=", "value": "Lyon"}),
        )
        services.message_enqueue(
            account=account,
            source="feedback",
            channel="email",
            recipient=services.Recipient(customer=customer),
            subject="Your opinion",
            body="Rate us at {{ link }}, {{ first_name }}",
            context={"link": "https://survey.example/abc"},
        )
    bodies = sorted(m.body for m in mail.outbox)
    assert bodies[0].startswith("Ann: gold/3 vip Acme")
    assert "Rate us at " in bodies[1]
    assert ", Ann" in bodies[1]
    with account_scope(account):
        feedback = Message.objects.get(source="feedback")
    assert feedback.status == "delivered"
    assert campaign_status(account, campaign) == "sent"


def test_a_message_to_a_lead_renders_its_values_and_an_unsubscribed_lead_is_skipped(account):
    """Nurture will send to leads: the ledger's lead is a foreign key, delivery renders
    the lead's names and `{{ attributes.KEY }}`, an unsubscribed lead is never sent to."""
    with account_scope(account):
        lead = lead_services.lead_create(
            account=account, first_name="Lea", last_name="Moreau", email="lea@example.com",
            attributes={"plan": "pro"},
        )  # fmt: skip
        gone = lead_services.lead_create(account=account, first_name="Max", email="max@example.com")
        Lead.objects.filter(pk=gone.pk).update(unsubscribed_at=timezone.now())
        gone.refresh_from_db()
        for recipient in (lead, gone):
            services.message_enqueue(
                account=account,
                source="nurture",
                channel="email",
                recipient=services.Recipient(lead=recipient),
                subject="Step 1",
                body="Hi {{ first_name }} {{ last_name }}, your {{ attributes.plan }} trial",
                source_key=f"nurture:{recipient.pk}:1",
            )
    with account_scope(account):  # read after the commit that sent them
        sent = Message.objects.get(lead=lead)
        skipped = Message.objects.get(lead=gone)
    assert [m.body for m in mail.outbox] == ["Hi Lea Moreau, your pro trial"]
    assert (sent.status, sent.address) == ("delivered", "lea@example.com")
    assert (skipped.status, skipped.error) == ("skipped", "unsubscribed")
