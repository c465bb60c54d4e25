"""The per-key token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from serving_layer.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bursts_then_the_rate_with_the_wait_to_announce():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.acquire("b") == 0            # keys are independent
    clock.now += 0.5
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 10
    assert [limiter.acquire("a") for _ in range(4)][:3] == [0, 0, 0]   # refilled to the burst, not past it


def test_memory_is_bounded_by_forgetting_full_buckets():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=clock, max_keys=10)
    for i in range(10):
        limiter.acquire(f"k{i}")
    clock.now += 5
    limiter.acquire("new")
    assert len(limiter._buckets) == 1


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(rate, burst):
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


def test_wait_tells_how_long_without_taking_a_token():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=0.5, burst=2, clock=clock)
    assert limiter.wait("a") == 0 and limiter.wait("a") == 0          # looking takes nothing
    assert [limiter.acquire("a") for _ in range(2)] == [0, 0]
    assert limiter.wait("a") == pytest.approx(2.0)
    clock.now += 2
    assert limiter.wait("a") == 0 and limiter.acquire("a") == 0
