"""The API's read path on Redis, with ``redis.asyncio``: the same Lua read and reply parsing as
:class:`~.redis_store.RedisServingStore`, but the event loop serves other requests while Redis
runs the script instead of waiting on a blocking socket."""

from __future__ import annotations

from typing import Any

from viewcount import keys
from viewcount.serving_store.base import CreatorViews, ServingReader, VideoViews
from viewcount.serving_store.exceptions import ServingStoreError
from viewcount.serving_store.redis_store import (
    READ_LUA, RedisStoreConfig, creator_from_reply, pointer_from_reply, read_args, video_from_reply,
)


class RedisServingReader(ServingReader):
    def __init__(self, config: RedisStoreConfig, client: Any | None = None) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialWithJitterBackoff

        self.prefix = config.prefix
        self._redis = client or aioredis.Redis.from_url(
            config.url, socket_timeout=config.socket_timeout_s, socket_connect_timeout=config.socket_timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), config.retries))
        self._read = self._redis.register_script(READ_LUA.read_text())

    async def _call(self, what: str, awaitable):
        import redis

        try:
            return await awaitable
        except (redis.RedisError, OSError) as e:
            raise ServingStoreError(f"{what}: {type(e).__name__}: {e}") from e

    async def ping(self) -> bool:
        return bool(await self._call("ping", self._redis.ping()))

    async def batch_pointer(self) -> tuple[str, int] | None:
        raw = await self._call("read batch pointer", self._redis.hmget(
            keys.batch_pointer_key(self.prefix), "version", "watermark_ms"))
        return pointer_from_reply(raw)

    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = await self._call(f"read {video_id}", self._read(
            keys=[], args=read_args("video", self.prefix, video_id, topic, hourly)))
        return video_from_reply(video_id, reply)

    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        reply = await self._call(f"read creator {creator_id}", self._read(
            keys=[], args=read_args("creator", self.prefix, creator_id, topic)))
        return creator_from_reply(creator_id, reply)

    async def close(self) -> None:
        await self._redis.aclose()
