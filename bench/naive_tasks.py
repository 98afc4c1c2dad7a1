"""The naive baseline of bench/campaigns.py: one Celery task per message, doing the
same work as a chunk does for one message (read the recipient and the campaign, render
the templates, rewrite links, send through the same channel, write the ledger row),
with nothing shared between messages: a connection, a query and a commit each."""

from django.utils import timezone

from campaigns import channels, tracking
from campaigns.links import rewrite_links
from campaigns.models import Campaign, Channel, Message, MessageStatus, Source
from campaigns.templates import render_text
from crm_project.celery import TenantTask, app
from customers.models import Customer


@app.task(bind=True, name="bench.naive_send")
def naive_send(self: TenantTask, campaign_id: str, customer_id: str) -> str:
    campaign = Campaign.objects.get(pk=campaign_id)
    customer = Customer.objects.get(pk=customer_id)
    email = campaign.channel == Channel.EMAIL
    message = Message.objects.create(
        account_id=campaign.account_id,
        source=Source.CAMPAIGN,
        campaign=campaign,
        customer=customer,
        channel=campaign.channel,
        address=customer.email if email else customer.phone,
        status=MessageStatus.SENDING,
        tries=1,
    )
    context = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "name": f"{customer.first_name} {customer.last_name}".strip(),
        "email": customer.email,
        "metadata": customer.metadata,
        "unsubscribe_url": tracking.unsubscribe_url(message.pk),
    }
    body = render_text(campaign.message, context, html=False)
    if email:
        body, links = rewrite_links(
            body, html=False, tracker=lambda url, i: tracking.click_url(message.pk, i)
        )
        subject = render_text(campaign.subject, context, html=False)
        outcome = channels.email_channel().send_chunk(
            [
                channels.Email(
                    message_id=str(message.pk),
                    to=message.address,
                    subject=subject,
                    body=body,
                    unsubscribe_url=context["unsubscribe_url"],
                )
            ]
        )[0]
    else:
        links = []
        outcome = channels.sms_channel().send_chunk(
            [channels.Sms(message_id=str(message.pk), to=message.address, body=body)]
        )[0]
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.DELIVERED if outcome.status == "sent" else MessageStatus.FAILED,
        error=outcome.error,
        links=links or None,
        sent_at=now,
        delivered_at=now if outcome.status == "sent" else None,
    )
    return outcome.status
