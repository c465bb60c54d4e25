"""The creator keys' token buckets in Redis (``ratelimit.lua``, one atomic call per request): every
API replica takes from the same bucket, on Redis's clock, so N replicas allow what one does."""

from __future__ import annotations


from adapters.redis.connection import AsyncRedisConnection, lua_source
from viewcount.keys import rate_limit_key

SCRIPT = ("serving_layer", "ratelimit.lua")  # (package, file): read with lua_source


class RedisRateLimiter:
    """A :class:`~serving_layer.ratelimit.KeyPacer` shared through Redis."""

    def __init__(self, redis: AsyncRedisConnection, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self._redis, self._script = redis, redis.script(lua_source(*SCRIPT))
        self.rate, self.burst = rate_per_s, burst

    async def take(self, key: str) -> float:
        wait_ms = await self._redis.call("rate limit", self._script(
            keys=[rate_limit_key(self._redis.prefix, key)], args=[self.rate, self.burst]))
        return int(wait_ms) / 1000
