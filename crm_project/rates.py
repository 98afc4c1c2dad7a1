"""Send rates held across every worker process: a token bucket per key in Redis.

The bucket holds at most `rate_per_second` tokens (one second of burst) and refills
continuously at `rate_per_second` tokens a second. One Lua script reads, refills, takes
and writes it, so concurrent workers never take the same token; the time is Redis's own
(`TIME`), so workers whose clocks disagree still share one rate. Tokens are counted in
millionths (an integer: refill = elapsed microseconds x rate), so no float is rounded
between calls. A bucket's key expires once it would be full again: a missing bucket is a
full one.

Keys live in the cache's Redis under the cache's prefix (`crm:1:rate:<key>`), so the
tests' per-xdist-worker prefix and their cleanup between tests apply to them too."""

import functools

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from redis import Redis
from redis.commands.core import Script

MICRO = 1_000_000

# KEYS[1]: the bucket (a hash: `tokens` in millionths, `at` in microseconds of Redis time).
# ARGV[1]: the rate per second (also the capacity in tokens); ARGV[2]: tokens wanted.
# Returns {granted, microseconds to wait before asking again (0 when all were granted)}.
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local capacity = rate * 1000000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  -- Past a second the bucket is full whatever the rate: cap before multiplying.
  tokens = math.min(capacity, tokens + math.min(now - at, 1000000) * rate)
  at = now
end
tokens = math.min(tokens, capacity)
local granted = math.min(want, math.floor(tokens / 1000000))
tokens = tokens - granted * 1000000
local wait = 0
if granted < want then
  -- Until the rest (at most a full bucket) has refilled.
  local needed = math.min(want - granted, rate) * 1000000
  wait = math.ceil((needed - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%d', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / rate / 1000)))
return {granted, wait}
"""


def _redis() -> Redis:
    """The cache's redis-py client (Django's RedisCache, on REDIS_URL): the connection
    the sign-in throttle's counters and the tests' cleanup use."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        raise ImproperlyConfigured(
            "Send rates are held in Redis: set REDIS_URL (the cache is not Redis)."
        )
    return backend._cache.get_client(write=True)


@functools.cache
def _take_script() -> Script:
    """The script, hashed once; each call runs it (EVALSHA) on the current client."""
    return _redis().register_script(_TAKE_LUA)


def rate_key(key: str) -> str:
    """The Redis key of `key`'s bucket, under the cache's prefix and version."""
    return caches["default"].make_key(f"rate:{key}")


def rate_take(key: str, *, rate_per_second: int, want: int) -> tuple[int, float]:
    """Take up to `want` tokens from `key`'s bucket: (how many may go now, seconds to
    wait before asking again for the rest, 0.0 when all were granted). The wait is
    until the rest, or a full bucket if the rest is more, has refilled (other takers may
    still be first). A rate of 0 is no limit: everything goes, Redis is not asked."""
    if rate_per_second < 0:
        raise ValueError("rate_per_second must be >= 0")
    if want < 0:
        raise ValueError("want must be >= 0")
    if rate_per_second == 0 or want == 0:
        return want, 0.0
    granted, wait_us = _take_script()(
        keys=[rate_key(key)], args=[rate_per_second, want], client=_redis()
    )
    return int(granted), (0.0 if granted >= want else int(wait_us) / MICRO)
