"""The batch layer's published views on Redis (key layout: :mod:`viewcount.keys`)."""

from __future__ import annotations

from adapters.redis.connection import RedisConnection
from batch_layer.views_store import BatchViewStore
from viewcount import keys

LOAD_CHUNK = 5000  # videos per pipeline round trip


class RedisBatchViews(BatchViewStore):
    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis
        self.prefix = redis.prefix

    def publish_batch(self, version: str, watermark_ms: int, totals: dict[str, tuple[int, str]],
                      hourly: dict[str, dict[int, int]], grace_s: int) -> str | None:
        client, call = self._redis.client, self._redis.call
        pipe = client.pipeline(transaction=False)
        for n, (video, (views, owner)) in enumerate(totals.items(), start=1):
            pipe.hset(keys.batch_video_key(self.prefix, version, video), mapping={"views": views, "creator_id": owner})
            if hourly.get(video):
                pipe.hset(keys.batch_hourly_key(self.prefix, version, video), mapping=hourly[video])
            pipe.sadd(keys.batch_creator_key(self.prefix, version, owner), video)
            if n % LOAD_CHUNK == 0:
                call(f"load batch {version}", pipe.execute)
        call(f"load batch {version}", pipe.execute)
        previous = self.batch_pointer()
        # The flip: one HSET of both fields, so a reader sees the old pair or the new one.
        call("flip batch pointer", client.hset, keys.batch_pointer_key(self.prefix),
             mapping={"version": version, "watermark_ms": watermark_ms})
        if previous is None or previous[0] == version:
            return None
        pipe = client.pipeline(transaction=False)
        for key in client.scan_iter(match=keys.batch_version_pattern(self.prefix, previous[0]), count=10_000):
            pipe.expire(key, grace_s)
        call(f"expire batch {previous[0]}", pipe.execute)
        return previous[0]

    def batch_pointer(self) -> tuple[str, int] | None:
        raw = self._redis.call("read batch pointer", self._redis.client.hmget,
                               keys.batch_pointer_key(self.prefix), "version", "watermark_ms")
        return keys.pointer_from_reply(raw)
