"""Where the time of one `GET /api/v1/customers/` with an API key goes, layer by layer,
measured in process (Django's test client through the whole middleware and DRF stack,
real PostgreSQL and Redis), against a bare JsonResponse of the same 50 rows
(bench/baseline.py) served through the same handler.

    .venv/bin/python bench/request_cost.py [--customers 10000] [--orders 20000] [--requests 400]

Uses DATABASE_URL (default: the machine's PostgreSQL) with its own database
`crm_bench_cost` (--database), REDIS_URL (default: the machine's Redis, db 3) and the
production request budget (API_THROTTLE_RATE, 1200/min: the measured requests stay under
it). Each layer is timed by wrapping the function that does it; a layer's time is its
own (time spent in a wrapped layer it calls is that layer's), so the layers add up to
the total less "the rest" (Django's handler, middleware, DRF's dispatch, the test
client). Redis round trips are counted at the socket (one per command sent, a pipeline
or a script is one) and SQL statements at Django's execute wrapper (a COMMIT counts as
one; psycopg's implicit BEGIN, sent with the first statement of a transaction, is not
counted). Prints the median of each layer over `--requests` requests after a warm-up."""

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a file (`python bench/request_cost.py`): the checkout is what it imports from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PY, ROOT, bench_database, manage, seeded_account

REST = "the rest: handler, middleware, DRF dispatch, test client"


class Profile:
    """Exclusive time, Redis round trips and SQL statements per layer of one request."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.reset()

    def reset(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.redis: dict[str, int] = defaultdict(int)
        self.sql: dict[str, int] = defaultdict(int)

    @property
    def current(self) -> str:
        return self.stack[-1][0] if self.stack else REST

    def wrap(self, owner: Any, attr: str, layer: str, *, absorbs: bool = False) -> None:
        """Time `owner.attr` as `layer`; a layer that `absorbs` counts the layers it
        calls as its own (the key lookup's own transaction is the key lookup's)."""
        if not hasattr(owner, attr):
            return
        original = getattr(owner, attr)
        profile = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if profile.stack and profile.stack[-1][2]:
                return original(*args, **kwargs)
            start = time.perf_counter()
            profile.stack.append([layer, 0.0, absorbs])
            try:
                return original(*args, **kwargs)
            finally:
                _name, children, _absorbs = profile.stack.pop()
                elapsed = time.perf_counter() - start
                profile.ms[layer] += (elapsed - children) * 1000
                if profile.stack:
                    profile.stack[-1][1] += elapsed

        setattr(owner, attr, timed)


def instrument(profile: Profile) -> None:
    import redis.connection
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper
    from rest_framework import generics, mixins, renderers
    from rest_framework.views import APIView

    import accounts.services
    import crm_project.api.authentication as authentication
    import crm_project.api.idempotency as idempotency
    import crm_project.api.signins as signins
    import crm_project.api.views as views
    import crm_project.tenancy as tenancy

    w = profile.wrap
    w(authentication.ApiKeyAuthentication, "authenticate", "auth: header, hash, key cache")
    w(signins.FailedSignIns, "wait", "auth: failed sign-ins check")
    w(
        accounts.services,
        "api_key_by_prefix",
        "auth: key lookup (PostgreSQL: its own BEGIN, SET, SELECT, COMMIT)",
        absorbs=True,
    )
    w(authentication, "api_key_note_use", "auth: key-use note")
    try:
        import crm_project.api.budgets as budgets

        w(budgets, "spend", "auth: one Redis round trip (sign-ins, throttle, note, generation)")
    except ImportError:
        pass
    w(views, "resolve_access", "access: account and role")
    w(tenancy, "_set_database_scope", "scope: BEGIN + SET app.account_id, role")
    w(APIView, "check_permissions", "permissions")
    w(APIView, "check_throttles", "throttle")
    w(idempotency, "claim", "idempotency check")
    w(generics.GenericAPIView, "filter_queryset", "filters")
    w(generics.GenericAPIView, "paginate_queryset", "queries: count + page")
    w(mixins.ListModelMixin, "list", "serialization")
    w(renderers.JSONRenderer, "render", "rendering (JSON)")

    send = redis.connection.AbstractConnection.send_packed_command

    def counted_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        profile.redis[profile.current] += 1
        return send(self, *args, **kwargs)

    redis.connection.AbstractConnection.send_packed_command = counted_send

    def counted_sql(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        profile.sql[profile.current] += 1
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(counted_sql)
    commit = BaseDatabaseWrapper.commit

    def counted_commit(self: Any) -> Any:
        profile.sql[profile.current] += 1
        return commit(self)

    # Under the timing wrapper, so the COMMIT is counted in its own layer.
    BaseDatabaseWrapper.commit = counted_commit
    w(BaseDatabaseWrapper, "commit", "scope: COMMIT")


def measure(get: Callable[[], Any], profile: Profile, requests: int, warmup: int) -> dict:
    for _ in range(warmup):
        assert get().status_code == 200
    per_request: list[tuple[float, dict, dict, dict]] = []
    for _ in range(requests):
        profile.reset()
        start = time.perf_counter()
        response = get()
        total = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.content[:300]
        ms = dict(profile.ms)
        ms[REST] = total - sum(ms.values())
        per_request.append((total, ms, dict(profile.redis), dict(profile.sql)))
    layers: list[str] = []
    for _total, ms, _r, _s in per_request:
        layers += [name for name in ms if name not in layers]
    table = []
    for layer in layers:
        table.append(
            (
                layer,
                statistics.median(ms.get(layer, 0.0) for _t, ms, _r, _s in per_request),
                statistics.mean(r.get(layer, 0) for _t, _m, r, _s in per_request),
                statistics.mean(s.get(layer, 0) for _t, _m, _r, s in per_request),
            )
        )
    totals = sorted(t for t, _m, _r, _s in per_request)
    return {
        "table": table,
        "median": statistics.median(totals),
        "p90": totals[int(len(totals) * 0.9)],
        "redis": statistics.mean(sum(r.values()) for _t, _m, r, _s in per_request),
        "sql": statistics.mean(sum(s.values()) for _t, _m, _r, s in per_request),
    }


def inner(key: str, requests: int, warmup: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client, override_settings

    # The request budget starts empty, as for a key that has been quiet for a minute.
    redis_client = cache._cache.get_client(write=True)
    for stale in redis_client.scan_iter(match=cache.make_key("throttle_*")):
        redis_client.delete(stale)

    profile = Profile()
    instrument(profile)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_HOST="localhost")
    api = measure(lambda: client.get("/api/v1/customers/"), profile, requests, warmup)

    urlconf = settings.ROOT_URLCONF
    import bench.baseline  # noqa: F401  (its handler sets ROOT_URLCONF to itself)

    settings.ROOT_URLCONF = urlconf
    bare = Client(HTTP_HOST="localhost")
    with override_settings(ROOT_URLCONF="bench.baseline"):
        base = measure(lambda: bare.get("/baseline/"), profile, requests, warmup)

    print(f"\nGET /api/v1/customers/ (first page, 50 rows), API key; median of {requests}")
    print(f"{'layer':66} {'ms':>7} {'Redis':>6} {'SQL':>5}")
    for layer, ms, redis_trips, sql in api["table"]:
        print(f"{layer:66} {ms:7.3f} {redis_trips:6.2f} {sql:5.2f}")
    print(
        f"{'total (median of totals)':66} {api['median']:7.3f} {api['redis']:6.2f} "
        f"{api['sql']:5.2f}   p90 {api['p90']:.3f} ms"
    )
    print(
        f"{'baseline: bare JsonResponse, same 50 rows (median)':66} {base['median']:7.3f} "
        f"{base['redis']:6.2f} {base['sql']:5.2f}   p90 {base['p90']:.3f} ms"
    )
    print(f"API / baseline time: {api['median'] / base['median']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--database", default="crm_bench_cost")
    parser.add_argument("--inner", metavar="KEY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.requests, args.warmup)
        return
    env, _url = bench_database(args.database, BENCH_ACCOUNT="bench")
    seeded_account(env, "bench", customers=args.customers, orders=args.orders)
    key = manage("create_api_key", "--account", "bench", "--role", "read_only", env=env).split()[-1]
    subprocess.run(
        [
            PY,
            __file__,
            "--inner",
            key,
            "--requests",
            str(args.requests),
            "--warmup",
            str(args.warmup),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )


if __name__ == "__main__":
    main()
