# ruff: noqa: E501  (long SQL lines read better unbroken)
"""A demo campaign for `manage.py seed_demo`: one email campaign sent two weeks ago to
the seed's repeat customers who ordered in the year before it, with its messages in
the ledger as delivery leaves them (skipped for the blocked and the opted out; sent,
delivered, opened, clicked, a few bounced, each with its timestamps). A campaign's
figures are counted from its messages (campaigns.selectors.campaign_stats), so they
agree by construction. Deterministic (ids are hashes of the seed's keys): the same
seed twice adds nothing the second time."""

from dataclasses import dataclass
from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from campaigns.models import Campaign, Message
from customers.models import Customer
from orders.demo import _rand
from segments.rules import validate_rule

NAME = "Spring sale"
SUBJECT = "{{ first_name }}, 20 % off everything until Sunday"
LINK = "https://shop.example.com/spring-sale"
BODY = (
    "Hi {{ first_name }},\n\nThank you for being a regular. Our spring sale starts today: "
    f"20 % off everything until Sunday.\n\n{LINK}\n\nSee you soon!"
)
# The audience: repeat customers who ordered in the last year.
RULE = {
    "logic": "AND",
    "rules": [
        {"field": "total_orders", "operator": ">=", "value": 2},
        {"field": "last_order_date", "operator": "within_last_days", "value": 365},
    ],
}
SENT_DAYS_AGO = 14
# Messages handed to the provider: (status, per mille), by how far each got.
OUTCOMES = [("bounced", 20), ("sent", 60), ("delivered", 440), ("opened", 330), ("clicked", 150)]

TABLES = [Campaign._meta.db_table, Message._meta.db_table]


@dataclass
class CampaignSummary:
    campaigns: int
    messages: int


def generate(*, account_id: Any, seed: int = 1) -> CampaignSummary:
    """Write the demo campaign and its messages for the account in scope (call inside
    account_scope, after the customers' aggregates are refreshed: the audience reads
    total_orders and last_order_date)."""
    thresholds, statuses, total = [], [], 0
    for status, per_mille in OUTCOMES:
        total += per_mille
        thresholds.append(total)
        statuses.append(status)
    params: dict[str, Any] = {
        "account": str(account_id),
        "seed": str(seed),
        "campaign": f"{account_id}{seed}:campaign:spring-sale",
        "name": NAME,
        "subject": SUBJECT,
        "body": BODY,
        "rules": Jsonb(validate_rule(RULE)),
        "links": Jsonb([LINK]),
        "days": SENT_DAYS_AGO,
        "thresholds": thresholds,
        "statuses": statuses,
    }
    mk = "%(seed)s || ':m:' || c.id || ':{col}'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Campaign._meta.db_table}
                (id, account_id, name, description, channel, segment_id, rules, subject,
                 message, delivery_mode, scheduled_at, status, error, created_at,
                 updated_at, started_at, materializing_at, materialized_at, finished_at)
            SELECT md5(%(campaign)s)::uuid, %(account)s::uuid, %(name)s,
                   'Our regulars of the past year, by email.', 'email', NULL, %(rules)s,
                   %(subject)s, %(body)s, 'immediate', NULL, 'sent', '',
                   at - interval '2 days', at + interval '40 minutes', at, at,
                   at + interval '2 minutes', at + interval '40 minutes'
              FROM (SELECT date_trunc('hour', now()) - make_interval(days => %(days)s)
                           + interval '9 hours' AS at) AS t
            ON CONFLICT DO NOTHING
            """,  # noqa: S608  (table names from the models, values are parameters)
            params,
        )
        made_campaigns = cursor.rowcount
        if not made_campaigns:
            return CampaignSummary(0, 0)
        cursor.execute(
            f"""
            WITH audience AS (
                SELECT c.id, c.email, c.status AS customer_status, c.email_opt_in,
                       k.started_at, {_rand(mk.format(col="fate"), 1000)} AS fate,
                       {_rand(mk.format(col="sent"), 40 * 60)} AS sent_after,
                       {_rand(mk.format(col="open"), 3 * 86400)} AS open_after,
                       {_rand(mk.format(col="click"), 600)} AS click_after
                  FROM {Customer._meta.db_table} c, {Campaign._meta.db_table} k
                 WHERE k.account_id = %(account)s::uuid AND k.id = md5(%(campaign)s)::uuid
                   AND c.account_id = %(account)s::uuid
                   AND c.external_id LIKE 'DEMO-' || %(seed)s || '-%%'
                   AND c.total_orders >= 2
                   AND c.last_order_date >= k.started_at - interval '365 days'
                   AND c.created_at < k.started_at
            ), fated AS (
                SELECT a.*,
                       CASE WHEN a.customer_status = 'blocked' THEN 'blocked'
                            WHEN btrim(a.email) = '' THEN 'no_address'
                            WHEN NOT a.email_opt_in THEN 'opted_out' ELSE '' END AS reason,
                       (%(statuses)s::text[])[(SELECT min(n) FROM generate_subscripts(%(thresholds)s::int[], 1) AS n
                                                WHERE a.fate < (%(thresholds)s::int[])[n])] AS outcome,
                       a.started_at + make_interval(secs => a.sent_after) AS sent_at
                  FROM audience a
            )
            INSERT INTO {Message._meta.db_table}
                (id, account_id, source, campaign_id, customer_id, lead_id, agent_id,
                 channel, address, status, error, subject, body, context, source_key,
                 tries, next_attempt_at, claim_token, claimed_by, claimed_at, provider_id,
                 links, created_at, sent_at, delivered_at, opened_at, clicked_at,
                 unsubscribed_at, failed_at)
            SELECT md5(%(account)s || %(seed)s || ':m:' || f.id)::uuid, %(account)s::uuid,
                   'campaign', md5(%(campaign)s)::uuid, f.id, NULL, NULL, 'email',
                   btrim(f.email),
                   CASE WHEN f.reason <> '' THEN 'skipped' ELSE f.outcome END,
                   f.reason, '', '', NULL, NULL,
                   CASE WHEN f.reason <> '' THEN 0 ELSE 1 END, NULL, NULL, '', NULL,
                   CASE WHEN f.reason <> '' THEN '' ELSE 'demo-' || md5(f.id::text) END,
                   CASE WHEN f.reason <> '' THEN NULL ELSE %(links)s END,
                   f.started_at,
                   CASE WHEN f.reason = '' THEN f.sent_at END,
                   CASE WHEN f.reason = '' AND f.outcome IN ('delivered', 'opened', 'clicked')
                        THEN f.sent_at + interval '4 seconds' END,
                   CASE WHEN f.reason = '' AND f.outcome IN ('opened', 'clicked')
                        THEN f.sent_at + make_interval(secs => 60 + f.open_after) END,
                   CASE WHEN f.reason = '' AND f.outcome = 'clicked'
                        THEN f.sent_at + make_interval(secs => 90 + f.open_after + f.click_after) END,
                   NULL, NULL
              FROM fated f
            ON CONFLICT DO NOTHING
            """,  # noqa: S608
            params,
        )
        made_messages = cursor.rowcount
    return CampaignSummary(made_campaigns, made_messages)
