"""A token bucket per key: ``rate`` requests per second on average, bursts up to ``burst``.

:class:`RateLimiter` is in-process, with the clock injected for tests: the API paces failed
authentications per client address with it. Creator keys are paced by :class:`KeyPacer`, which
the Redis limiter (``redis_ratelimit.py``) implements so that N replicas share one budget; this
one implements it too, for a single process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class KeyPacer(Protocol):
    async def take(self, key: str) -> float:
        """0 if a request for ``key`` may go ahead (a token is taken), else the seconds to wait."""


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate, self.burst = rate_per_s, burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}   # key → (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0 if the request may go ahead (a token is taken), else the seconds until it may."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1:
                if len(self._buckets) >= self._max_keys and key not in self._buckets:
                    self._forget_full(now)
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    async def take(self, key: str) -> float:
        return self.acquire(key)

    def wait(self, key: str) -> float:
        """The seconds until ``key`` may go ahead, taking nothing (0: it may now)."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled are the same as no bucket: drop them to bound memory."""
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
