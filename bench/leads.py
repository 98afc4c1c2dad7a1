"""Benchmark: the leads API on 1,000,000 leads of one account, through the real code
path (Django's request handling, API-key credentials, middleware, DRF, row-level
security as the application role), in process with DRF's test client.

    .venv/bin/python bench/leads.py [--leads 1000000] [--runs 7] [--bulk-calls 5]
                                    [--fresh] [--explain] [--import] [--nurture]

In its own database (`crm_bench_leads` on DATABASE_URL's server; REDIS_URL, default the
machine's Redis db 3), account `bench-leads` (Europe/Paris) with 25 agents. The leads
are written once by one `INSERT ... SELECT ... generate_series` (the secondary indexes
dropped first and built again after: minutes, not the hours of a million API calls;
the row counter's triggers still count them), with a realistic spread: statuses from
new (30 %) to won (2 %), seven sources, 85 % assigned to one of the agents, names from
a few hundred first and last names, unique emails, E.164 phones, scores 0..100, created
over the last two years, converted ones 1..60 days later. Later runs reuse them
(`--fresh` rebuilds).

Prints each case's median of --runs timed runs (after one warm-up) in ms, beside its
aim: list pages and the pipeline board < 100 ms, the leads report < 300 ms, bulk
upserts >= 2,000 rows/s (1,000 new leads per POST /leads/bulk/, over --bulk-calls
calls). `--explain` prints EXPLAIN ANALYZE of the report's and the board's queries.
`--import` also runs bench/leads_import.py's `run(leads)` (its own database) and prints
its figures; `--nurture` runs bench/leads_nurture.py's `run()` where that module
exists."""

import argparse
import base64
import importlib
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

# Run as a file (`python bench/leads.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_database, manage

DATABASE = "crm_bench_leads"
ACCOUNT = "bench-leads"
TIMEZONE = "Europe/Paris"
AGENTS = 25
AIM_LIST_MS = 100
AIM_REPORT_MS = 300
AIM_BULK_ROWS_PER_S = 2_000
BULK_ROWS = 1_000

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel
Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily
Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa
Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia
Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry
Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory
Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis
Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry
Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan Walter
Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline
Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence
Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Judy Bruce
Sophia Gabriel Grace Logan Denise Albert Amber Willie Doris Alan Marilyn Juan Danielle Wayne
Beverly Elijah Isabella Randy Theresa Roy Diana Vincent Natalie Ralph Brittany Eugene
Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori""".split()  # noqa: SIM905
LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez
Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright
Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell
Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart
Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly
Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza
Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell
Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher
Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace
Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford
Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas
Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon
Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson
Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols
Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong
Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston
Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval""".split()  # noqa: SIM905
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.com", "acme.io", "mail.fr"]

# status: cumulative share (of 1) below which a lead gets it; same for sources.
STATUS_SHARES = [
    ("new", 0.30),
    ("contacted", 0.50),
    ("qualified", 0.65),
    ("proposal", 0.73),
    ("negotiation", 0.78),
    ("converted", 0.88),
    ("lost", 0.98),
    ("won", 1.00),
]
SOURCE_SHARES = [
    ("website", 0.35),
    ("referral", 0.50),
    ("campaign", 0.65),
    ("social", 0.78),
    ("email", 0.88),
    ("direct", 0.95),
    ("other", 1.00),
]


def _case(column: str, shares: list[tuple[str, float]]) -> str:
    whens = " ".join(f"WHEN {column} < {share} THEN '{value}'" for value, share in shares[:-1])
    return f"CASE {whens} ELSE '{shares[-1][0]}' END"


def _text_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{value}'" for value in values) + "]"


# One pass of generate_series: r1..r8 are the row's random draws (setseed: the same
# leads every build). The columns Django gives defaults in Python are written here.
INSERT_SQL = f"""
INSERT INTO leads_lead (
    id, account_id, external_id, source_id, first_name, last_name, email, phone, company,
    source, status, score, notes, assigned_to_id, street, city, state, zip, ip_address,
    jornaya_lead_id, trusted_form_id, attributes, nurture_state,
    converted_at, created_at, updated_at
)
SELECT crm_uuid7(), %(account)s, 'L' || lpad(i::text, 8, '0'), '', first, last,
       lower(first) || '.' || lower(last) || '.' || i || '@'
           || ({_text_array(DOMAINS)})[1 + (i %% {len(DOMAINS)})],
       '+1' || (200 + floor(r7 * 800)::int) || lpad(floor(r8 * 10000000)::int::text, 7, '0'),
       '', {_case("r2", SOURCE_SHARES)}, status, floor(r3 * 101)::int, '',
       CASE WHEN r6 < 0.15 THEN NULL
            ELSE (%(agents)s::uuid[])[1 + floor(r6 * 1000)::int %% cardinality(%(agents)s::uuid[])]
       END,
       '', '', '', '', NULL, '', '', '{{}}', 'idle',
       CASE WHEN status = 'converted' THEN created + (1 + floor(r5 * 60)) * interval '1 day' END,
       created, created
  FROM (
    SELECT i, r2, r3, r5, r6, r7, r8,
           ({_text_array(FIRST)})[1 + floor(r4 * {len(FIRST)})::int] AS first,
           ({_text_array(LAST)})[1 + floor(r5 * {len(LAST)})::int] AS last,
           {_case("r1", STATUS_SHARES)} AS status,
           now() - interval '2 days' - r7 * interval '730 days' AS created
      FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                   random() AS r5, random() AS r6, random() AS r7, random() AS r8
              FROM generate_series(%(first)s::int, %(last)s::int) AS i) AS draws
  ) AS rows
"""


def build_leads(url: str, account_id, agent_ids: list, count: int) -> None:
    """Write `count` leads into the account (those it has are kept: only the missing
    ones are written), the secondary indexes dropped and built again around it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM leads_lead WHERE account_id = %s", [account_id]
        ).fetchone()[0]
        if have >= count:
            print(f"{have:,} leads already there", flush=True)
            return
        started = time.monotonic()
        indexes = conn.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                 FROM pg_index i
                WHERE i.indrelid = 'leads_lead'::regclass
                  AND NOT i.indisprimary AND NOT i.indisunique"""
        ).fetchall()
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            INSERT_SQL,
            {
                "account": account_id,
                "agents": [str(pk) for pk in agent_ids],
                "first": have + 1,
                "last": count,
            },
        )
        print(f"{count - have:,} leads written in {time.monotonic() - started:.0f}s", flush=True)
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM (ANALYZE) leads_lead")
        print(f"indexes built, vacuumed in {time.monotonic() - started:.0f}s total", flush=True)


def timed(run, runs: int) -> tuple[float, object]:
    run()  # warm-up: caches, plans
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def cursor_at(created_at) -> str:
    """The `?cursor=` of the page after `created_at` (DRF's cursor: its position)."""
    return base64.b64encode(urlencode({"p": str(created_at)}).encode()).decode()


def api_cases(account, client, runs: int) -> list[tuple[str, float, str]]:
    """(case, median ms, aim) of the read cases."""
    from crm_project.tenancy import account_scope
    from leads import selectors as lead_selectors
    from leads.models import Lead

    with account_scope(account):
        leads = Lead.objects.filter(account=account).order_by("-created_at", "-id")
        # 500,000 rows in (or halfway through a smaller account).
        depth = min(500_000, Lead.objects.filter(account=account).count() // 2)
        deep = leads.values_list("created_at", flat=True)[depth]
        sample = leads.values("email", "last_name")[1234]

    def get(url: str):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content)
            return response

        return call

    def board():
        with account_scope(account):
            listed = lead_selectors.lead_list(account)
            counts = lead_selectors.lead_status_counts(listed, whole_table=True)
            cards = lead_selectors.lead_column(listed, "new", 20)
        return counts, cards

    fragment = sample["last_name"][1:5].lower()
    aim_list, aim_report = f"< {AIM_LIST_MS} ms", f"< {AIM_REPORT_MS} ms"
    cases = [
        ("GET /leads/ (first page)", get("/api/v1/leads/"), aim_list),
        ("GET /leads/?cursor= (first page)", get("/api/v1/leads/?cursor="), aim_list),
        (
            f"GET /leads/?cursor=<{depth:,} rows in>",
            get(f"/api/v1/leads/?cursor={cursor_at(deep)}"),
            aim_list,
        ),
        (f"GET /leads/?q={sample['email']}", get(f"/api/v1/leads/?q={sample['email']}"), aim_list),
        (
            f"GET /leads/?q={fragment} (part of a name)",
            get(f"/api/v1/leads/?q={fragment}"),
            aim_list,
        ),
        ("board: lead_status_counts + lead_column(new)", board, aim_list),
        ("GET /reports/leads/", get("/api/v1/reports/leads/"), aim_report),
        (
            "GET /reports/leads/?date_from=<a year ago>",
            get("/api/v1/reports/leads/?date_from=" + _days_ago(account, 365)),
            aim_report,
        ),
    ]
    results = []
    for label, run, aim in cases:
        ms, _ = timed(run, runs)
        results.append((label, ms, aim))
        print(f"  {label:55} {ms:9.1f} ms   aim {aim}", flush=True)
    return results


def _days_ago(account, days: int) -> str:
    from datetime import timedelta

    from crm_project.datetimes import account_today

    return (account_today(account) - timedelta(days=days)).isoformat()


def bulk_case(client, calls: int) -> float:
    """rows/s of POST /leads/bulk/ with 1,000 new leads per call (median of calls)."""
    tag = f"{int(time.time())}"
    rates = []
    for call in range(calls + 1):
        rows = [
            {
                "external_id": f"B{tag}-{call}-{n}",
                "first_name": FIRST[n % len(FIRST)],
                "last_name": LAST[(n * 7) % len(LAST)],
                "email": f"bulk.{tag}.{call}.{n}@example.com",
                "phone": f"+1415{(call * BULK_ROWS + n) % 10_000_000:07d}",
                "source": SOURCE_SHARES[n % len(SOURCE_SHARES)][0],
                "score": n % 101,
            }
            for n in range(BULK_ROWS)
        ]
        started = time.perf_counter()
        response = client.post("/api/v1/leads/bulk/", {"leads": rows}, format="json")
        seconds = time.perf_counter() - started
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        assert body.get("created") == BULK_ROWS, {k: v for k, v in body.items() if k != "results"}
        if call:  # the first call warms up
            rates.append(BULK_ROWS / seconds)
    return statistics.median(rates)


def explain(account) -> None:
    """EXPLAIN ANALYZE of the report's and the board's queries, as the app runs them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm_project.tenancy import account_scope
    from leads import selectors as lead_selectors
    from reports import selectors as report_selectors

    with account_scope(account), CaptureQueriesContext(connection) as captured:
        report_selectors.lead_report(account)
        listed = lead_selectors.lead_list(account)
        lead_selectors.lead_status_counts(listed)
        lead_selectors.lead_column(listed, "new", 20)
    with account_scope(account), connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            print("\n" + sql[:300])
            print("\n".join("    " + row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bulk-calls", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="rebuild the database")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the report")
    parser.add_argument("--import", dest="run_import", action="store_true")
    parser.add_argument("--nurture", action="store_true")
    args = parser.parse_args()

    env, url = bench_database(DATABASE, fresh=args.fresh, API_THROTTLE_RATE="100000000/min")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM accounts_account WHERE slug = %s", [ACCOUNT]
        ).fetchone()
    if not exists:
        manage("create_account", ACCOUNT, "--name", "Leads bench", "--timezone", TIMEZONE, env=env)
    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "API_THROTTLE_RATE")}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    import django

    django.setup()
    from rest_framework.test import APIClient

    from accounts import services as account_services
    from accounts.models import Role
    from accounts.selectors import account_by_slug_or_id, agent_list
    from crm_project.tenancy import account_scope

    account = account_by_slug_or_id(ACCOUNT)
    with account_scope(account):
        for n in range(agent_list(account).count(), AGENTS):
            account_services.agent_create(
                account=account, first_name=FIRST[n], last_name=LAST[n], external_id=f"A{n}"
            )
        agent_ids = list(agent_list(account).order_by("external_id").values_list("pk", flat=True))
        _key, secret = account_services.api_key_create(
            account=account, role=Role.ADMIN, name="bench/leads.py"
        )
    build_leads(url, account.pk, agent_ids, args.leads)

    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    print(f"\n{args.leads:,} leads, account {ACCOUNT}: median of {args.runs} runs\n", flush=True)
    results = api_cases(account, client, args.runs)
    rate = bulk_case(client, args.bulk_calls)
    bulk_aim = f">= {AIM_BULK_ROWS_PER_S:,} rows/s"
    print(f"  {'POST /leads/bulk/ (1,000 new leads a call)':55} {rate:9.0f} rows/s aim {bulk_aim}")

    missed = [label for label, ms, aim in results if ms >= float(aim.split()[1])]
    if rate < AIM_BULK_ROWS_PER_S:
        missed.append("bulk")
    print("\nall aims met" if not missed else f"\naims missed: {', '.join(missed)}")
    if args.explain:
        explain(account)

    if args.run_import:
        leads_import = importlib.import_module("bench.leads_import")
        print("\n--- import (bench/leads_import.py) ---", flush=True)
        figures = leads_import.run(args.leads)
        figures.pop("runs", None)
        for key, value in figures.items():
            print(f"  {key:24} {value}")

    # --- nurture (bench/leads_nurture.py: its `run()`, added by the nurture work) -------
    if args.nurture:
        if importlib.util.find_spec("bench.leads_nurture") is None:
            print("\n--nurture: bench/leads_nurture.py does not exist yet")
        else:
            print("\n--- nurture (bench/leads_nurture.py) ---", flush=True)
            figures = importlib.import_module("bench.leads_nurture").run()
            for key, value in (figures or {}).items():
                print(f"  {key:24} {value}")


if __name__ == "__main__":
    main()
