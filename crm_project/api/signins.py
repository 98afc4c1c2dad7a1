"""Failed sign-ins (Bearer keys, HTTP Basic, the `/login/` and admin forms), counted by
client address and by username in the Redis cache, so every worker process shares the
count. DRF throttles only after authentication, so the authentication code checks this
budget itself, before any key lookup or password hash, and answers 429 with
`Retry-After` once over `AUTH_FAILURE_THROTTLE_RATE`. A Bearer request reads the
budget in its one Redis round trip (crm_project.api.budgets); `wait` is the check of
Basic and the sign-in forms."""

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`10/min` -> (10, 60): the number of attempts and the period in seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


def client_address(request: Any) -> str:
    """The caller's address: REMOTE_ADDR, or the address the trusted proxies saw
    (REST_FRAMEWORK's NUM_PROXIES), never an X-Forwarded-For the client wrote itself."""
    return BaseThrottle().get_ident(request)


@dataclass
class FailedSignIns:
    """The failed sign-ins of one attempt's client address and username, in fixed
    windows of the rate's period (an atomic counter per window: workers never race)."""

    request: Any
    username: str = ""

    def budget(self) -> tuple[int, list[str], int]:
        """(limit, the counters' keys in the current window, seconds left in it)."""
        limit, period = parse_rate(settings.AUTH_FAILURE_THROTTLE_RATE)
        window, elapsed = divmod(time.time(), period)
        idents = [f"address:{client_address(self.request)}"]
        if self.username:
            idents.append(f"username:{self.username.strip().lower()}")
        # Hashed: no username or address is written to Redis in clear.
        keys = [
            f"auth-failures:{hashlib.sha256(ident.encode()).hexdigest()[:32]}:{int(window)}"
            for ident in idents
        ]
        return limit, keys, max(1, math.ceil(period - elapsed))

    def wait(self) -> int | None:
        """Seconds until the next attempt is allowed, or None while under the limit."""
        limit, keys, left = self.budget()
        if any(count >= limit for count in cache.get_many(keys).values()):
            return left
        return None

    def record(self) -> None:
        _limit, keys, left = self.budget()
        for key in keys:
            # The counter outlives its window a little, never less.
            cache.add(key, 0, timeout=left + 1)
            cache.incr(key)
