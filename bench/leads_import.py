"""Benchmark: `import_leads` against COPY FROM STDIN.

    .venv/bin/python bench/leads_import.py [--leads 1000000]

In its own database (`crm_bench_leads_import`, recreated each run, on DATABASE_URL's
server):
1. generates, deterministically, a leads CSV of --leads rows with seed 002's camelCase
   columns (firstName, lastName, phone: 98 % E.164, 2 % as seed 002 writes them,
   `+1333-111-8888`; email, externalId, timestamp as MM-dd-yyyy HH:mm:ss, ipAddress,
   state, city, zip, jornayaLeadId, source, score, one custom column; 0.1 % of rows
   with an invalid email);
2. baseline: `COPY FROM STDIN` of the same file into a table with the leads table's
   columns, the product's defaults (so the same partial indexes take the rows) and
   indexes, one account's rows as an import writes (no row-level security, no
   validation);
3. `import_leads` of the file (new rows), then again (nothing changes), each a
   separate process whose peak RSS is read from the kernel (wait4).
Prints rows/s of each, the ratio to the baseline, peak RSS and the engine's timings.
`run(leads)` does the same and answers the figures (bench/leads.py calls it)."""

import argparse
import importlib
import json
import random
import sys
import time
from pathlib import Path

# Run as a file (`python bench/leads_import.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, bench_database, manage

# bench/import.py's helpers (its name is a keyword: imported by name).
_engine_bench = importlib.import_module("bench.import")
timed_command = _engine_bench.timed_command
job_timings = _engine_bench.job_timings
write_csv = _engine_bench.write_csv
FIRST, LAST = _engine_bench.FIRST, _engine_bench.LAST

DB_NAME = "crm_bench_leads_import"
STATES = [("WA", "Seattle"), ("CA", "Los Angeles"), ("TX", "Austin"), ("NY", "New York")]
STATES += [("FL", "Miami"), ("IL", "Chicago"), ("OR", "Portland"), ("MA", "Boston")]
SOURCES = ["website", "referral", "campaign", "social", "email", "direct", "other"]

HEADER = [
    "externalId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "timestamp",
    "ipAddress",
    "state",
    "city",
    "zip",
    "jornayaLeadId",
    "source",
    "score",
    "planId",
]
# The table columns of HEADER, in order (the baseline's COPY); planId is a text column
# added to the baseline table (the import keeps it in attributes).
COLUMNS = [
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "acquired_at",
    "ip_address",
    "state",
    "city",
    "zip",
    "jornaya_lead_id",
    "source",
    "score",
    "plan_id",
]


def lead_rows(n: int):
    rnd = random.Random(12)
    for i in range(1, n + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        state, city = rnd.choice(STATES)
        email = f"{first.lower()}.{last.lower()}.{i}@leads.example"
        if i % 1000 == 0:
            email = f"{first.lower()}.{i}.leads.example"  # no @: reported, not imported
        area, line = rnd.randrange(200, 1000), rnd.randrange(10**7)
        phone = f"+1{area}{line:07d}"
        if i % 50 == 0:
            phone = f"+1{area}-{line // 10**4:03d}-{line % 10**4:04d}"
        yield [
            f"L{i:08d}",
            first,
            last,
            email,
            phone,
            f"{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}-2023 "
            f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}",
            f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
            state,
            city,
            f"{rnd.randrange(10**5):05d}",
            f"{rnd.getrandbits(128):032X}",
            rnd.choice(SOURCES),
            str(rnd.randrange(101)),
            f"P{rnd.randrange(5)}",
        ]


BASELINE_SQL = """
DROP TABLE IF EXISTS bench_leads;
CREATE TABLE bench_leads (LIKE leads_lead INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                          INCLUDING INDEXES);
ALTER TABLE bench_leads ADD COLUMN plan_id text;
"""


# The product's own defaults for the columns the file does not give (leads.models:
# Django keeps them in Python and the import writes them). They decide which partial
# indexes a row enters: with `''` for nurture_state every baseline row entered
# lead_nurture_idx (`WHERE nurture_state <> 'idle'`), which no imported lead does.
MODEL_DEFAULTS = {"status": "'new'", "source": "'other'", "nurture_state": "'idle'"}
# An import writes one account's leads: so does the baseline. (A new random account per
# row, as bench/import.py's customers baseline has, scatters every (account_id, ...)
# index's inserts, which made this baseline ~10-15 % slower than COPY of one account.)
BASELINE_ACCOUNT = "00000000-0000-7000-8000-000000000001"


def _defaults(conn) -> str:
    """ALTER ... SET DEFAULT for each NOT NULL column the file does not give."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'leads_lead' AND is_nullable = 'NO' AND column_default IS NULL"
    ).fetchall()
    by_type = {
        "uuid": "gen_random_uuid()",
        "jsonb": "'{}'",
        "integer": "0",
        "smallint": "0",
        "timestamp with time zone": "now()",
    }
    parts = []
    for name, data_type in rows:
        if name in COLUMNS:
            continue
        if name == "id":
            value = "crm_uuid7()"
        elif name == "account_id":
            value = f"'{BASELINE_ACCOUNT}'"
        else:
            value = MODEL_DEFAULTS.get(name) or by_type.get(data_type, "''")
        parts.append(f"ALTER {name} SET DEFAULT {value}")
    return "ALTER TABLE bench_leads " + ", ".join(parts)


def baseline(url: str, path: Path) -> float:
    """Seconds to COPY the leads file into a table with the leads' indexes."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BASELINE_SQL)
        conn.execute(_defaults(conn))
        conn.execute("SET datestyle = 'ISO, MDY'")
        statement = f"COPY bench_leads ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv, HEADER true)"
        started = time.monotonic()
        with conn.cursor() as cursor, cursor.copy(statement) as copy, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        seconds = time.monotonic() - started
        conn.execute("DROP TABLE bench_leads")
    return seconds


def run(leads: int, data_dir: Path | None = None) -> dict:
    """Generate the file (kept between runs), baseline it, import it twice; the figures:
    rows/s of each, ratios to the baseline, peak RSS (MB), the jobs' summaries and
    timings."""
    import psycopg

    data = Path(data_dir or ROOT / "var" / "bench-leads-import")
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"leads-{leads}.csv"
    started = time.monotonic()
    if not path.exists():
        write_csv(path, HEADER, lead_rows(leads))
    print(
        f"file ready in {time.monotonic() - started:.1f}s: {path} "
        f"({path.stat().st_size / 2**20:.0f} MiB)"
    )
    env, url = bench_database(DB_NAME, fresh=True)
    manage("create_account", "bench", "--name", "Bench", env=env)
    base_seconds = baseline(url, path)
    runs = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for label in ("new", "again"):
            result = timed_command(
                f"leads-{label}",
                ["import_leads", str(path), "--account", "bench", "--no-progress"],
                env,
            )
            result["timings"] = job_timings(conn)
            result.pop("out", None)
            runs[label] = result
            print(
                f"import_leads ({label:5}) {result['seconds']:8.1f}s  {result['summary']}  "
                f"peak RSS {result['rss_mb']:.0f} MB  {json.dumps(result['timings'])}"
            )
    base_rate = leads / base_seconds
    figures = {
        "rows": leads,
        "baseline_rows_per_s": round(base_rate),
        "new_rows_per_s": round(leads / runs["new"]["seconds"]),
        "again_rows_per_s": round(leads / runs["again"]["seconds"]),
        "peak_rss_mb": round(max(r["rss_mb"] for r in runs.values())),
        "runs": runs,
    }
    figures["new_ratio"] = round(figures["new_rows_per_s"] / base_rate, 2)
    figures["again_ratio"] = round(figures["again_rows_per_s"] / base_rate, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--data-dir", default=str(ROOT / "var" / "bench-leads-import"))
    args = parser.parse_args()
    f = run(args.leads, Path(args.data_dir))
    print()
    print(f"{'case':44} {'rows/s':>10} {'vs baseline':>12}")
    print(f"{'baseline: COPY FROM STDIN, same indexes':44} {f['baseline_rows_per_s']:10} {1:12.2f}")
    print(f"{'import_leads, new rows':44} {f['new_rows_per_s']:10} {f['new_ratio']:12.2f}")
    print(
        f"{'import_leads, again (nothing changes)':44} {f['again_rows_per_s']:10} "
        f"{f['again_ratio']:12.2f}"
    )
    print(f"peak RSS of the import processes: {f['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
