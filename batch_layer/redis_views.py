"""The batch layer's published views on Redis (key layout: :mod:`viewcount.keys`).

Each video's keys live under the tag of its partition, so a reader's script touches one hash
slot of a cluster; each partition has its own pointer (version, W, seq). A publish:

1. loads the version whole under version-scoped keys, in every partition;
2. flips partition 0's pointer, with the compare-and-swap over the version it was computed
   against: this is where the publish is decided, and where it gets its ``seq``;
3. flips every other partition's pointer, each only if no later publish (a higher ``seq``)
   flipped it first;
4. expires, after the grace, every version a pointer named before.

Why no reader mixes two versions, without a transaction over many slots:

- A video's read is one script in one slot: its partition's pointer and that version's keys of
  the video, read together. The pointer names one version, whose keys were all loaded before
  any pointer named it (step 1 before 2), and kept for the grace after the last pointer left it.
- A creator's read spans partitions. It reads partition 0's pointer once and passes that
  (version, W) to every page, whatever the other partitions' pointers say meanwhile: every
  page reads that one version, whose keys exist in every partition by step 1.
- A publisher that stops between steps 2 and 3 leaves some partitions at the older version.
  Each answer still reads one version; the next publish flips them all (its ``seq`` is higher)
  and expires what they named.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import groupby

from adapters.redis.connection import RedisConnection, lua_source
from batch_layer.exceptions import PublishConflict
from batch_layer.views_store import BatchViewStore, HourRow, VideoRow
from viewcount import keys
from viewcount.partitioner import video_partition

LOAD_CHUNK = 10_000  # commands per pipeline round trip
FLIP_LUA = ("batch_layer", "flip.lua")  # (package, file): read with lua_source
logger = logging.getLogger(__name__)


class RedisBatchViews(BatchViewStore):
    """``partitions``: the views topic's (``TOPIC_PARTITIONS``), whose tags hold the videos' keys."""

    def __init__(self, redis: RedisConnection, partitions: int) -> None:
        self._redis = redis
        self.prefix = redis.prefix
        self.partitions = partitions
        self._flip = redis.script(lua_source(*FLIP_LUA))

    def publish_rows(self, version: str, watermark_ms: int, videos: Iterable[VideoRow], hours: Iterable[HourRow],
                     grace_s: int, over: str | None = None) -> str | None:
        self._load(version, videos, hours)
        previous, seq = self._lead(version, watermark_ms, over, grace_s)
        replaced = {previous}
        for p in range(1, self.partitions):
            flipped, found = self._redis.call(f"flip batch pointer of partition {p}", self._flip,
                                              keys=[keys.batch_pointer_key(self.prefix, p)],
                                              args=["follow", version, watermark_ms, seq])
            if not flipped:     # a later publish got here first: it flips the rest, and expires this one
                logger.info("version %s: partition %d already shows %s, published after it", version, p,
                            _text(found))
                break
            replaced.add(_text(found))
        for old in sorted(replaced - {"", version}):
            self._expire(old, grace_s)
        return previous if previous and previous != version else None

    def _load(self, version: str, videos: Iterable[VideoRow], hours: Iterable[HourRow]) -> None:
        """Step 1: every key of the version, in its video's partition."""
        prefix, call, partitions = self.prefix, self._redis.call, self.partitions
        pipe = self._redis.client.pipeline(transaction=False)
        queued = 0
        for video, views, owner in videos:
            p = video_partition(video, partitions)
            pipe.hset(keys.batch_video_key(prefix, p, version, video), mapping={"views": views, "creator_id": owner})
            pipe.sadd(keys.batch_creator_key(prefix, p, version, owner), video)
            queued += 2
            if queued >= LOAD_CHUNK:
                call(f"load batch {version}", pipe.execute)
                queued = 0
        # A video's consecutive hours go in one HSET (the batch writes each day's hours sorted by video).
        for video, run in groupby(hours, key=lambda row: row[0]):
            fields = {hour: views for _, hour, views in run if views}
            if fields:
                p = video_partition(video, partitions)
                pipe.hset(keys.batch_hourly_key(prefix, p, version, video), mapping=fields)
                queued += len(fields)
            if queued >= LOAD_CHUNK:
                call(f"load batch {version}", pipe.execute)
                queued = 0
        call(f"load batch {version}", pipe.execute)

    def _lead(self, version: str, watermark_ms: int, over: str | None, grace_s: int) -> tuple[str, int]:
        """Step 2: partition 0's pointer, over ``over`` (None: whatever is published).
        Returns (the version it named before, the publish's seq)."""
        flipped, found, *seq = self._redis.call("flip batch pointer", self._flip,
                                                keys=[keys.batch_pointer_key(self.prefix, 0)],
                                                args=["lead", "*" if over is None else over, version, watermark_ms])
        previous = _text(found)
        if not flipped:
            self._expire(version, grace_s)
            raise PublishConflict(f"version {version} was computed over {over or 'nothing published'}, but "
                                  f"{previous or 'nothing'} is published now", previous or None)
        return previous, int(seq[0])

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
                pipe.hgetall(keys.batch_hourly_key(self.prefix, video_partition(video, self.partitions), version,
                                                   video))
            for video, fields in zip(chunk, self._redis.call(f"read batch {version}", pipe.execute)):
                if fields:
                    out[video] = {int(h): int(n) for h, n in fields.items()}
        return out

    def batch_pointer(self) -> tuple[str, int] | None:
        """Partition 0's pointer: the version a publish is decided on, and creator reads pin."""
        raw = self._redis.call("read batch pointer", self._redis.client.hmget,
                               keys.batch_pointer_key(self.prefix, 0), "version", "watermark_ms")
        return keys.pointer_from_reply(raw)


def _text(raw) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
