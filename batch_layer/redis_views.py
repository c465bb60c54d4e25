"""The batch layer's published views on Redis (key layout: :mod:`viewcount.keys`)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from adapters.redis.connection import RedisConnection, lua_source
from batch_layer.exceptions import PublishConflict
from batch_layer.views_store import BatchViewStore, HourRow, VideoRow
from viewcount import keys

LOAD_CHUNK = 10_000  # commands per pipeline round trip
FLIP_LUA = ("batch_layer", "flip.lua")  # (package, file): read with lua_source


class RedisBatchViews(BatchViewStore):
    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis
        self.prefix = redis.prefix
        self._flip = redis.script(lua_source(*FLIP_LUA))

    def publish_rows(self, version: str, watermark_ms: int, videos: Iterable[VideoRow], hours: Iterable[HourRow],
                     grace_s: int, over: str | None = None) -> str | None:
        client, call = self._redis.client, self._redis.call
        pipe = client.pipeline(transaction=False)
        queued = 0
        for video, views, owner in videos:
            pipe.hset(keys.batch_video_key(self.prefix, version, video), mapping={"views": views, "creator_id": owner})
            pipe.sadd(keys.batch_creator_key(self.prefix, version, owner), video)
            queued += 2
            if queued >= LOAD_CHUNK:
                call(f"load batch {version}", pipe.execute)
                queued = 0
        # A video's consecutive hours go in one HSET (the batch writes each day's hours sorted by video).
        for video, run in groupby(hours, key=lambda row: row[0]):
            fields = {hour: views for _, hour, views in run if views}
            if fields:
                pipe.hset(keys.batch_hourly_key(self.prefix, version, video), mapping=fields)
                queued += len(fields)
            if queued >= LOAD_CHUNK:
                call(f"load batch {version}", pipe.execute)
                queued = 0
        call(f"load batch {version}", pipe.execute)
        # The flip: one HSET of both fields, so a reader sees the old pair or the new one; with
        # ``over``, in one script with the check that nothing was published meanwhile.
        pointer = keys.batch_pointer_key(self.prefix)
        if over is None:
            before = self.batch_pointer()
            call("flip batch pointer", client.hset, pointer, mapping={"version": version, "watermark_ms": watermark_ms})
            previous = before[0] if before else ""
        else:
            flipped, found = call("flip batch pointer", self._flip, keys=[pointer], args=[over, version, watermark_ms])
            previous = found.decode() if isinstance(found, bytes) else found
            if not flipped:
                self._expire(version, grace_s)
                raise PublishConflict(f"version {version} was computed over {over or 'nothing published'}, but "
                                      f"{previous or 'nothing'} is published now", previous or None)
        if not previous or previous == version:
            return None
        self._expire(previous, grace_s)
        return previous

    def _expire(self, version: str, grace_s: int) -> None:
        client = self._redis.client
        pipe = client.pipeline(transaction=False)
        for n, key in enumerate(client.scan_iter(match=keys.batch_version_pattern(self.prefix, version),
                                                 count=10_000), start=1):
            pipe.expire(key, grace_s)
            if n % LOAD_CHUNK == 0:    # a version has keys per video: never one pipeline of all
                self._redis.call(f"expire batch {version}", pipe.execute)
        self._redis.call(f"expire batch {version}", pipe.execute)

    def hourly_views(self, version: str, videos: Iterable[str]) -> dict[str, dict[int, int]]:
        videos = list(videos)
        out: dict[str, dict[int, int]] = {}
        for i in range(0, len(videos), LOAD_CHUNK):
            chunk = videos[i:i + LOAD_CHUNK]
            pipe = self._redis.client.pipeline(transaction=False)
            for video in chunk:
                pipe.hgetall(keys.batch_hourly_key(self.prefix, version, video))
            for video, fields in zip(chunk, self._redis.call(f"read batch {version}", pipe.execute)):
                if fields:
                    out[video] = {int(h): int(n) for h, n in fields.items()}
        return out

    def batch_pointer(self) -> tuple[str, int] | None:
        raw = self._redis.call("read batch pointer", self._redis.client.hmget,
                               keys.batch_pointer_key(self.prefix), "version", "watermark_ms")
        return keys.pointer_from_reply(raw)
