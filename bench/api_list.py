"""Benchmark: the customers and orders lists of the API on 1,000,000 customers, against
a bare JsonResponse of 50 rows (bench/baseline.py) served the same way, in the same run.

    .venv/bin/python bench/api_list.py [--customers 1000000] [--orders 0] [--duration 15]
                                       [--workers 2] [--scale-out 4]
                                       [--database crm_bench_segments --account bench-segments]

Uses DATABASE_URL (default: the machine's PostgreSQL) with its own database
`crm_bench` (seeded with --customers and --orders on the first run), or another
seed_demo database measured as it is (--database/--account, e.g. bench/segments.py's
1M customers / 5M orders), REDIS_URL (default: the machine's Redis, db 3), gunicorn
with --workers workers, and `wrk` (Debian's package) as the load tool.

Cases, each list: the first page, a page 200 deep (`?page=200`, counted), a keyset page
half-way through the collection (`?cursor=`, made from the row there), exact look-ups
(a customer's email and number; an order's number), and a broad substring search
(`?q=martin`). Prints requests/s, p50, p99 per URL, the ratio of each to the
baseline's throughput, and each case's aim (issue 15: >= 0.5 of the baseline and p99 <
100 ms; a broad substring search p99 < 300 ms) as met or missed. With --scale-out N the
cases run again on N workers and the ratio of throughputs is printed (aim >= 1.6x)."""

import argparse
import base64
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import psycopg

# Run as a file (`python bench/api_list.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PY, ROOT, bench_database, manage, seeded_account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
        except Exception:  # noqa: BLE001  (an HTTP error means the server is up)
            return
    raise SystemExit(f"{url} did not answer")


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, key: str | None, duration: int, connections: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if key:
        cmd[1:1] = ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {m[0]: to_ms(m[1], m[2]) for m in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", out)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": lat["50"],
        "p99": lat["99"],
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def deep_cursor(conn, table: str, column: str, account_id) -> str:
    """`cursor=...`: a cursor of the API's keyset pagination (DRF's encoding: the position is the
    ordering's first column as text) at the row half-way down the list's default order
    (newest first), as following `next` that far would give."""
    conn.execute("SET TIME ZONE 'UTC'")  # the position is the value as Django prints it
    (total,) = conn.execute(
        f"SELECT count(*) FROM {table} WHERE account_id = %s", [account_id]
    ).fetchone()
    (position,) = conn.execute(
        f"SELECT {column} FROM {table} WHERE account_id = %s "
        f"ORDER BY {column} DESC, id DESC OFFSET %s LIMIT 1",
        [account_id, total // 2],
    ).fetchone()
    cursor = base64.b64encode(urlencode({"p": str(position)}).encode()).decode()
    return urlencode({"cursor": cursor})


def list_cases(conn, account_slug: str, api: str) -> list[tuple[str, str, float]]:
    """(label, URL, p99 aim in ms) of each list request measured."""
    (account_id,) = conn.execute(
        "SELECT id FROM accounts_account WHERE slug = %s", [account_slug]
    ).fetchone()
    email, number = conn.execute(
        "SELECT email, number FROM customers_customer WHERE account_id = %s AND email <> '' "
        "ORDER BY id OFFSET 1000 LIMIT 1",
        [account_id],
    ).fetchone()

    def pages(name: str, table: str, column: str) -> list[tuple[str, str, float]]:
        """The first page, a page 200 deep and a keyset page half-way of a list."""
        url = f"{api}{name}/"
        cursor = deep_cursor(conn, table, column, account_id)
        return [
            (f"{name}: first page", url, 100.0),
            (f"{name}: ?page=200", f"{url}?page=200", 100.0),
            (f"{name}: ?cursor= half-way", f"{url}?{cursor}", 100.0),
        ]

    customers = f"{api}customers/"
    cases = [
        *pages("customers", "customers_customer", "created_at"),
        ("customers: ?q=<email>", f"{customers}?{urlencode({'q': email})}", 100.0),
        ("customers: ?q=<number>", f"{customers}?q={number}", 100.0),
        ("customers: ?q=martin (broad)", f"{customers}?q=martin", 300.0),
    ]
    order = conn.execute(
        "SELECT number FROM orders_order WHERE account_id = %s ORDER BY id OFFSET 1000 LIMIT 1",
        [account_id],
    ).fetchone()
    if order is not None:  # a database seeded with orders
        cases += [
            *pages("orders", "orders_order", "ordered_at"),
            ("orders: ?number=<number>", f"{api}orders/?number={order[0]}", 100.0),
        ]
    return cases


def serve(env: dict, workers: int) -> tuple[list[subprocess.Popen], int, int]:
    """gunicorn with `workers` sync workers for the product and for the baseline."""
    api_port, base_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "gunicorn",
                app,
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(workers),
                "--no-control-socket",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for app, port in (("crm_project.wsgi", api_port), ("bench.baseline:application", base_port))
    ]
    wait_for(f"http://127.0.0.1:{api_port}/healthz")
    wait_for(f"http://127.0.0.1:{base_port}/baseline/")
    return servers, api_port, base_port


def measure(env: dict, args, key: str, workers: int, conn) -> dict[str, dict]:
    """Each case's wrk figures on `workers` workers, the baseline's first; printed."""
    servers, api_port, base_port = serve(env, workers)
    try:
        cases = [
            ("baseline: bare JsonResponse, 50 rows", f"http://127.0.0.1:{base_port}/baseline/", 0.0)
        ]
        cases += list_cases(conn, args.account, f"http://127.0.0.1:{api_port}/api/v1/")
        results = {}
        for label, url, aim_ms in cases:
            auth = key if aim_ms else None
            run_wrk(url, auth, 3, args.connections)  # warm-up
            results[label] = {**run_wrk(url, auth, args.duration, args.connections), "aim": aim_ms}
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
    baseline = results[next(iter(results))]["rps"]
    print(
        f"\n{args.database}/{args.account}: {workers} gunicorn workers, "
        f"wrk {args.connections} connections x {args.duration}s\n"
    )
    print(
        f"{'case':36} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs base':>8} {'non-2xx':>8}  aim"
    )
    for label, r in results.items():
        ratio = r["rps"] / baseline
        if not r["aim"]:
            aim = ""
        elif r["errors"]:
            aim = "not measured: non-2xx answers (a page past the end?)"
        elif r["aim"] > 100:  # a broad search: latency only
            aim = f"p99 < {r['aim']:.0f} ms: {'met' if r['p99'] < r['aim'] else 'missed'}"
        else:
            met = ratio >= 0.5 and r["p99"] < r["aim"]
            aim = f">= 0.50, p99 < {r['aim']:.0f} ms: {'met' if met else 'missed'}"
        print(
            f"{label:36} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} {ratio:8.2f} "
            f"{r['errors']:8d}  {aim}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=0)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--scale-out", type=int, default=0, help="run again on this many workers and compare"
    )
    parser.add_argument(
        "--database",
        default="crm_bench",
        help="another seed_demo database on the same server, measured as it is with --account"
        " (e.g. bench/segments.py's crm_bench_segments at 1M customers / 5M orders)",
    )
    parser.add_argument("--account", default="bench")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    env, bench_url = bench_database(
        args.database, API_THROTTLE_RATE="100000000/min", BENCH_ACCOUNT=args.account
    )
    if args.database == "crm_bench":
        seeded_account(env, args.account, customers=args.customers, orders=args.orders)
    key = manage(
        "create_api_key", "--account", args.account, "--role", "read_only", env=env
    ).split()[-1]
    with psycopg.connect(bench_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE customers_customer")
        conn.execute("VACUUM ANALYZE orders_order")
        results = measure(env, args, key, args.workers, conn)
        if args.scale_out:
            wider = measure(env, args, key, args.scale_out, conn)
            print(f"\n{args.scale_out} workers / {args.workers} workers (aim >= 1.6x):")
            for label, r in results.items():
                gain = wider[label]["rps"] / r["rps"]
                print(f"{label:36} {gain:6.2f}x  {'met' if gain >= 1.6 else 'missed'}")


if __name__ == "__main__":
    main()
