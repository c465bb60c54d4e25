"""A Redis connection, blocking or asyncio, whose driver errors are translated where they enter."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.redis.exceptions import ServingStoreError, UnsafeStore
from viewcount.typed_config import typed_config

T = TypeVar("T")
logger = logging.getLogger(__name__)


def lua_source(package: str, name: str) -> str:
    """A Lua script shipped in ``package``, read as package data: it loads from an installed
    tree and from a zip on the path alike (a Spark application's ``--py-files``)."""
    from importlib.resources import files

    return files(package).joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class RedisConfig:
    url: str
    prefix: str = "vc"             # every key starts with it (viewcount.keys)
    socket_timeout_s: float = 5.0
    retries: int = 10              # on a broken connection, with backoff (the API uses 0: it answers 503)

    @classmethod
    def from_mapping(cls, values: dict) -> RedisConfig:
        return typed_config(cls, values, ServingStoreError)


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def cluster_url(url: str) -> str | None:
    """The driver's URL of a Redis Cluster (``redis+cluster://`` → ``redis://``), None for a single Redis."""
    scheme, sep, rest = url.partition("://")
    return f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}" if scheme in CLUSTER_SCHEMES else None


def _client_options(config: RedisConfig, retry_class: type) -> dict[str, Any]:
    """Timeouts, and retries with jittered backoff on a broken connection (on a cluster, also
    while a replica takes over a failed master's slots)."""
    from redis.backoff import ExponentialWithJitterBackoff

    return {"socket_timeout": config.socket_timeout_s, "socket_connect_timeout": config.socket_timeout_s,
            "retry": retry_class(ExponentialWithJitterBackoff(base=0.01, cap=1), config.retries)}


def _new_client(config: RedisConfig, driver: Any, retry_class: type) -> Any:
    """A client of ``driver`` (``redis`` or ``redis.asyncio``) for ``config.url``: a cluster
    client for a cluster URL."""
    options = _client_options(config, retry_class)
    cluster = cluster_url(config.url)
    return (driver.Redis.from_url(config.url, **options) if cluster is None
            else driver.RedisCluster.from_url(cluster, **options))


class RedisConnection:
    """A blocking client (``redis.Redis``, or ``redis.RedisCluster`` for a ``redis+cluster://``
    URL); pass ``client`` to share one."""

    def __init__(self, config: RedisConfig, client: Any | None = None) -> None:
        import redis
        from redis.retry import Retry

        self.config = config
        self.prefix = config.prefix
        self.client = client or _new_client(config, redis, Retry)
        self.cluster = isinstance(self.client, redis.RedisCluster)

    def script(self, source: str):
        """A Lua script, registered once and then called by SHA (EVALSHA)."""
        return self.client.register_script(source)

    def call(self, what: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(*args, **kwargs)``; a driver error becomes :class:`ServingStoreError` saying ``what``."""
        import redis

        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as e:  # a reset socket can surface as a bare OSError
            raise ServingStoreError(f"{what}: {type(e).__name__}: {e}") from e

    def ping(self) -> bool:
        return bool(self.call("ping", self.client.ping))

    def require_no_eviction(self, who: str) -> None:
        """Refuse a Redis whose ``maxmemory-policy`` may evict keys: the exact state (dedup and
        cap keys, applied offsets, published views) would vanish silently under memory pressure.
        A user not allowed INFO cannot tell: that is logged, and the start goes on."""
        import redis

        try:
            if self.cluster:    # every master's: a shard that may evict loses its partitions' state
                found = self.client.info("memory", target_nodes=self.client.PRIMARIES)
                policies = {info.get("maxmemory_policy") for info in found.values()}
                policy = next(iter(policies - {"noeviction"}), "noeviction")
            else:
                policy = self.client.info("memory").get("maxmemory_policy")
        except redis.exceptions.NoPermissionError:
            logger.warning("%s cannot read Redis's maxmemory-policy (the ACL user lacks +info): make sure it is "
                           "noeviction, or grant +info so that it is checked", who)
            return
        except (redis.RedisError, OSError) as e:
            raise ServingStoreError(f"read maxmemory-policy: {type(e).__name__}: {e}") from e
        if policy != "noeviction":
            raise UnsafeStore(f"Redis's maxmemory-policy is {policy}: it may evict keys {who} relies on to count "
                              f"exactly, and nothing would say so. Set `maxmemory-policy noeviction` (a full Redis "
                              f"then refuses writes, which {who} reports and retries)")

    def close(self) -> None:
        self.client.close()


class AsyncRedisConnection:
    """An asyncio client (``redis.asyncio``): the event loop serves other requests while Redis
    runs a script, instead of waiting on a blocking socket."""

    def __init__(self, config: RedisConfig, client: Any | None = None) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry

        self.config = config
        self.prefix = config.prefix
        self.client = client or _new_client(config, aioredis, Retry)

    def script(self, source: str):
        return self.client.register_script(source)

    async def call(self, what: str, awaitable: Awaitable[T]) -> T:
        import redis

        try:
            return await awaitable
        except (redis.RedisError, OSError) as e:
            raise ServingStoreError(f"{what}: {type(e).__name__}: {e}") from e

    async def ping(self) -> bool:
        return bool(await self.call("ping", self.client.ping()))

    async def close(self) -> None:
        await self.client.aclose()
