"""The merged read on Redis: ``read.lua``, one atomic script per answer, loaded once and called by
SHA. :class:`RedisServingReader` is what the API awaits; :class:`RedisViewReader` gives the same
answers blocking (the CLI's ``views``, checks and benchmarks).

A creator's videos are read in pages, never in one script over all of them: the pointer first
(version, W), then the creator's candidates (the batch version's index, the speed layer's recent
claims, the catalog's assignments), then ``PAGE`` videos per script call at that version and W.
"""

from __future__ import annotations


from adapters.redis.connection import AsyncRedisConnection, RedisConnection, lua_source
from serving_layer.owners import Owners, OwnersAt, first_claim
from serving_layer.views import CreatorViews, ServingReader, VideoViews
from viewcount import keys

READ_LUA = ("serving_layer", "read.lua")  # (package, file): read with lua_source
PAGE = 500      # videos per script call of a creator read
SCAN_COUNT = 1000


def _text(raw) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _ms(raw) -> int | None:
    return int(raw) if raw else None


def video_from_reply(video_id: str, reply: list, owners: OwnersAt) -> VideoViews:
    version, watermark, batch, batch_claim, speed_claim, flat, speed, as_of = reply
    claim = first_claim(_text(batch_claim), _text(speed_claim))
    return VideoViews(
        video_id=video_id, creator_id=owners.owner(video_id, claim),
        batch_views=int(batch), speed_views=int(speed),
        batch_watermark_ms=_ms(watermark), batch_version=_text(version) or None,
        hourly={int(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)},
        as_of_ms=_ms(as_of), first_claim=claim)


def owned_in_page(creator_id: str, page: list[str], reply: list, owners: OwnersAt) -> dict[str, int]:
    """The page's videos the creator owns now, with their merged views."""
    owned = {}
    for i, video in enumerate(page):
        batch, batch_claim, speed_claim, speed = reply[4 * i: 4 * i + 4]
        if owners.owner(video, first_claim(_text(batch_claim), _text(speed_claim))) == creator_id:
            owned[video] = int(batch) + int(speed)
    return owned


def pages(candidates: set[str]) -> list[list[str]]:
    ordered = sorted(candidates)
    return [ordered[i:i + PAGE] for i in range(0, len(ordered), PAGE)]


class RedisServingReader(ServingReader):
    def __init__(self, redis: AsyncRedisConnection, owners: Owners) -> None:
        self._redis, self._owners = redis, owners
        self.prefix = redis.prefix
        self._read = redis.script(lua_source(*READ_LUA))

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def batch_pointer(self) -> tuple[str, int] | None:
        raw = await self._redis.call("read batch pointer", self._redis.client.hmget(
            keys.batch_pointer_key(self.prefix), "version", "watermark_ms"))
        return keys.pointer_from_reply(raw)

    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = await self._redis.call(f"read {video_id}", self._read(
            keys=[], args=["video", self.prefix, video_id, topic or "", "1" if hourly else "0"]))
        return video_from_reply(video_id, reply, self._owners.now())

    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        version, watermark, as_of = await self._redis.call(
            f"read creator {creator_id}", self._read(keys=[], args=["pointer", self.prefix, topic or ""]))
        owners = self._owners.now()
        candidates = owners.catalog_candidates(creator_id)
        client = self._redis.client
        if version:
            index = keys.batch_creator_key(self.prefix, _text(version), creator_id)
            async def members() -> list:
                return [v async for v in client.sscan_iter(index, count=SCAN_COUNT)]

            candidates.update(_text(v) for v in await self._redis.call(f"read claims of {creator_id}", members()))
        recent = await self._redis.call(f"read claims of {creator_id}", client.zrangebyscore(
            keys.creator_videos_key(self.prefix, creator_id), _text(watermark) if watermark else "-inf", "+inf"))
        candidates.update(_text(v) for v in recent)
        videos: dict[str, int] = {}
        for page in pages(candidates):
            reply = await self._redis.call(f"read creator {creator_id}", self._read(
                keys=[], args=["page", self.prefix, version, watermark, *page]))
            videos.update(owned_in_page(creator_id, page, reply, owners))
        return CreatorViews(creator_id, dict(sorted(videos.items())), _ms(watermark), _text(version) or None,
                            _ms(as_of))

    async def close(self) -> None:
        await self._redis.close()


class RedisViewReader:
    """The same reads as :class:`RedisServingReader`, blocking."""

    def __init__(self, redis: RedisConnection, owners: Owners) -> None:
        self._redis, self._owners = redis, owners
        self.prefix = redis.prefix
        self._read = redis.script(lua_source(*READ_LUA))

    def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = self._redis.call(f"read {video_id}", self._read, keys=[],
                                 args=["video", self.prefix, video_id, topic or "", "1" if hourly else "0"])
        return video_from_reply(video_id, reply, self._owners.now())

    def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        version, watermark, as_of = self._redis.call(f"read creator {creator_id}", self._read, keys=[],
                                                     args=["pointer", self.prefix, topic or ""])
        owners = self._owners.now()
        candidates = owners.catalog_candidates(creator_id)
        client = self._redis.client
        if version:
            index = keys.batch_creator_key(self.prefix, _text(version), creator_id)
            candidates.update(_text(v) for v in self._redis.call(
                f"read claims of {creator_id}", lambda: list(client.sscan_iter(index, count=SCAN_COUNT))))
        candidates.update(_text(v) for v in self._redis.call(
            f"read claims of {creator_id}", client.zrangebyscore, keys.creator_videos_key(self.prefix, creator_id),
            _text(watermark) if watermark else "-inf", "+inf"))
        videos: dict[str, int] = {}
        for page in pages(candidates):
            reply = self._redis.call(f"read creator {creator_id}", self._read, keys=[],
                                     args=["page", self.prefix, version, watermark, *page])
            videos.update(owned_in_page(creator_id, page, reply, owners))
        return CreatorViews(creator_id, dict(sorted(videos.items())), _ms(watermark), _text(version) or None,
                            _ms(as_of))
