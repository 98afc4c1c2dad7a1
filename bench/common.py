"""What the benchmarks share: a database of their own (created and migrated on first
use, kept between runs), manage.py commands against it, and an account filled by
`manage.py seed_demo` (deterministic: the same seed twice adds nothing)."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str, env: dict) -> str:
    return subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def bench_database(name: str, *, fresh: bool = False, **settings: str) -> tuple[dict, str]:
    """(the environment of the product on database `name`, its URL): the server of
    DATABASE_URL (default: the machine's PostgreSQL), REDIS_URL (default: the machine's
    Redis, db 3), plus `settings`. The database is created if missing (dropped first
    when `fresh`), then migrated."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    parts = urlsplit(base)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" * 10),
        "LOG_LEVEL": "warning",
        **settings,
    }
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--noinput", env=env)
    return env, url


def seeded_account(env: dict, slug: str, *, customers: int, orders: int, seed: int = 42) -> None:
    """The account `slug` (created if missing) with this demo data; prints what it did."""
    with contextlib.suppress(subprocess.CalledProcessError):  # exists from an earlier run
        manage("create_account", slug, "--name", slug.title(), env=env)
    started = time.monotonic()
    print(
        manage(
            "seed_demo",
            "--account",
            slug,
            "--customers",
            str(customers),
            "--orders",
            str(orders),
            "--seed",
            str(seed),
            env=env,
        ).strip()
    )
    print(f"seeded (or found) in {time.monotonic() - started:.1f}s")
