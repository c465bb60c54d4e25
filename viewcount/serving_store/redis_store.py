"""The serving store on Redis: the speed layer's atomic step and the merged read, as Lua
scripts loaded once and called by SHA."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viewcount import keys
from viewcount.rules import Outcome, RuleSettings
from viewcount.serving_store.exceptions import ServingStoreError, StateLost
from viewcount.serving_store.base import PreparedRecord, ServingStore, CreatorViews, StateTtls, StepResult, VideoViews

from viewcount.typed_config import typed_config

logger = logging.getLogger(__name__)

STEP_LUA = Path(__file__).with_name("step.lua")
READ_LUA = Path(__file__).with_name("read.lua")
_ORDER = (Outcome.COUNTED, Outcome.INVALID, Outcome.TOO_OLD, Outcome.FROM_FUTURE, Outcome.DUPLICATE,
          Outcome.CONFLICTING, Outcome.UNQUALIFIED, Outcome.CAPPED)


@dataclass(frozen=True)
class RedisStoreConfig:
    url: str
    prefix: str = "vc"
    socket_timeout_s: float = 5.0
    retries: int = 10              # on a broken connection, with backoff (the API uses 0: it answers 503)

    @classmethod
    def from_mapping(cls, values: dict) -> RedisStoreConfig:
        return typed_config(cls, values, ServingStoreError)


class RedisServingStore(ServingStore):
    def __init__(self, config: RedisStoreConfig, client: Any | None = None) -> None:
        import redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        self.config = config
        self.prefix = config.prefix
        self._redis = client or redis.Redis.from_url(
            config.url, socket_timeout=config.socket_timeout_s, socket_connect_timeout=config.socket_timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=1), config.retries))
        self._step = self._redis.register_script(STEP_LUA.read_text())
        self._read = self._redis.register_script(READ_LUA.read_text())

    def _call(self, what: str, fn, *args, **kwargs):
        import redis

        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as e:  # a reset socket can surface as a bare OSError
            raise ServingStoreError(f"{what}: {type(e).__name__}: {e}") from e

    def ping(self) -> bool:
        return bool(self._call("ping", self._redis.ping))

    def applied_offsets(self, topic: str) -> dict[int, int]:
        raw = self._call("read offsets", self._redis.hgetall, keys.offsets_key(self.prefix, topic))
        return {int(k[2:]): int(v) for k, v in raw.items() if k.startswith(b"o:")}

    def apply(self, topic: str, partition: int, records: Sequence[PreparedRecord],
              rules: RuleSettings, ttls: StateTtls, expect_applied: int = -1) -> StepResult:
        args: list[Any] = [self.prefix, partition, rules.max_event_age_ms, rules.max_clock_skew_ms,
                           rules.min_watch_ms, rules.max_views_per_viewer_hour,
                           ttls.dedup_s, ttls.cap_s, ttls.bucket_s, expect_applied, len(records)]
        for record in records:
            args.extend(record)
        out = self._call(f"apply {topic}-{partition}", self._step,
                         keys=[keys.offsets_key(self.prefix, topic)], args=args)
        if out[0] == b"lost":
            raise StateLost(topic, partition, int(out[1]), expect_applied)
        counts = {outcome: int(n) for outcome, n in zip(_ORDER, out[2:10])}
        return StepResult(int(out[0]), int(out[1]), counts, [int(o) for o in out[10:]])

    def publish_batch(self, version: str, watermark_ms: int, totals: dict[str, tuple[int, str]],
                      hourly: dict[str, dict[int, int]], grace_s: int) -> str | None:
        pipe = self._redis.pipeline(transaction=False)
        for n, (video, (views, owner)) in enumerate(totals.items(), start=1):
            pipe.hset(keys.batch_video_key(self.prefix, version, video), mapping={"views": views, "creator_id": owner})
            if hourly.get(video):
                pipe.hset(keys.batch_hourly_key(self.prefix, version, video), mapping=hourly[video])
            pipe.sadd(keys.batch_creator_key(self.prefix, version, owner), video)
            if n % 5000 == 0:
                self._call(f"load batch {version}", pipe.execute)
        self._call(f"load batch {version}", pipe.execute)
        previous = self.batch_pointer()
        # The flip: one HSET of both fields, so a reader sees the old pair or the new one.
        self._call("flip batch pointer", self._redis.hset, keys.batch_pointer_key(self.prefix),
                   mapping={"version": version, "watermark_ms": watermark_ms})
        if previous is None or previous[0] == version:
            return None
        old = f"{self.prefix}:bv:{previous[0]}:*"
        pipe = self._redis.pipeline(transaction=False)
        for key in self._redis.scan_iter(match=old, count=10_000):
            pipe.expire(key, grace_s)
        self._call(f"expire batch {previous[0]}", pipe.execute)
        return previous[0]

    def batch_pointer(self) -> tuple[str, int] | None:
        raw = self._call("read batch pointer", self._redis.hmget, keys.batch_pointer_key(self.prefix),
                         "version", "watermark_ms")
        return pointer_from_reply(raw)

    def video_views(self, video_id: str, topic: str | None = None, hourly: bool = True) -> VideoViews:
        reply = self._call(f"read {video_id}", self._read, keys=[], args=read_args("video", self.prefix, video_id, topic, hourly))
        return video_from_reply(video_id, reply)

    def creator_views(self, creator_id: str, topic: str | None = None) -> CreatorViews:
        reply = self._call(f"read creator {creator_id}", self._read, keys=[],
                           args=read_args("creator", self.prefix, creator_id, topic))
        return creator_from_reply(creator_id, reply)


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


def pointer_from_reply(raw: list) -> tuple[str, int] | None:
    return None if raw[0] is None else (raw[0].decode(), int(raw[1]))
