"""The merged read on Redis: ``read.lua``, one atomic script per answer, loaded once and called by
SHA. :class:`RedisServingReader` is what the API awaits; :class:`RedisViewReader` gives the same
answers blocking (the CLI's ``views``, checks and benchmarks).

A video's keys live under its partition's tag (viewcount.keys), found by the partitioner of
CONTRACT §1: its read is one script in one hash slot. A creator's videos are read in pages,
never in one script over all of them: partition 0's pointer first (version, W: the version every
page reads, batch_layer/redis_views.py says why), then the creator's candidates (the batch
version's index and the speed layer's recent claims in every partition, the catalog's
assignments), then up to ``PAGE`` videos of one partition per script call at that version and W.
"""

from __future__ import annotations

from collections.abc import Iterator

from adapters.redis.connection import AsyncRedisConnection, RedisConnection, lua_source
from serving_layer.owners import Owners, OwnersAt, first_claim
from serving_layer.views import CreatorViews, ServingReader, VideoViews
from viewcount import keys
from viewcount.partitioner import video_partition

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


class ReadPlan:
    """Which keys and arguments each script call of a read takes: pure, shared by both readers."""

    def __init__(self, prefix: str, partitions: int) -> None:
        self.prefix, self.partitions = prefix, partitions

    def video(self, video_id: str, topic: str | None, hourly: bool) -> dict:
        p = video_partition(video_id, self.partitions)
        return {"keys": [keys.batch_pointer_key(self.prefix, p)],
                "args": ["video", keys.partition_tag(self.prefix, p), video_id, topic or "", "1" if hourly else "0"]}

    def pages(self, candidates: set[str], version, watermark) -> Iterator[tuple[list[str], dict]]:
        """(page, script call) per ``PAGE`` candidates of one partition, read at the pinned version."""
        by_partition: dict[int, list[str]] = {}
        for video in sorted(candidates):
            by_partition.setdefault(video_partition(video, self.partitions), []).append(video)
        for p, videos in sorted(by_partition.items()):
            for i in range(0, len(videos), PAGE):
                page = videos[i:i + PAGE]
                yield page, {"keys": [keys.batch_pointer_key(self.prefix, p)],
                             "args": ["page", keys.partition_tag(self.prefix, p), version or "", watermark or "",
                                      *page]}

    def leader(self) -> bytes:
        """Partition 0's pointer: the version a creator's read pins."""
        return keys.batch_pointer_key(self.prefix, 0)

    def ingest_time_keys(self, topic: str) -> list[bytes]:
        return [keys.offsets_key(self.prefix, p, topic) for p in range(self.partitions)]

    def claim_keys(self, creator_id: str, version) -> list[tuple[bytes | None, bytes]]:
        """Per partition: (the batch version's index of the creator's claims or None, the speed
        layer's recent claims)."""
        return [(keys.batch_creator_key(self.prefix, p, _text(version), creator_id) if version else None,
                 keys.creator_videos_key(self.prefix, p, creator_id)) for p in range(self.partitions)]


def lowest_ingest_time(raw: list) -> int | None:
    """``as_of`` of a creator's read: the lowest ingest time over the partitions that have one."""
    times = [int(t) for t in raw if t is not None]
    return min(times) if times else None


class RedisServingReader(ServingReader):
    """``partitions``: the views topic's (``TOPIC_PARTITIONS``), whose tags hold the videos' keys."""

    def __init__(self, redis: AsyncRedisConnection, owners: Owners, partitions: int) -> None:
        self._redis, self._owners = redis, owners
        self.prefix = redis.prefix
        self._plan = ReadPlan(redis.prefix, partitions)
        self._read = redis.script(lua_source(*READ_LUA))

    async def ping(self) -> bool:
        return await self._redis.ping()

    async def batch_pointer(self) -> tuple[str, int] | None:
        raw = await self._redis.call("read batch pointer", self._redis.client.hmget(
            self._plan.leader(), "version", "watermark_ms"))
        return keys.pointer_from_reply(raw)

    async def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = await self._redis.call(f"read {video_id}", self._read(**self._plan.video(video_id, topic, hourly)))
        return video_from_reply(video_id, reply, self._owners.now())

    async def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        client, call, what = self._redis.client, self._redis.call, f"read creator {creator_id}"
        version, watermark = await call(what, client.hmget(self._plan.leader(), "version", "watermark_ms"))
        as_of = None
        if topic:
            pipe = client.pipeline(transaction=False)
            for key in self._plan.ingest_time_keys(topic):
                pipe.hget(key, "t")
            as_of = lowest_ingest_time(await call(what, pipe.execute()))
        owners = self._owners.now()
        candidates = owners.catalog_candidates(creator_id)
        since = _text(watermark) if watermark else "-inf"
        for index, recent in self._plan.claim_keys(creator_id, version):
            if index is not None:
                async def members(index=index) -> list:
                    return [v async for v in client.sscan_iter(index, count=SCAN_COUNT)]

                candidates.update(_text(v) for v in await call(f"read claims of {creator_id}", members()))
            candidates.update(_text(v) for v in await call(f"read claims of {creator_id}",
                                                           client.zrangebyscore(recent, since, "+inf")))
        videos: dict[str, int] = {}
        for page, read in self._plan.pages(candidates, version, watermark):
            videos.update(owned_in_page(creator_id, page, await call(what, self._read(**read)), owners))
        return CreatorViews(creator_id, dict(sorted(videos.items())), _ms(watermark), _text(version) if version
                            else None, as_of)

    async def close(self) -> None:
        await self._redis.close()


class RedisViewReader:
    """The same reads as :class:`RedisServingReader`, blocking."""

    def __init__(self, redis: RedisConnection, owners: Owners, partitions: int) -> None:
        self._redis, self._owners = redis, owners
        self.prefix = redis.prefix
        self._plan = ReadPlan(redis.prefix, partitions)
        self._read = redis.script(lua_source(*READ_LUA))

    def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = self._redis.call(f"read {video_id}", self._read, **self._plan.video(video_id, topic, hourly))
        return video_from_reply(video_id, reply, self._owners.now())

    def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        client, call, what = self._redis.client, self._redis.call, f"read creator {creator_id}"
        version, watermark = call(what, client.hmget, self._plan.leader(), "version", "watermark_ms")
        as_of = None
        if topic:
            pipe = client.pipeline(transaction=False)
            for key in self._plan.ingest_time_keys(topic):
                pipe.hget(key, "t")
            as_of = lowest_ingest_time(call(what, pipe.execute))
        owners = self._owners.now()
        candidates = owners.catalog_candidates(creator_id)
        since = _text(watermark) if watermark else "-inf"
        for index, recent in self._plan.claim_keys(creator_id, version):
            if index is not None:
                candidates.update(_text(v) for v in call(f"read claims of {creator_id}",
                                                         lambda index=index: list(client.sscan_iter(index, count=SCAN_COUNT))))
            candidates.update(_text(v) for v in call(f"read claims of {creator_id}", client.zrangebyscore,
                                                     recent, since, "+inf"))
        videos: dict[str, int] = {}
        for page, read in self._plan.pages(candidates, version, watermark):
            videos.update(owned_in_page(creator_id, page, call(what, self._read, **read), owners))
        return CreatorViews(creator_id, dict(sorted(videos.items())), _ms(watermark), _text(version) if version
                            else None, as_of)
