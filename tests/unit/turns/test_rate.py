"""server/rate.py: a token bucket driven by a clock the caller passes in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.turns.rate import TokenBucket


def takes(bucket: TokenBucket, now: float, tries: int = 1000) -> int:
    return sum(bucket.take(now) for _ in range(tries))


@pytest.mark.parametrize(("rate", "burst"), [(0, 4), (-1, 4), (30, 0), (30, 0.5), (30, -1)])
def test_rejects_a_bucket_that_could_never_give(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate > 0 and burst >= 1"):
        TokenBucket(rate, burst, 0.0)


def test_starts_full_burst_back_to_back() -> None:
    bucket = TokenBucket(30, 4, 100.0)
    assert takes(bucket, 100.0) == 4
    assert not bucket.take(100.0)


def test_burst_of_one() -> None:
    bucket = TokenBucket(10, 1, 0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.05)
    assert bucket.take(0.1)


def test_refills_at_rate() -> None:
    bucket = TokenBucket(10, 4, 0.0)
    assert takes(bucket, 0.0) == 4
    assert not bucket.take(0.09)
    assert bucket.take(0.1)
    assert not bucket.take(0.1)
    assert takes(bucket, 0.35) == 2  # 0.25 s since the last take: 2.5 tokens, 0.5 kept
    assert not bucket.take(0.39)
    assert bucket.take(0.4)


def test_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket(30, 4, 0.0)
    takes(bucket, 0.0)
    assert takes(bucket, 3600.0) == 4


def test_clock_going_backwards_gives_nothing() -> None:
    bucket = TokenBucket(10, 2, 50.0)
    takes(bucket, 50.0)
    assert not bucket.take(49.0)
    assert not bucket.take(50.05)
    assert bucket.take(50.1)


def test_ready_at_is_now_when_a_token_is_there() -> None:
    bucket = TokenBucket(30, 4, 7.0)
    assert bucket.ready_at(7.0) == 7.0
    takes(bucket, 7.0)
    assert bucket.ready_at(7.0) == pytest.approx(7.0 + 1 / 30)
    assert bucket.ready_at(7.0 + 1 / 60) == pytest.approx(7.0 + 1 / 30)
    assert bucket.ready_at(8.0) == 8.0


def test_ready_at_does_not_spend() -> None:
    bucket = TokenBucket(30, 1, 0.0)
    for _ in range(5):
        assert bucket.ready_at(0.0) == 0.0
    assert bucket.take(0.0)


def test_ready_at_with_a_part_token() -> None:
    bucket = TokenBucket(4, 2, 0.0)
    takes(bucket, 0.0)
    assert bucket.ready_at(0.125) == pytest.approx(0.25)  # half a token there, half to come


def test_fractional_burst() -> None:
    bucket = TokenBucket(1, 2.5, 0.0)
    assert takes(bucket, 0.0) == 2
    assert bucket.ready_at(0.0) == pytest.approx(0.5)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=10),
    start=st.floats(min_value=0, max_value=1e6),
    steps=st.lists(st.floats(min_value=0, max_value=0.5), max_size=60),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, start: float, steps: list[float]
) -> None:
    bucket = TokenBucket(rate, burst, start)
    now, taken = start, 0
    for step in steps:
        now += step
        taken += takes(bucket, now, tries=burst + 1)
        assert taken <= burst + rate * (now - start) + 1e-6
    # ...and the bucket gives what it promised: everything it held at the end.
    assert takes(bucket, now + burst / rate + 1.0) == burst


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=10),
    start=st.floats(min_value=0, max_value=1e6),
    lag=st.floats(min_value=0, max_value=5),
)
def test_ready_at_is_never_early_nor_in_the_past(rate: float, burst: int, start: float, lag: float) -> None:
    bucket = TokenBucket(rate, burst, start)
    takes(bucket, start)
    now = start + lag
    ready = bucket.ready_at(now)
    assert ready >= now
    assert ready <= now + 1 / rate + 1e-9
    if ready > now:
        # Anything noticeably before ready_at is too early.
        assert not bucket.take(now + (ready - now) * 0.99 - 1e-9 * max(1.0, now))


def test_a_token_is_there_at_ready_at() -> None:
    bucket = TokenBucket(30.0, 1, 1000.0)
    assert bucket.take(1000.0)
    ready = bucket.ready_at(1000.0)
    assert bucket.take(ready)


def test_a_token_is_there_just_after_ready_at() -> None:
    # What callers can rely on today: an instant (well) after ready_at.
    bucket = TokenBucket(30.0, 1, 1000.0)
    bucket.take(1000.0)
    ready = bucket.ready_at(1000.0)
    assert bucket.take(math.nextafter(ready, math.inf) + 1e-9)
