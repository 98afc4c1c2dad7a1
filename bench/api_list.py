"""Benchmark: GET /api/v1/customers/ on 1,000,000 customers, against a bare JsonResponse
of the same 50 rows (bench/baseline.py) served the same way, in the same run.

    .venv/bin/python bench/api_list.py [--customers 1000000] [--duration 15]

Uses DATABASE_URL (default: the machine's PostgreSQL) with its own database
`crm_bench`, REDIS_URL (default: the machine's Redis, db 3), gunicorn with 2 workers,
and `wrk` (Debian's package) as the load tool. Prints requests/s, p50, p99 per URL and
the ratio of each to the baseline's throughput."""

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database",
        default="crm_bench",
        help="another seed_demo database on the same server, measured as it is with --account"
        " (e.g. bench/reports.py's crm_bench_reports at 1M customers / 5M orders)",
    )
    parser.add_argument("--account", default="bench")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    env, bench_url = bench_database(
        args.database, API_THROTTLE_RATE="100000000/min", BENCH_ACCOUNT=args.account
    )
    if args.database == "crm_bench":
        seeded_account(env, args.account, customers=args.customers, orders=0)
    key = manage(
        "create_api_key", "--account", args.account, "--role", "read_only", env=env
    ).split()[-1]
    with psycopg.connect(bench_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE customers_customer")

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
                str(args.workers),
                "--no-control-socket",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for app, port in (("crm_project.wsgi", api_port), ("bench.baseline:application", base_port))
    ]
    try:
        wait_for(f"http://127.0.0.1:{api_port}/healthz")
        wait_for(f"http://127.0.0.1:{base_port}/baseline/")
        api = f"http://127.0.0.1:{api_port}/api/v1/customers/"
        cases = [
            (
                "baseline: bare JsonResponse, 50 rows",
                f"http://127.0.0.1:{base_port}/baseline/",
                None,
            ),
            ("GET /customers/ (first page)", api, key),
            ("GET /customers/?page=200", f"{api}?page=200", key),
            ("GET /customers/?q=martin", f"{api}?q=martin", key),
            ("GET /customers/?q=alice.1234", f"{api}?q=alice.1234", key),
        ]
        results = []
        for label, url, auth in cases:
            run_wrk(url, auth, 3, args.connections)  # warm-up
            results.append((label, run_wrk(url, auth, args.duration, args.connections)))
        baseline = results[0][1]["rps"]
        print(
            f"\n{args.customers:,} customers, {args.workers} gunicorn workers, "
            f"wrk {args.connections} connections x {args.duration}s\n"
        )
        print(f"{'case':42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs base':>8} {'non-2xx':>8}")
        for label, r in results:
            print(
                f"{label:42} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} "
                f"{r['rps'] / baseline:8.2f} {r['errors']:8d}"
            )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
