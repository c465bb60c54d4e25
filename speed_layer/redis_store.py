"""The speed layer's store on Redis: ``step.lua``, the atomic step, loaded once and called by SHA."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import msgpack

from adapters.redis.connection import RedisConnection, lua_source
from speed_layer.exceptions import StateLayoutMismatch, StateLost
from speed_layer.store import CountStore, StepRecord, StepResult
from viewcount import keys
from viewcount.rules import Outcome, RuleSettings

STEP_LUA = ("speed_layer", "step.lua")  # (package, file): read with lua_source
_ORDER = (Outcome.COUNTED, Outcome.INVALID, Outcome.TOO_OLD, Outcome.FROM_FUTURE, Outcome.DUPLICATE,
          Outcome.CONFLICTING, Outcome.UNQUALIFIED, Outcome.CAPPED)


class RedisCountStore(CountStore):
    """``state_buckets`` (``SPEED_STATE_BUCKETS``): how many hashes per kind and partition hold
    the dedup and cap state (keys.state_bucket); ``partitions`` (``TOPIC_PARTITIONS``): the
    partitions of the topic, whose tags the keys are laid out by (keys.partition_tag). Both are
    fixed by the first step under the prefix: a store set otherwise refuses to apply, since its
    lookups would miss the state already there."""

    def __init__(self, redis: RedisConnection, state_buckets: int = keys.DEFAULT_STATE_BUCKETS, *,
                 partitions: int) -> None:
        keys.check_state_buckets(state_buckets)
        if partitions < 1:
            raise ValueError(f"a topic has at least one partition, not {partitions}")
        self._redis = redis
        self.prefix = redis.prefix
        self.state_buckets, self.partitions = state_buckets, partitions
        self.layout = keys.state_layout(state_buckets, partitions)
        self._step = redis.script(lua_source(*STEP_LUA))

    def ping(self) -> bool:
        return self._redis.ping()

    def applied_offsets(self, topic: str) -> dict[int, int]:
        return self._per_partition(topic, "o")

    def applied_ingest_times(self, topic: str) -> dict[int, int]:
        return self._per_partition(topic, "t")

    def _per_partition(self, topic: str, field: str) -> dict[int, int]:
        """One field of every partition's offsets hash (``o`` offsets, ``t`` ingest times)."""
        pipe = self._redis.client.pipeline(transaction=False)
        for p in range(self.partitions):
            pipe.hget(keys.offsets_key(self.prefix, p, topic), field)
        raw = self._redis.call("read offsets", pipe.execute)
        return {p: int(v) for p, v in enumerate(raw) if v is not None}

    def views_ingested_between(self, topic: str, partitions: Sequence[int], from_ms: int,
                               to_ms: int) -> dict[str, dict[int, int]]:
        # The bucket sweep lists name every bucket by its ingest hour: the buckets of the range.
        client, call = self._redis.client, self._redis.call
        buckets: list[tuple[int, str, bytes]] = []
        for p in partitions:
            hours = call("read bucket hours", client.zrangebyscore,
                         keys.bucket_sweep_schedule_key(self.prefix, p, topic), from_ms, f"({to_ms}")
            for hour in hours:
                entries = call("read bucket list", client.lrange,
                               keys.bucket_sweep_key(self.prefix, p, topic, int(hour)), 0, -1)
                buckets += [(p, e[1:].decode(), hour) for e in entries if e[:1] == b"b"]
        pipe = client.pipeline(transaction=False)
        for p, video, hour in buckets:
            pipe.hgetall(keys.bucket_key(self.prefix, p, video, int(hour)))
        out: dict[str, dict[int, int]] = {}
        for (_, video, _), fields in zip(buckets, call("read buckets", pipe.execute) if buckets else []):
            views = out.setdefault(video, {})
            for event_hour, n in fields.items():
                views[int(event_hour)] = views.get(int(event_hour), 0) + int(n)
        return out

    def check_state_layout(self, topic: str) -> None:
        """Refuse to start on dedup and cap state written with another layout, by a version that
        recorded none, or by a release that kept no partition tags (its state would be missed:
        counted twice)."""
        call = self._redis.call
        legacy = call("read state layout", self._redis.client.get, keys.unpartitioned_layout_key(self.prefix))
        if legacy is not None:
            raise StateLayoutMismatch(self.prefix, self.layout.decode(), f"{legacy.decode()}, without partition tags")
        pipe = self._redis.client.pipeline(transaction=False)
        for p in range(self.partitions):
            pipe.get(keys.state_layout_key(self.prefix, p))
            pipe.exists(keys.offsets_key(self.prefix, p, topic))
        raw = call("read state layout", pipe.execute)
        for recorded, counted in zip(raw[::2], raw[1::2]):
            if recorded != self.layout and (recorded is not None or counted):
                raise StateLayoutMismatch(self.prefix, self.layout.decode(), recorded.decode() if recorded else "")

    def published_watermark(self) -> int | None:
        """The lowest W the partitions' readers may read at (None until every partition has a
        version): the buckets it keeps serve each of them."""
        pipe = self._redis.client.pipeline(transaction=False)
        for p in range(self.partitions):
            pipe.hmget(keys.batch_pointer_key(self.prefix, p), "version", "watermark_ms")
        pointers = [keys.pointer_from_reply(raw) for raw in self._redis.call("read batch pointers", pipe.execute)]
        return None if None in pointers else min(w for _, w in pointers)

    def apply(self, topic: str, partition: int, records: Sequence[StepRecord],
              rules: RuleSettings, sweep_before_ms: int | None = None, expect_applied: int = -1) -> StepResult:
        if not 0 <= partition < self.partitions:
            raise ValueError(f"{topic}-{partition}: the keys are laid out for partitions 0 to {self.partitions - 1}")
        args: list[Any] = [keys.partition_tag(self.prefix, partition), topic, self.layout, rules.max_event_age_ms,
                           rules.max_clock_skew_ms, rules.min_watch_ms, rules.max_views_per_viewer_hour,
                           "" if sweep_before_ms is None else sweep_before_ms, expect_applied, self.state_buckets,
                           len(records), _packed(records)]
        out = self._redis.call(f"apply {topic}-{partition}", self._step,
                               keys=[keys.offsets_key(self.prefix, partition, topic)], args=args)
        if out[0] == b"lost":
            raise StateLost(topic, partition, int(out[1]), expect_applied)
        if out[0] == b"layout":
            raise StateLayoutMismatch(self.prefix, self.layout.decode(), out[1].decode())
        counts = {outcome: int(n) for outcome, n in zip(_ORDER, out[2:10])}
        return StepResult(int(out[0]), int(out[1]), counts, [int(o) for o in out[12:]],
                          owner_mismatch=int(out[10]), expired=int(out[11]))


def _packed(records: Sequence[StepRecord]) -> bytes:
    """The step's records as step.lua reads them: one flat MessagePack array. Bytes go as the raw
    string type, since Redis's cmsgpack predates the bin types."""
    return msgpack.packb(list(chain.from_iterable(records)), use_bin_type=False)
