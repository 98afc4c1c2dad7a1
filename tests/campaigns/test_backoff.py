"""Retry delays: exponential with jitter, at most 5 tries, never before Retry-After."""

import random

import pytest

from campaigns.backoff import BASE_DELAY, MAX_DELAY, MAX_RETRY_AFTER, MAX_TRIES, retry_delay


@pytest.mark.parametrize("tries", [1, 2, 3, 4])
def test_the_delay_doubles_with_each_try_within_half_and_full_step(tries):
    step = BASE_DELAY * 2 ** (tries - 1)
    delays = [retry_delay(tries, rng=random.Random(seed)) for seed in range(200)]

    assert all(step / 2 <= delay <= step for delay in delays)
    assert len(set(delays)) > 100  # jittered


def test_after_the_fifth_try_the_message_fails():
    assert MAX_TRIES == 5
    assert retry_delay(5) is None
    assert retry_delay(6) is None


def test_retry_after_is_a_floor():
    assert retry_delay(1, retry_after=120, rng=random.Random(1)) == 120
    assert BASE_DELAY / 2 <= retry_delay(1, retry_after=1, rng=random.Random(1)) <= BASE_DELAY


def test_retry_after_is_honoured_up_to_an_hour():
    assert retry_delay(1, retry_after=10 * 86400) == MAX_RETRY_AFTER


def test_the_step_is_capped():
    delay = retry_delay(4, max_tries=50, base=1000, rng=random.Random(3))

    assert MAX_DELAY / 2 <= delay <= MAX_DELAY


def test_tries_count_from_one():
    with pytest.raises(ValueError, match="at least 1"):
        retry_delay(0)


def test_the_same_random_source_gives_the_same_delays():
    assert retry_delay(3, rng=random.Random(7)) == retry_delay(3, rng=random.Random(7))
