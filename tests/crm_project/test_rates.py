"""The send-rate token bucket (crm_project.rates) against the real Redis: bursts up to
the capacity, refills in proportion to the time passed, holds across threads and
processes, and keeps keys apart."""

import math
import multiprocessing
import queue
import threading
import time

import django
import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from crm_project.rates import rate_key, rate_take


def redis_client():
    return caches["default"]._cache.get_client(write=True)


def drain(key, rate):
    granted, _wait = rate_take(key, rate_per_second=rate, want=rate)
    assert granted == rate


def test_a_burst_gets_the_capacity_then_a_refusal_with_a_positive_wait():
    # At 10 a second a token takes 100 ms: none refills between these calls.
    assert rate_take("burst", rate_per_second=10, want=25) == (10, pytest.approx(1.0, abs=0.01))
    granted, wait = rate_take("burst", rate_per_second=10, want=3)
    assert granted == 0
    assert 0.2 < wait <= 0.3


def test_single_takes_stop_at_the_capacity():
    grants = [rate_take("singles", rate_per_second=5, want=1) for _ in range(8)]
    assert [granted for granted, _ in grants] == [1] * 5 + [0] * 3
    assert all(wait == 0.0 for _, wait in grants[:5])
    assert all(0 < wait <= 0.2 for _, wait in grants[5:])


def test_tokens_refill_in_proportion_to_the_time_passed():
    started = time.monotonic()
    drain("refill", 100)
    time.sleep(0.3)
    granted, wait = rate_take("refill", rate_per_second=100, want=100)
    elapsed = time.monotonic() - started
    assert 30 <= granted <= math.ceil(elapsed * 100)
    assert wait == pytest.approx((100 - granted) / 100, abs=0.02)


def test_after_the_wait_the_rest_is_granted():
    drain("wait", 20)
    granted, wait = rate_take("wait", rate_per_second=20, want=5)
    assert granted == 0
    assert wait == pytest.approx(0.25, abs=0.01)
    time.sleep(wait)
    assert rate_take("wait", rate_per_second=20, want=5) == (5, 0.0)


def test_a_wait_never_exceeds_refilling_a_full_bucket():
    drain("big", 10)
    granted, wait = rate_take("big", rate_per_second=10, want=1000)
    assert granted == 0
    assert 0.9 < wait <= 1.0


def test_the_bucket_never_holds_more_than_one_second():
    drain("full", 50)
    time.sleep(1.3)
    assert rate_take("full", rate_per_second=50, want=500)[0] == 50


def test_a_lower_rate_caps_what_the_bucket_holds():
    assert rate_take("lowered", rate_per_second=100, want=1)[0] == 1
    assert rate_take("lowered", rate_per_second=10, want=50)[0] == 10


def test_zero_is_no_limit_and_leaves_redis_alone():
    assert rate_take("unlimited", rate_per_second=0, want=1_000_000) == (1_000_000, 0.0)
    assert not redis_client().exists(rate_key("unlimited"))


def test_different_keys_are_independent():
    drain("account-a", 10)
    assert rate_take("account-a", rate_per_second=10, want=1)[0] == 0
    assert rate_take("account-b", rate_per_second=10, want=10) == (10, 0.0)


def test_the_key_expires_when_the_bucket_would_be_full_again():
    client = redis_client()
    drain("expiry", 10)
    assert 900 < client.pttl(rate_key("expiry")) <= 1000
    time.sleep(0.5)
    rate_take("expiry", rate_per_second=10, want=2)  # 5 refilled, 2 taken: 3 left
    assert 600 < client.pttl(rate_key("expiry")) <= 700


def test_keys_live_under_the_cache_prefix_the_tests_clean():
    rate_take("prefixed", rate_per_second=10, want=1)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    keys = {key.decode() for key in redis_client().scan_iter(match=f"{prefix}:*")}
    assert rate_key("prefixed") in keys


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rate_per_second"):
        rate_take("bad", rate_per_second=-1, want=1)
    with pytest.raises(ValueError, match="want"):
        rate_take("bad", rate_per_second=10, want=-1)
    assert rate_take("bad", rate_per_second=10, want=0) == (0, 0.0)


def test_without_redis_a_limited_rate_is_refused_loudly(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert rate_take("no-redis", rate_per_second=0, want=3) == (3, 0.0)
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        rate_take("no-redis", rate_per_second=10, want=1)


# --- Concurrency ----------------------------------------------------------------------

RATE = 200
HAMMER_SECONDS = 1.0


def hammer(key, go, results):
    """Once `go` is set, take 1-3 tokens at a time for HAMMER_SECONDS."""
    go.wait()
    total, want = 0, 1
    until = time.monotonic() + HAMMER_SECONDS
    while time.monotonic() < until:
        granted, wait = rate_take(key, rate_per_second=RATE, want=want)
        total += granted
        want = want % 3 + 1
        if wait:
            time.sleep(min(wait, 0.005))
    results.put(total)


def assert_within_the_rate(totals, elapsed):
    """`elapsed`: from just before `go` to after the last take."""
    total = sum(totals)
    assert total <= RATE * elapsed + RATE
    # Everyone asked all along: the burst and most of the refill were handed out.
    assert total >= RATE + RATE * HAMMER_SECONDS * 0.8
    assert all(part > 0 for part in totals)


def test_threads_hammering_one_key_never_exceed_the_rate():
    go, results = threading.Event(), queue.Queue()
    threads = [threading.Thread(target=hammer, args=("threads", go, results)) for _ in range(4)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    go.set()
    for thread in threads:
        thread.join()
    assert_within_the_rate([results.get_nowait() for _ in threads], time.monotonic() - started)


def hammer_in_a_new_process(caches, key, ready, go, results):
    """`hammer` in a spawned process, with the test's cache settings (this xdist
    worker's key prefix)."""
    django.setup()
    with override_settings(CACHES=caches):
        redis_client().ping()
        ready.put(True)
        hammer(key, go, results)


def test_processes_hammering_one_key_never_exceed_the_rate():
    # Spawned, not forked: the test process has threads (pytest-xdist's), which a fork
    # may catch holding a lock.
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(
            target=hammer_in_a_new_process,
            args=(settings.CACHES, "processes", ready, go, results),
        )
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=60)
    started = time.monotonic()
    go.set()
    totals = [results.get(timeout=60) for _ in processes]
    elapsed = time.monotonic() - started
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert_within_the_rate(totals, elapsed)
