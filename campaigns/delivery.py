"""The one delivery path of the ledger: how queued messages leave the product.

campaigns.tasks runs these; they never send a task themselves (they answer what to
send next and the task sends it), so this module and the tasks do not import each
other, and campaigns.services (which starts campaigns) imports the tasks.

- A campaign's recipients are written by one `INSERT ... SELECT ... ON CONFLICT DO
  NOTHING` from its audience query (`campaign_materialize`): each customer once, queued,
  or skipped with the reason (blocked, no address, unsubscribed, opted out, or another
  recipient of the campaign already has the address: the earliest created customer
  keeps it, an ineligible holder does not count).
- `messages_send_chunk` is one chunk of an account's due messages, whatever their
  source: the account's rate is taken from Redis (crm_project.rates) for the messages
  due, the chunk claimed with `UPDATE ... WHERE id = ANY(ARRAY(SELECT ... LIMIT n FOR
  UPDATE SKIP LOCKED)) RETURNING` (status `sending`, a claim token, this process as
  claimant), rendered from plain dicts, sent through the channel (one mail connection
  per chunk, one keep-alive HTTP client per process), and marked with one UPDATE
  guarded by the claim token. A transient failure queues the message again after
  campaigns.backoff's delay (the provider's Retry-After honoured); after MAX_TRIES, or
  on a permanent failure, it fails with the reason.
- A claim whose worker died (killed, lost) stays `sending` until `messages_reap`
  (beat, every minute) finds it older than the lease, or a worker starting on the same
  machine finds its claimant process gone (`reclaim_dead_claims`): it is queued again
  and sent under the same message id, the provider's idempotency key, so a provider
  that had accepted it drops the resend.
- A paused account sends nothing: its pump stops and its messages stay queued until
  beat finds the account active again."""

from __future__ import annotations

import html as html_lib
import json
import logging
import os
import re
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import Account, AccountStatus
from campaigns import backoff, channels, tracking
from campaigns.errors import InvalidTemplate
from campaigns.links import rewrite_links
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Message,
    MessageStatus,
)
from campaigns.templates import (
    account_values,
    frozen_context,
    looks_like_html,
    recipient_values,
    render,
    template_compile,
)
from crm_project.rates import rate_take
from crm_project.tenancy import account_scope, unscoped
from segments.selectors import STORED_RULE_ERRORS, matching_customers

log = logging.getLogger(__name__)

# A materialization nobody ran for this long (a lost task) is sent again.
MATERIALIZE_AGAIN_AFTER = timedelta(minutes=2)
# How long a pump's "I am running" mark lasts; beat kicks a pump for accounts without.
PUMP_ALIVE_SECONDS = 30
# The pixel closing an HTML email.
_PIXEL = '<img src="{url}" width="1" height="1" alt="" style="display:none">'


def worker_id() -> str:
    """This process as a claimant: host and pid (a forked pool process has its own)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.MESSAGE_CLAIM_LEASE_SECONDS)


# --- A campaign's recipients -----------------------------------------------------------


def _fail_campaign(campaign: Campaign, reason: str) -> None:
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.FAILED, error=reason[:2000], finished_at=now, updated_at=now
    )
    log.warning("Campaign %s failed: %s", campaign.pk, reason)


def _audience_rule(campaign: Campaign) -> tuple[dict | None, str]:
    """(the rule to send to, "") or (None, why the campaign cannot run)."""
    segment = campaign.segment if campaign.segment_id is not None else None
    if segment is not None:
        if not segment.active:
            return None, "Its segment is inactive."
        return segment.rules, ""
    if campaign.rules is None:
        return None, "Its segment was deleted."
    return campaign.rules, ""


# Recipients are written in batches, each its own transaction, so that sending starts
# after the first one. The audience is evaluated once, into a temporary table of this
# connection, with each customer's skip reason; a batch is the customers whose address
# hashes to it, so all holders of an address are in one batch and the earliest eligible
# one keeps it whatever the batch order.
RECIPIENT_BATCH = 5_000
_STAGE = "crm_campaign_recipients"

_STAGE_SQL = f"""
CREATE TEMPORARY TABLE {_STAGE} AS
SELECT a.id, a.created_at, btrim(a.address) AS address, {{address_key}} AS address_key,
    CASE
        WHEN a.status = 'blocked' THEN 'blocked'
        WHEN btrim(a.address) = '' THEN 'no_address'
        WHEN NOT a.opted_in AND a.unsubscribed_at IS NOT NULL THEN 'unsubscribed'
        WHEN NOT a.opted_in THEN 'opted_out'
        ELSE ''
    END AS reason
FROM ({{audience}}) AS a(id, created_at, address, status, opted_in, unsubscribed_at)
"""  # noqa: S608 - the audience is the ORM's own compilation, every value a parameter

_BATCH_SQL = f"""
WITH ranked AS (
    SELECT s.*,
        CASE WHEN reason = '' THEN row_number() OVER (
            PARTITION BY reason = '', address_key ORDER BY created_at, id
        ) ELSE 1 END AS holder_rank
    FROM {_STAGE} s
    WHERE (hashtext(address_key) & 2147483647) %% %(batches)s = %(batch)s
),
written AS (
    INSERT INTO campaigns_message (
        id, account_id, source, campaign_id, customer_id, channel, address, status,
        error, subject, body, tries, next_attempt_at, claimed_by, provider_id, created_at
    )
    SELECT crm_uuid7(), %(account)s, 'campaign', %(campaign)s, id, %(channel)s, address,
        CASE WHEN reason <> '' OR holder_rank > 1 THEN 'skipped' ELSE 'queued' END,
        CASE WHEN reason <> '' THEN reason
             WHEN holder_rank > 1 THEN 'duplicate_address' ELSE '' END,
        '', '', 0,
        CASE WHEN reason = '' AND holder_rank = 1 THEN %(now)s::timestamptz END,
        '', '', %(now)s
    FROM ranked
    ORDER BY created_at, id
    ON CONFLICT (campaign_id, customer_id) DO NOTHING
    RETURNING status
)
SELECT count(*) FILTER (WHERE status = 'queued') FROM written
"""  # noqa: S608 - the table name is this module's constant


def _stage_recipients(campaign: Campaign, rule: dict) -> int:
    """The audience with each customer's skip reason, in this connection's temporary
    table; answers how many customers it holds."""
    email = campaign.channel == Channel.EMAIL
    # The audience query reads each customer's columns itself: joining it back to the
    # customers (`id IN (audience)`) was planned as a nested loop, quadratic, on
    # customers inserted since the table's last ANALYZE (a fresh import).
    audience = (
        matching_customers(campaign.account, rule)
        .order_by()
        .values_list(
            "id",
            "created_at",
            "email" if email else "phone",
            "status",
            "email_opt_in" if email else "sms_opt_in",
            "unsubscribed_at",
        )
    )
    audience_sql, audience_params = audience.query.sql_with_params()
    sql = _STAGE_SQL.format(
        audience=audience_sql,
        address_key="lower(btrim(a.address))" if email else "btrim(a.address)",
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cursor.execute(sql, audience_params)
        return cursor.rowcount


def _write_batch(campaign: Campaign, *, batch: int, batches: int) -> int:
    """One batch of recipients written (queued or skipped); answers how many queued."""
    params: dict[str, Any] = {
        "batches": batches,
        "batch": batch,
        "account": campaign.account_id,
        "campaign": campaign.pk,
        "channel": campaign.channel,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        # The window's sort fits in memory; for this transaction only.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_BATCH_SQL, params)
        return cursor.fetchone()[0]


def _drop_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")


def campaign_materialize(
    *,
    account_id: Any,
    campaign_id: Any,
    on_batch: Callable[[int, bool], None] | None = None,
) -> int:
    """Write a started campaign's recipients, once: a conditional UPDATE of
    `materializing_at` claims the work (a redelivered task finds it claimed; a claim
    whose heartbeat stopped for MATERIALIZE_AGAIN_AFTER is taken over, and rows already
    written are kept by ON CONFLICT DO NOTHING). Batches of RECIPIENT_BATCH commit one
    by one, each checking the campaign is still sending (a cancel stops the rest);
    `on_batch(queued, first)` is called after each commit, so that the caller starts
    sending then. Answers how many messages were queued. A campaign that cannot run
    (its segment deleted or inactive, a template or stored rule that no longer
    compiles) fails with the reason. Call outside a transaction."""
    with account_scope(account_id):
        now = timezone.now()
        claimed = (
            Campaign.objects.filter(
                pk=campaign_id, status=CampaignStatus.SENDING, materialized_at__isnull=True
            )
            .filter(
                Q(materializing_at__isnull=True)
                | Q(materializing_at__lt=now - MATERIALIZE_AGAIN_AFTER)
            )
            .update(materializing_at=now, updated_at=now)
        )
        if not claimed:
            return 0
        campaign = Campaign.objects.select_related("segment", "account").get(pk=campaign_id)
        rule, problem = _audience_rule(campaign)
        if rule is None:
            _fail_campaign(campaign, problem)
            return 0
        try:
            _templates_of(campaign)
            staged = _stage_recipients(campaign, rule)
        except InvalidTemplate as exc:
            _fail_campaign(campaign, f"Its template does not compile: {exc.message}")
            return 0
        except STORED_RULE_ERRORS as exc:
            _fail_campaign(campaign, f"Its rule no longer compiles: {exc}")
            return 0
    queued = 0
    try:
        batches = max(1, -(-staged // RECIPIENT_BATCH))
        for batch in range(batches):
            with account_scope(account_id):
                # The campaign's row, locked for the batch: a cancel waits for it, then
                # skips what it wrote; a batch after the cancel writes nothing.
                if not Campaign.objects.filter(
                    pk=campaign_id, status=CampaignStatus.SENDING
                ).update(materializing_at=timezone.now()):
                    return queued
                written = _write_batch(campaign, batch=batch, batches=batches)
            if written and on_batch is not None:
                on_batch(written, queued == 0)
            queued += written
        with account_scope(account_id):
            now = timezone.now()
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
                materialized_at=now, updated_at=now
            )
    finally:
        _drop_stage()
    campaigns_finish_if_done(account_id=account_id, campaign_ids=[campaign_id])
    return queued


def pumps_for(queued: int) -> int:
    """How many pumps to start for `queued` new messages: one per chunk, at most
    MESSAGE_SEND_PARALLELISM."""
    if queued <= 0:
        return 0
    chunks = -(-queued // settings.MESSAGE_CHUNK_SIZE)
    return max(1, min(settings.MESSAGE_SEND_PARALLELISM, chunks))


def campaigns_finish_if_done(*, account_id: Any, campaign_ids: Iterable[Any]) -> int:
    """Sending campaigns among `campaign_ids` with nothing left queued or in flight
    become sent. Run in its own transaction after the marks commit: of two pumps
    finishing a campaign's last chunks at once, the later check sees both."""
    ids = [str(i) for i in set(campaign_ids)]
    if not ids:
        return 0
    with account_scope(account_id), connection.cursor() as cursor:
        cursor.execute(
            # Two NOT EXISTS, each on the partial index of its status (message_due_idx,
            # message_claimed_idx): only pending rows are read, never the sent ones.
            "UPDATE campaigns_campaign c SET status = 'sent', finished_at = now(), "
            "updated_at = now() WHERE c.id = ANY(%s::uuid[]) AND c.status = 'sending' "
            "AND c.materialized_at IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM campaigns_message m WHERE m.account_id = "
            "c.account_id AND m.status = 'queued' AND m.next_attempt_at IS NOT NULL "
            "AND m.campaign_id = c.id) "
            "AND NOT EXISTS (SELECT 1 FROM campaigns_message m WHERE m.status = 'sending' "
            "AND m.claimed_at IS NOT NULL AND m.campaign_id = c.id)",
            [ids],
        )
        return cursor.rowcount


# --- Claiming a chunk ---------------------------------------------------------------------


# The claim and what rendering needs of each recipient, in one round trip: the UPDATE
# claims (RLS and the account filter keep it to the account), the SELECT joins the
# recipients' values (customers' and agents' rows, the account's own too).
# The chunk's ids are picked once, as an array (an InitPlan, run once, then read through
# the primary key): as `WHERE m.id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`
# PostgreSQL may plan a nested-loop semi-join that runs the subquery again for each row,
# each run locking and returning more rows, so neither the chunk size nor the account's
# rate held.
_CLAIM_SQL = """
WITH claimed AS (
    UPDATE campaigns_message m
    SET status = 'sending', claim_token = %(token)s, claimed_by = %(worker)s,
        claimed_at = now(), tries = m.tries + 1
    WHERE m.id = ANY(ARRAY(
        SELECT id FROM campaigns_message
        WHERE account_id = %(account)s AND status = 'queued' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING m.id, m.source, m.campaign_id, m.customer_id, m.lead_id, m.agent_id,
        m.channel, m.address, m.subject, m.body, m.context, m.tries
)
SELECT claimed.*,
    c.id IS NOT NULL, c.first_name, c.last_name, c.email, c.phone, c.company, c.city,
    c.country, c.metadata, c.tags,
    g.id IS NOT NULL, g.first_name, g.last_name, g.email, g.phone,
    l.id IS NOT NULL, l.first_name, l.last_name, l.email, l.phone, l.company, l.city,
    l.attributes
FROM claimed
LEFT JOIN customers_customer c ON c.id = claimed.customer_id
LEFT JOIN accounts_agent g ON g.id = claimed.agent_id
LEFT JOIN leads_lead l ON l.id = claimed.lead_id
"""


@dataclass
class Claimed:
    id: uuid.UUID
    source: str
    campaign_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    channel: str
    address: str
    subject: str
    body: str
    context: dict | None
    tries: int
    # The recipient's template values; None when the recipient was deleted.
    recipient: dict[str, Any] | None = None


def _recipient(row: Sequence[Any]) -> dict[str, Any] | None:
    customer, agent, lead = row[12:22], row[22:27], row[27:35]
    if row[3] is not None:  # a customer
        if not customer[0]:
            return None
        first, last, email, phone, company, city, country, metadata, tags = customer[1:]
        return recipient_values(
            first_name=first, last_name=last, email=email, phone=phone, company=company,
            city=city, country=country, metadata=_json_value(metadata), tags=tags,
        )  # fmt: skip
    if row[5] is not None:  # an agent
        if not agent[0]:
            return None
        first, last, email, phone = agent[1:]
        return recipient_values(first_name=first, last_name=last, email=email, phone=phone)
    if row[4] is not None:  # a lead
        if not lead[0]:
            return None
        first, last, email, phone, company, city, attributes = lead[1:]
        return recipient_values(
            first_name=first, last_name=last, email=email, phone=phone, company=company,
            city=city, attributes=_json_value(attributes) or {},
        )  # fmt: skip
    return None


def _claim(account_id: Any, limit: int, token: uuid.UUID) -> list[Claimed]:
    with account_scope(account_id), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {"token": token, "worker": worker_id(), "account": account_id, "limit": limit},
        )
        return [
            Claimed(
                *row[:10],  # type: ignore[misc]  # the claim's columns, in order
                context=_json_value(row[10]),
                tries=row[11],
                recipient=_recipient(row),
            )
            for row in cursor.fetchall()
        ]


def _json_value(value: Any) -> Any:
    """A jsonb column read by a raw cursor: Django has psycopg hand jsonb over as text
    (its JSONField decodes it), so raw reads decode it here."""
    return json.loads(value) if isinstance(value, str) else value


# --- Rendering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Templates:
    subject: Any
    body: Any
    html: bool


def _templates_of(campaign: Campaign) -> Templates:
    return _compiled(campaign.channel, campaign.subject, campaign.message)


def _compiled(channel: str, subject: str, body: str) -> Templates:
    html = channel == Channel.EMAIL and looks_like_html(body)
    return Templates(
        subject=template_compile(subject, html=False) if channel == Channel.EMAIL else None,
        body=template_compile(body, html=html),
        html=html,
    )


@dataclass
class _Chunk:
    """What rendering a claimed chunk needs besides each recipient's values."""

    account: Mapping[str, Any]
    campaigns: dict[uuid.UUID, Templates | None]


def _load(account: dict[str, Any], claimed: Sequence[Claimed]) -> _Chunk:
    """The account's template values and the chunk's campaigns' compiled templates (a
    campaign's templates cannot change once it sends: template_compile caches them)."""
    campaign_ids = {m.campaign_id for m in claimed if m.campaign_id}
    campaigns: dict[uuid.UUID, Templates | None] = {}
    if campaign_ids:
        with account_scope(account["id"]):
            rows = list(
                Campaign.objects.filter(pk__in=campaign_ids).values(
                    "id", "channel", "subject", "message"
                )
            )
        for row in rows:
            try:
                campaigns[row["id"]] = _compiled(row["channel"], row["subject"], row["message"])
            except InvalidTemplate:
                campaigns[row["id"]] = None
    return _Chunk(
        account=frozen_context(
            account_values(
                name=account["name"],
                ai_assistant_name=account["ai_assistant_name"],
                attributes=account["attributes"],
            )
        ),
        campaigns=campaigns,
    )


@dataclass
class Rendered:
    """A claimed message ready for its channel, or the reason it cannot be sent."""

    message: Claimed
    email: channels.Email | None = None
    sms: channels.Sms | None = None
    links: list[str] = field(default_factory=list)
    problem: str = ""


_ANCHOR = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(?P<quote>["'])(?P<url>.*?)(?P=quote)[^>]*>(?P<label>.*?)</a\s*>""",
    re.I | re.S,
)
_INVISIBLE = re.compile(r"<(head|style|script|title)\b.*?</\1\s*>", re.I | re.S)
_LINE_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|h[1-6]|li|tr|table|blockquote|ul|ol)\s*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")


def _html_text(html: str) -> str:
    """The plain-text part of an HTML email: its text, a line per block, each link as
    `label <url>` (the URL alone when it is its own label), so the text part keeps the
    links, tracked as the HTML's are. (NUL never occurs in a rendered template: the
    templates refuse it and PostgreSQL text cannot hold it.)"""
    anchors: list[str] = []

    def anchor(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group("url")).strip()
        label = " ".join(html_lib.unescape(_TAG.sub("", match.group("label"))).split())
        anchors.append(url if not label or label == url else f"{label} <{url}>")
        return f"\x00{len(anchors) - 1}\x00"

    text = _ANCHOR.sub(anchor, _INVISIBLE.sub("", html))
    text = html_lib.unescape(strip_tags(_LINE_BREAK.sub("\n", text)))
    text = _PLACEHOLDER.sub(lambda match: anchors[int(match.group(1))], text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _with_pixel(html: str, url: str) -> str:
    pixel = _PIXEL.format(url=html_lib.escape(url))
    closing = html.lower().rfind("</body>")
    if closing < 0:
        return html + pixel
    return html[:closing] + pixel + html[closing:]


def _render_one(message: Claimed, chunk: _Chunk) -> Rendered:
    if message.campaign_id is not None:
        templates = chunk.campaigns.get(message.campaign_id)
        if templates is None:
            return Rendered(message, problem="Its campaign's template does not compile.")
    else:
        try:
            templates = _compiled(message.channel, message.subject, message.body)
        except InvalidTemplate as exc:
            return Rendered(message, problem=f"Its template does not compile: {exc.message}")
    recipient = message.recipient
    if recipient is None:
        return Rendered(message, problem="The recipient was deleted.")
    unsubscribe_url = tracking.unsubscribe_url(message.id)
    context = frozen_context(
        {
            **recipient,
            "account": chunk.account,
            "unsubscribe_url": unsubscribe_url,
            **(message.context or {}),
        }
    )
    body = render(templates.body, context)
    if message.channel == Channel.SMS:
        sms = channels.Sms(message_id=str(message.id), to=message.address, body=body)
        return Rendered(message, sms=sms)
    subject = render(templates.subject, context)
    indexes: dict[str, int] = {}
    links: list[str] = []

    def tracker(url: str, _index: int) -> str | None:
        if url == unsubscribe_url:
            return None
        if url not in indexes:
            indexes[url] = len(links)
            links.append(url)
        return tracking.click_url(message.id, indexes[url])

    html_body: str | None = None
    if templates.html:
        html_body, _ = rewrite_links(body, html=True, tracker=tracker)
        html_body = _with_pixel(html_body, tracking.open_url(message.id))
        text = _html_text(body)
    else:
        text = body
    text, _ = rewrite_links(text, html=False, tracker=tracker)
    email = channels.Email(
        message_id=str(message.id),
        to=message.address,
        subject=subject,
        body=text,
        html_body=html_body,
        unsubscribe_url=unsubscribe_url,
    )
    return Rendered(message, email=email, links=links)


# --- Sending and marking ----------------------------------------------------------------


@dataclass
class _Mark:
    id: uuid.UUID
    status: str
    error: str = ""
    next_attempt_at: datetime | None = None
    links: list[str] | None = None
    provider_id: str = ""


def _outcome_mark(rendered: Rendered, outcome: channels.Outcome, now: datetime) -> _Mark:
    message = rendered.message
    if outcome.status == channels.SENT:
        receipts = message.channel == Channel.SMS and settings.SMS_PROVIDER == "http"
        return _Mark(
            message.id,
            MessageStatus.SENT if receipts else MessageStatus.DELIVERED,
            links=rendered.links or None,
            provider_id=outcome.provider_id or "",
        )
    if outcome.status == channels.TRANSIENT:
        delay = backoff.retry_delay(message.tries, retry_after=outcome.retry_after)
        if delay is not None:
            return _Mark(
                message.id,
                MessageStatus.QUEUED,
                error=outcome.error,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        return _Mark(
            message.id,
            MessageStatus.FAILED,
            error=f"Gave up after {message.tries} tries: {outcome.error}"[:500],
        )
    return _Mark(message.id, MessageStatus.FAILED, error=outcome.error or "refused")


_MARK_SQL = """
UPDATE campaigns_message m SET
    status = CASE WHEN v.status = 'sent' AND m.delivered_at IS NOT NULL THEN 'delivered'
                  ELSE v.status END,
    error = v.error,
    next_attempt_at = v.next_attempt_at,
    links = v.links,
    provider_id = v.provider_id,
    sent_at = CASE WHEN v.status IN ('sent', 'delivered') THEN %(now)s ELSE m.sent_at END,
    delivered_at = CASE WHEN v.status = 'delivered' THEN %(now)s ELSE m.delivered_at END,
    failed_at = CASE WHEN v.status = 'failed' THEN %(now)s ELSE m.failed_at END,
    claim_token = NULL, claimed_by = '', claimed_at = NULL
FROM unnest(%(ids)s::uuid[], %(statuses)s::text[], %(errors)s::text[],
            %(next)s::timestamptz[], %(links)s::jsonb[], %(providers)s::text[])
    AS v(id, status, error, next_attempt_at, links, provider_id)
WHERE m.id = v.id AND m.claim_token = %(token)s
"""


def _mark(account_id: Any, token: uuid.UUID, marks: Sequence[_Mark]) -> int:
    """Write the outcomes of a chunk in one UPDATE, only on rows this claim still owns
    (a claim reclaimed meanwhile belongs to its new claimant)."""
    if not marks:
        return 0
    params: dict[str, Any] = {
        "now": timezone.now(),
        "token": token,
        "ids": [m.id for m in marks],
        "statuses": [m.status for m in marks],
        "errors": [m.error[:500] for m in marks],
        "next": [m.next_attempt_at for m in marks],
        "links": [_json(m.links) for m in marks],
        "providers": [m.provider_id[:200] for m in marks],
    }
    with account_scope(account_id), connection.cursor() as cursor:
        cursor.execute(_MARK_SQL, params)
        return cursor.rowcount


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _send(rendered: Sequence[Rendered]) -> list[channels.Outcome]:
    """The outcome of each rendered message, in order: emails over one connection,
    SMS through the configured provider."""
    outcomes: dict[int, channels.Outcome] = {}
    emails = [(i, r.email) for i, r in enumerate(rendered) if r.email is not None]
    texts = [(i, r.sms) for i, r in enumerate(rendered) if r.sms is not None]
    if emails:
        sent = channels.email_channel().send_chunk([e for _, e in emails])
        outcomes.update(zip([i for i, _ in emails], sent, strict=True))
    if texts:
        sent = channels.sms_channel().send_chunk([s for _, s in texts])
        outcomes.update(zip([i for i, _ in texts], sent, strict=True))
    for i, r in enumerate(rendered):
        if r.problem:
            outcomes[i] = channels.Outcome(channels.PERMANENT, r.problem)
    return [outcomes[i] for i in range(len(rendered))]


@dataclass
class Pumped:
    """What a pump did, and when it should run again: `again` 0 for at once (it
    claimed a full chunk: more may be due), seconds for later, None for not at all."""

    claimed: int = 0
    sent: int = 0
    again: float | None = None


def _alive_key(account_id: Any) -> str:
    return f"campaigns:pump:{account_id}"


def _next_due_in(account_id: Any) -> float | None:
    with account_scope(account_id):
        due = (
            Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__isnull=False)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


def _due_count(account_id: Any, limit: int) -> int:
    """How many of the account's messages are due now, counting up to `limit`."""
    with account_scope(account_id), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM campaigns_message WHERE account_id = %s "
            "AND status = 'queued' AND next_attempt_at <= now() LIMIT %s) AS due",
            [account_id, limit],
        )
        return cursor.fetchone()[0]


def _sending_campaigns(account_id: Any) -> list[Any]:
    with account_scope(account_id):
        return list(
            Campaign.objects.filter(
                status=CampaignStatus.SENDING, materialized_at__isnull=False
            ).values_list("pk", flat=True)
        )


def messages_send_chunk(*, account_id: Any) -> Pumped:
    """Claim, render, send and mark one chunk of the account's due messages."""
    row = (
        Account.objects.filter(pk=account_id)
        .values("id", "status", "send_rate_per_second", "name", "ai_assistant_name", "attributes")
        .first()
    )
    if row is None or row["status"] != AccountStatus.ACTIVE:
        return Pumped()  # paused (or gone): its messages wait; beat resumes them
    cache.set(_alive_key(account_id), 1, PUMP_ALIVE_SECONDS)
    want = settings.MESSAGE_CHUNK_SIZE
    if row["send_rate_per_second"]:
        # Tokens for the messages due, not for a whole chunk: a token taken and not
        # used is lost, and a few messages would empty the bucket for the next ones.
        want = _due_count(account_id, want)
        if not want:
            return _drained(account_id)
    granted, wait = rate_take(
        f"campaigns:rate:{account_id}",
        rate_per_second=row["send_rate_per_second"],
        want=want,
    )
    if not granted:
        return Pumped(again=max(wait, 0.05))
    token = uuid.uuid4()
    claimed = _claim(account_id, granted, token)
    if not claimed:
        return _drained(account_id)
    chunk = _load(dict(row), claimed)
    rendered = [_render_one(message, chunk) for message in claimed]
    outcomes = _send(rendered)
    now = timezone.now()
    marks = [_outcome_mark(r, o, now) for r, o in zip(rendered, outcomes, strict=True)]
    _mark(account_id, token, marks)
    sent = sum(1 for m in marks if m.status in (MessageStatus.SENT, MessageStatus.DELIVERED))
    if len(claimed) == settings.MESSAGE_CHUNK_SIZE:
        return Pumped(claimed=len(claimed), sent=sent, again=0.0)
    drained = _drained(account_id)  # "again" is 0 when more is due (a rate's share)
    return Pumped(claimed=len(claimed), sent=sent, again=drained.again)


def _drained(account_id: Any) -> Pumped:
    """The run found no more than it claimed: the account's sending campaigns with
    nothing left become sent, and the next run is for when a message is due. A run
    that claimed a full chunk does not check (more is queued, a later run will): the
    check runs once per drain, not once per chunk; beat's reaper is the safety net."""
    campaigns_finish_if_done(account_id=account_id, campaign_ids=_sending_campaigns(account_id))
    return Pumped(again=_next_due_in(account_id))


# --- Reclaiming, resuming, starting -------------------------------------------------------


_RECLAIM_SQL = """
UPDATE campaigns_message SET
    status = CASE WHEN tries >= %(max_tries)s THEN 'failed' ELSE 'queued' END,
    error = CASE WHEN tries >= %(max_tries)s
                 THEN 'Its worker stopped while sending it, at every try.' ELSE error END,
    failed_at = CASE WHEN tries >= %(max_tries)s THEN now() ELSE failed_at END,
    next_attempt_at = CASE WHEN tries >= %(max_tries)s THEN NULL ELSE now() END,
    claim_token = NULL, claimed_by = '', claimed_at = NULL
WHERE status = 'sending' AND ({condition})
RETURNING account_id, campaign_id
"""


def _reclaim(condition: str, params: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(account id, campaign id) of each message queued again (or failed), one per
    message."""
    with unscoped(), connection.cursor() as cursor:
        cursor.execute(
            _RECLAIM_SQL.format(condition=condition),
            {"max_tries": backoff.MAX_TRIES, **params},
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def reclaim_dead_claims() -> set[Any]:
    """On worker start: claims of processes of this machine that are gone (killed) are
    queued again at once. Answers the accounts to pump: those, and every active account
    with messages due (a worker killed between a chunk's mark and sending its pump's
    next run left no claim, and its unacknowledged task comes back only after the
    broker's visibility timeout; its pump's "alive" mark may still stand, so the
    reaper would wait for it to lapse)."""
    host = socket.gethostname()
    with unscoped():
        claimants = set(
            Message.objects.filter(
                status=MessageStatus.SENDING, claimed_by__startswith=f"{host}:"
            ).values_list("claimed_by", flat=True)
        )
    dead = [c for c in claimants if not _process_alive(c.rsplit(":", 1)[1])]
    accounts: set[Any] = set()
    if dead:
        reclaimed = _reclaim("claimed_by = ANY(%(dead)s)", {"dead": dead})
        log.warning("Reclaimed %d messages of stopped workers %s", len(reclaimed), dead)
        accounts = {account_id for account_id, _ in reclaimed}
    now = timezone.now()
    with unscoped():
        due = (
            Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
            .order_by()
            .values_list("account_id", flat=True)
            .distinct()
        )
        accounts |= set(
            Account.objects.filter(pk__in=due, status=AccountStatus.ACTIVE).values_list(
                "pk", flat=True
            )
        )
    return accounts


def _process_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


@dataclass
class Reaped:
    """What a pass of the reaper found, and the work its task sends."""

    reclaimed: int = 0
    pumps: set[Any] = field(default_factory=set)
    materialize: list[tuple[Any, Any]] = field(default_factory=list)
    finished: int = 0


def messages_reap() -> Reaped:
    """Beat, every minute: claims older than the lease queued again (their worker
    died or hangs; the resend carries the same idempotency key); active accounts with
    due messages and no running pump get one; sending campaigns whose recipients were
    never written (a lost task) are sent again; sending campaigns with nothing left
    become sent (a finish check lost with its worker)."""
    now = timezone.now()
    reaped = Reaped()
    stale = _reclaim("claimed_at < %(before)s", {"before": now - _lease()})
    reaped.reclaimed = len(stale)
    with unscoped():
        due_accounts = set(
            Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
            .order_by()
            .values_list("account_id", flat=True)
            .distinct()
        )
        active = set(
            Account.objects.filter(
                pk__in=due_accounts | {account_id for account_id, _ in stale},
                status=AccountStatus.ACTIVE,
            ).values_list("pk", flat=True)
        )
        reaped.materialize = list(
            Campaign.objects.filter(
                status=CampaignStatus.SENDING,
                materialized_at__isnull=True,
                started_at__lt=now - MATERIALIZE_AGAIN_AFTER,
            )
            .filter(
                Q(materializing_at__isnull=True)
                | Q(materializing_at__lt=now - MATERIALIZE_AGAIN_AFTER)
            )
            .values_list("account_id", "pk")
        )
        sending = defaultdict(list)
        for account_id, campaign_id in Campaign.objects.filter(
            status=CampaignStatus.SENDING, materialized_at__isnull=False
        ).values_list("account_id", "pk"):
            sending[account_id].append(campaign_id)
    stale_accounts = {account_id for account_id, _ in stale}
    reaped.pumps = {a for a in active if a in stale_accounts or not cache.get(_alive_key(a))}
    for account_id, campaign_ids in sending.items():
        reaped.finished += campaigns_finish_if_done(
            account_id=account_id, campaign_ids=campaign_ids
        )
    return reaped


def campaigns_start_due() -> list[tuple[Any, Any]]:
    """Beat: scheduled campaigns whose time has come start sending (a conditional
    UPDATE each, so two beats start one once). Answers (account id, campaign id) of
    those started: their task writes the recipients."""
    now = timezone.now()
    with unscoped():
        due = list(
            Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at")
            .values_list("account_id", "pk")
        )
    started = []
    for account_id, campaign_id in due:
        with account_scope(account_id):
            if Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
                status=CampaignStatus.SENDING, started_at=now, updated_at=now
            ):
                started.append((account_id, campaign_id))
    return started
