"""The merged read on Redis: ``read.lua``, one atomic script per answer, loaded once and called by
SHA. :class:`RedisServingReader` is what the API awaits; :class:`RedisViewReader` gives the same
answers blocking (the CLI's ``views``, checks and benchmarks)."""

from __future__ import annotations

from pathlib import Path

from adapters.redis.connection import AsyncRedisConnection, RedisConnection
from serving_layer.views import CreatorViews, ServingReader, VideoViews
from viewcount import keys

READ_LUA = Path(__file__).with_name("read.lua")


def read_args(what: str, prefix: str, ident: str, topic: str | None, hourly: bool = False) -> list[str]:
    """ARGV of read.lua."""
    mode = "creator" if what == "creator" else "hourly" if hourly else "video"
    return [mode, prefix, ident, topic or ""]


def video_from_reply(video_id: str, reply: list) -> VideoViews:
    version, watermark, batch, owner, flat, speed, as_of = reply
    return VideoViews(
        video_id=video_id, creator_id=owner.decode() if owner else None,
        batch_views=int(batch), speed_views=int(speed),
        batch_watermark_ms=int(watermark) if watermark else None,
        batch_version=version.decode() if version else None,
        hourly={int(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)},
        as_of_ms=int(as_of) if as_of else None)


def creator_from_reply(creator_id: str, reply: list) -> CreatorViews:
    version, watermark, flat, as_of = reply
    videos = {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}
    return CreatorViews(
        creator_id=creator_id, videos=dict(sorted(videos.items())),
        batch_watermark_ms=int(watermark) if watermark else None,
        batch_version=version.decode() if version else None,
        as_of_ms=int(as_of) if as_of else None)


class RedisServingReader(ServingReader):
    def __init__(self, redis: AsyncRedisConnection) -> None:
        self._redis = redis
        self.prefix = redis.prefix
        self._read = redis.script(READ_LUA)

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def batch_pointer(self) -> tuple[str, int] | None:
        raw = await self._redis.call("read batch pointer", self._redis.client.hmget(
            keys.batch_pointer_key(self.prefix), "version", "watermark_ms"))
        return keys.pointer_from_reply(raw)

    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = await self._redis.call(f"read {video_id}", self._read(
            keys=[], args=read_args("video", self.prefix, video_id, topic, hourly)))
        return video_from_reply(video_id, reply)

    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        reply = await self._redis.call(f"read creator {creator_id}", self._read(
            keys=[], args=read_args("creator", self.prefix, creator_id, topic)))
        return creator_from_reply(creator_id, reply)

    async def close(self) -> None:
        await self._redis.close()


class RedisViewReader:
    """The same reads as :class:`RedisServingReader`, blocking."""

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis
        self.prefix = redis.prefix
        self._read = redis.script(READ_LUA)

    def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = self._redis.call(f"read {video_id}", self._read, keys=[],
                                 args=read_args("video", self.prefix, video_id, topic, hourly))
        return video_from_reply(video_id, reply)

    def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        reply = self._redis.call(f"read creator {creator_id}", self._read, keys=[],
                                 args=read_args("creator", self.prefix, creator_id, topic))
        return creator_from_reply(creator_id, reply)
