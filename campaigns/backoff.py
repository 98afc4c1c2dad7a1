"""When to try a message again after a transient failure (SPEC: exponential backoff
honouring `Retry-After`, at most 5 tries, then the message fails)."""

import random

MAX_TRIES = 5  # the first try included
BASE_DELAY = 10.0  # seconds before the second try, before jitter
MAX_DELAY = 600.0  # no computed delay is longer
MAX_RETRY_AFTER = 3600.0  # a provider's Retry-After is honoured up to an hour

_random = random.Random()


def retry_delay(
    tries: int,
    *,
    retry_after: float | None = None,
    max_tries: int = MAX_TRIES,
    base: float = BASE_DELAY,
    cap: float = MAX_DELAY,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next try after `tries` tries have failed, or None
    when the message has had its `max_tries` and fails.

    The delay doubles with each try (`base`, 2 x `base`, ...; at most `cap`), with equal
    jitter: half of it fixed, half random, so retries of a batch that failed together
    spread out while each still waits at least half its step. A provider's `Retry-After`
    is a floor: the delay is never shorter than what it asked for (up to an hour)."""
    if tries < 1:
        raise ValueError("tries counts the tries made: at least 1.")
    if tries >= max_tries:
        return None
    step = min(cap, base * 2 ** (tries - 1))
    delay = step / 2 + (rng or _random).uniform(0, step / 2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
