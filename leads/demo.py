# ruff: noqa: E501  (long SQL lines read better unbroken)
"""Demo leads for `manage.py seed_demo`, set-based like orders.demo: one
`INSERT ... SELECT` over `generate_series`, every status and every source, created over
the last year, most assigned to the account's agents (when it has any), about 15 %
converted into the seed's customers (linked both ways, as leads.services.lead_convert
links them: the lead's converted_customer and converted_at, the customer's
source_lead). Deterministic (ids are hashes of the seed's keys): the same seed twice
adds nothing the second time. The leads table's statement triggers keep its counters
(per status too) and the report's LeadDay rollup exact, as for any INSERT."""

from dataclasses import dataclass
from typing import Any

from django.db import connection

from accounts.models import Agent
from customers.models import Customer
from leads.models import Lead, LeadSource, LeadStatus
from orders.demo import CITIES, FIRST_NAMES, LAST_NAMES, _pick, _rand, _weighted

CONVERTED_PERCENT = 15
# Statuses of the leads not converted, weighted; the first leads take each in turn so
# that a small demo has them all.
OPEN_STATUSES = [
    (LeadStatus.NEW.value, 25),
    (LeadStatus.CONTACTED.value, 20),
    (LeadStatus.QUALIFIED.value, 14),
    (LeadStatus.PROPOSAL.value, 9),
    (LeadStatus.NEGOTIATION.value, 7),
    (LeadStatus.LOST.value, 17),
    (LeadStatus.WON.value, 8),
]
SOURCES = [
    (LeadSource.WEBSITE.value, 30),
    (LeadSource.REFERRAL.value, 14),
    (LeadSource.CAMPAIGN.value, 12),
    (LeadSource.DIRECT.value, 12),
    (LeadSource.SOCIAL.value, 16),
    (LeadSource.EMAIL.value, 10),
    (LeadSource.OTHER.value, 6),
]
# Leads 1..len(OPEN_STATUSES) take each open status in turn; the next one converts.
FIRST_CONVERTED = len(OPEN_STATUSES) + 1

TABLES = [Lead._meta.db_table]


@dataclass
class LeadsSummary:
    leads: int
    converted: int


def generate(*, account_id: Any, leads: int, seed: int = 1) -> LeadsSummary:
    """Write the demo leads of the account in scope (call inside account_scope, after
    orders.demo.generate: converted leads link the seed's customers, preferring those
    who signed up in the last year, each customer at most one lead)."""
    if leads <= 0:
        return LeadsSummary(0, 0)
    params: dict[str, Any] = {
        "account": str(account_id),
        "seed": str(seed),
        "n_leads": leads,
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "cities": [c for c, _ in CITIES],
        "open_statuses": [s for s, _ in OPEN_STATUSES],
        "weighted_statuses": _weighted(OPEN_STATUSES),
        "sources": [s for s, _ in SOURCES],
        "weighted_sources": _weighted(SOURCES),
        "converted_percent": CONVERTED_PERCENT,
        "first_converted": FIRST_CONVERTED,
    }
    lk = "%(seed)s || ':lead:' || p.i || ':{col}'"
    leads_table = Lead._meta.db_table
    customers = Customer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH wanted AS (
                SELECT i, (i = %(first_converted)s
                           OR (i > %(first_converted)s
                               AND {_rand("%(seed)s || ':lead:' || i || ':conv'", 100)} < %(converted_percent)s))
                          AS converts
                  FROM generate_series(1, %(n_leads)s) AS i
            ), numbered AS (
                SELECT i, CASE WHEN converts
                               THEN row_number() OVER (PARTITION BY converts ORDER BY i) END AS k
                  FROM wanted
            ), candidates AS (
                -- The seed's customers no lead converted into yet, those who signed up
                -- in the last year first.
                SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.company,
                       c.street, c.city, c.zip, c.created_at,
                       row_number() OVER (ORDER BY c.created_at > now() - interval '330 days' DESC,
                                                   c.number) AS k
                  FROM {customers} c
                 WHERE c.account_id = %(account)s::uuid
                   AND c.external_id LIKE 'DEMO-' || %(seed)s || '-%%'
                   AND c.source_lead IS NULL
            ), picked AS (
                SELECT n.i, cand.id AS customer_id, cand.first_name AS c_first,
                       cand.last_name AS c_last, cand.email AS c_email, cand.phone AS c_phone,
                       cand.company AS c_company, cand.street AS c_street,
                       cand.city AS c_city, cand.zip AS c_zip, cand.created_at AS c_created
                  FROM numbered n LEFT JOIN candidates cand ON cand.k = n.k
            ), agents AS (
                SELECT coalesce(array_agg(id ORDER BY id), ARRAY[]::uuid[]) AS ids
                  FROM {Agent._meta.db_table}
                 WHERE account_id = %(account)s::uuid AND active
            ), drafted AS (
                SELECT p.*,
                       CASE WHEN p.customer_id IS NOT NULL THEN 'converted'
                            WHEN p.i <= cardinality(%(open_statuses)s::text[])
                                THEN (%(open_statuses)s::text[])[p.i]
                            ELSE {_pick("%(weighted_statuses)s::text[]", lk.format(col="st"))}
                       END AS status,
                       CASE WHEN p.i <= cardinality(%(sources)s::text[])
                                THEN (%(sources)s::text[])[p.i]
                            ELSE {_pick("%(weighted_sources)s::text[]", lk.format(col="src"))}
                       END AS source,
                       CASE WHEN p.customer_id IS NOT NULL
                            THEN p.c_created - make_interval(
                                     secs => 86400 + {_rand(lk.format(col="lag"), 60 * 86400)})
                            ELSE now() - make_interval(secs => {_rand(lk.format(col="at"), 365 * 86400)})
                       END AS created_at,
                       {_pick("%(first_names)s::text[]", lk.format(col="fn"))} AS first_name,
                       {_pick("%(last_names)s::text[]", lk.format(col="ln"))} AS last_name,
                       {_rand(lk.format(col="score"), 100)} AS dice,
                       {_rand(lk.format(col="agent"), 100)} AS assign_dice,
                       a.ids AS agents
                  FROM picked p, agents a
            ), ins AS (
                INSERT INTO {leads_table}
                    (id, account_id, external_id, source_id, first_name, last_name, email,
                     phone, company, source, status, score, notes, campaign_id,
                     assigned_to_id, street, city, state, zip, ip_address, acquired_at,
                     jornaya_lead_id, trusted_form_id, attributes, last_contact,
                     unsubscribed_at, nurture_state, converted_customer_id, converted_at,
                     created_at, updated_at)
                SELECT md5(%(account)s || %(seed)s || ':lead:' || r.i)::uuid, %(account)s::uuid,
                       'DEMO-' || %(seed)s || '-' || r.i, '',
                       coalesce(r.c_first, r.first_name), coalesce(r.c_last, r.last_name),
                       CASE WHEN r.customer_id IS NOT NULL THEN r.c_email
                            WHEN r.i %% 11 = 0 THEN ''
                            ELSE lower(translate(r.first_name || '.' || r.last_name,
                                       'éèëêàâîïôöüûçñíóúáÉ', 'eeeeaaiioouucniouaE'))
                                 || '.lead' || r.i || '@example.net' END,
                       CASE WHEN r.customer_id IS NOT NULL THEN r.c_phone
                            WHEN r.i %% 3 = 0 OR r.i %% 11 = 0
                                THEN '+3362' || lpad({_rand("%(seed)s || ':lead:' || r.i || ':ph'", 10000000)}::text, 7, '0')
                            ELSE '' END,
                       CASE WHEN r.customer_id IS NOT NULL THEN r.c_company
                            WHEN r.i %% 6 = 0 THEN r.last_name || ' & Co' ELSE '' END,
                       r.source, r.status,
                       CASE r.status
                            WHEN 'converted' THEN 60 + r.dice * 40 / 100
                            WHEN 'won' THEN 70 + r.dice * 30 / 100
                            WHEN 'lost' THEN r.dice * 35 / 100
                            WHEN 'new' THEN r.dice * 50 / 100
                            ELSE 25 + r.dice * 65 / 100 END,
                       '', NULL,
                       CASE WHEN cardinality(r.agents) > 0
                             AND r.assign_dice < CASE WHEN r.status = 'new' THEN 35 ELSE 85 END
                            THEN r.agents[1 + {_rand("%(seed)s || ':lead:' || r.i || ':who'", "cardinality(r.agents)")}]
                       END,
                       coalesce(r.c_street, ''),
                       coalesce(r.c_city, (%(cities)s::text[])[1 + {_rand("%(seed)s || ':lead:' || r.i || ':city'", "cardinality(%(cities)s::text[])")}]),
                       '', coalesce(r.c_zip, ''), NULL, r.created_at, '', '', '{{}}'::jsonb,
                       NULL, NULL,
                       CASE WHEN r.customer_id IS NOT NULL THEN 'stopped' ELSE 'idle' END,
                       r.customer_id, r.c_created, r.created_at,
                       coalesce(r.c_created, r.created_at)
                  FROM drafted r
                ON CONFLICT DO NOTHING
                RETURNING id, converted_customer_id
            ), linked AS (
                UPDATE {customers} c SET source_lead = ins.id
                  FROM ins
                 WHERE c.account_id = %(account)s::uuid AND c.id = ins.converted_customer_id
                   AND c.source_lead IS NULL
                RETURNING c.id
            )
            SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM linked)
            """,  # noqa: S608  (table names from the models, values are parameters)
            params,
        )
        made, converted = cursor.fetchone()
    return LeadsSummary(made, converted)
