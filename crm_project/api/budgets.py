"""One Redis round trip for an API-key request: the failed sign-ins budget of its
address and key prefix (crm_project.api.signins), the key cache's generation
(accounts.services), the credential's request budget (DRF's throttle,
crm_project.api.throttling) and the note that the key was used (accounts.tasks), in
one Lua script.

The request budget is DRF's `SimpleRateThrottle` history, kept as a Redis list of
request times (newest first) and checked and extended atomically with Redis's own
clock: `<n>` requests in any `<period>`, the wait until the oldest that counts leaves
the period. When the key is not in the process's key cache (its first request in this
process, or after a change moved the generation on) the budget is taken later by the
throttle itself, with `take` (a second round trip)."""

import functools
import math
import time
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis
from redis.commands.core import Script

from accounts.services import API_KEY_CACHE_GENERATION, api_key_cache_generation
from crm_project.api.signins import FailedSignIns, parse_rate

REQUEST_BUDGET_SCOPE = "credential"

# Shared by both scripts: take one request from the budget at KEYS[k] or say how long
# to wait (milliseconds; -1 when taken).
_TAKE_LUA = """
local function take(key, budget, period, now)
  while true do
    local oldest = redis.call('LINDEX', key, -1)
    if oldest and tonumber(oldest) <= now - period then
      redis.call('RPOP', key)
    else
      break
    end
  end
  if redis.call('LLEN', key) >= budget then
    -- The budget frees a slot when its budget-th newest request leaves the period.
    local opens = tonumber(redis.call('LINDEX', key, budget - 1))
    return math.max(1, math.ceil((opens + period - now) * 1000))
  end
  redis.call('LPUSH', key, string.format('%.6f', now))
  redis.call('LTRIM', key, 0, budget - 1)
  redis.call('EXPIRE', key, period)
  return -1
end
local function clock()
  local time = redis.call('TIME')
  return tonumber(time[1]), tonumber(time[2])
end
"""

# KEYS: [1] the key cache's generation, [2 .. n+1] the failed sign-in counters, then the
# request budget (when ARGV[3] > 0), then the key-use marker (when ARGV[5] > 0).
# ARGV: [1] failed sign-ins allowed, [2] n, [3] requests allowed (0: not taken here),
# [4] their period in seconds, [5] the marker's lifetime in seconds (0: no marker).
# Returns {1} when the failed sign-ins refuse the attempt (nothing else is done), else
# {0, generation, the budget's wait in ms (-1: taken, -2: not asked), marker set 0/1}.
_SPEND_LUA = (
    _TAKE_LUA
    + """
local n = tonumber(ARGV[2])
for i = 2, n + 1 do
  local failures = tonumber(redis.call('GET', KEYS[i]) or '0')
  if failures and failures >= tonumber(ARGV[1]) then
    return {1}
  end
end
local seconds, micros = clock()
local generation = redis.call('GET', KEYS[1])
if not generation then
  -- Lost or never set: start at the clock, a value no cached entry was filled at.
  redis.call('SET', KEYS[1], string.format('%d', seconds * 1000000 + micros), 'NX')
  generation = redis.call('GET', KEYS[1])
end
local next_key = n + 2
local wait = -2
local budget = tonumber(ARGV[3])
if budget > 0 then
  wait = take(KEYS[next_key], budget, tonumber(ARGV[4]), seconds + micros / 1000000)
  next_key = next_key + 1
end
local marked = 0
local marker_seconds = tonumber(ARGV[5])
if marker_seconds > 0 and redis.call('SET', KEYS[next_key], '1', 'NX', 'EX', marker_seconds) then
  marked = 1
end
return {0, generation, wait, marked}
"""
)

_TAKE_ONLY_LUA = (
    _TAKE_LUA
    + """
local seconds, micros = clock()
return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), seconds + micros / 1000000)
"""
)


@dataclass(frozen=True)
class Spent:
    """What the round trip found. `budget_key` is the request budget it took (None: not
    taken, the throttle takes it), `budget_wait` the seconds to wait when it was spent
    (None: the request may go). `marked`: the key-use marker was set by this request
    (None: not asked)."""

    sign_in_wait: int | None = None
    generation: int | None = None
    budget_key: str | None = None
    budget_wait: float | None = None
    marked: bool | None = None


def request_budget_key(ident: str) -> str:
    """The cache key of a credential's request budget (DRF's throttle cache format)."""
    return f"throttle_{REQUEST_BUDGET_SCOPE}_{ident}"


def request_budget_rate() -> tuple[int, int] | None:
    """(requests, period in seconds) of the credential budget, None for no limit.
    Read at request time so a test or an operator can change it without a restart."""
    rates = cast(dict[str, str | None], settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rate = rates.get(REQUEST_BUDGET_SCOPE)
    return parse_rate(rate) if rate else None


def _redis() -> Redis | None:
    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


@functools.cache
def _script(source: str) -> Script:
    """A script, hashed once; each call runs it (EVALSHA) on the current client."""
    client = _redis()
    assert client is not None
    return client.register_script(source)


def spend(
    *, failures: FailedSignIns, budget_ident: str | None, marker: str | None, marker_seconds: int
) -> Spent:
    """The failed sign-ins check, the key cache's generation and, when `budget_ident`
    names the credential (the key as this process knows it), its request budget and
    key-use `marker`, in one round trip."""
    limit, failure_keys, left = failures.budget()
    client = _redis()
    if client is None:  # a local cache (development without Redis): one call each
        wait = failures.wait()
        if wait is not None:
            return Spent(sign_in_wait=wait)
        return Spent(generation=api_key_cache_generation())
    rate = request_budget_rate() if budget_ident is not None else None
    keys = [cache.make_key(API_KEY_CACHE_GENERATION)]
    keys += [cache.make_key(key) for key in failure_keys]
    budget_key = None
    if rate is not None and budget_ident is not None:
        budget_key = request_budget_key(budget_ident)
        keys.append(cache.make_key(budget_key))
    if marker is not None:
        keys.append(cache.make_key(marker))
    answer = _script(_SPEND_LUA)(
        keys=keys,
        args=[
            limit,
            len(failure_keys),
            rate[0] if rate else 0,
            rate[1] if rate else 0,
            marker_seconds if marker is not None else 0,
        ],
        client=client,
    )
    if int(answer[0]):
        return Spent(sign_in_wait=left)
    _refused, generation, wait_ms, marked = answer
    return Spent(
        generation=int(generation),
        budget_key=budget_key,
        budget_wait=int(wait_ms) / 1000 if int(wait_ms) >= 0 else None,
        marked=bool(int(marked)) if marker is not None else None,
    )


def take(budget_key: str, requests: int, period: int) -> float | None:
    """Take one request from the budget at `budget_key` (one round trip): None when
    taken, else the seconds to wait."""
    client = _redis()
    if client is None:
        return _take_locally(budget_key, requests, period)
    wait_ms = int(
        _script(_TAKE_ONLY_LUA)(
            keys=[cache.make_key(budget_key)], args=[requests, period], client=client
        )
    )
    return wait_ms / 1000 if wait_ms >= 0 else None


def _take_locally(budget_key: str, requests: int, period: int) -> float | None:
    now = time.time()
    history = [at for at in cache.get(budget_key, []) if at > now - period]
    if len(history) >= requests:
        return max(0.001, math.ceil((history[requests - 1] + period - now) * 1000) / 1000)
    cache.set(budget_key, [now, *history][:requests], period)
    return None
