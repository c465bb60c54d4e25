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
    """``state_buckets`` (``SPEED_STATE_BUCKETS``): how many hashes per kind hold the dedup and
    cap state (keys.state_bucket). It is fixed by the first step under the prefix: a store set to
    another number refuses to apply, since its lookups would miss the state already there."""

    def __init__(self, redis: RedisConnection, state_buckets: int = keys.DEFAULT_STATE_BUCKETS) -> None:
        keys.check_state_buckets(state_buckets)
        self._redis = redis
        self.prefix = redis.prefix
        self.state_buckets = state_buckets
        self._step = redis.script(lua_source(*STEP_LUA))

    def ping(self) -> bool:
        return self._redis.ping()

    def applied_offsets(self, topic: str) -> dict[int, int]:
        return self._per_partition(topic, b"o:")

    def applied_ingest_times(self, topic: str) -> dict[int, int]:
        return self._per_partition(topic, b"t:")

    def _per_partition(self, topic: str, field_prefix: bytes) -> dict[int, int]:
        """One kind of field of the offsets hash (``o:`` offsets, ``t:`` ingest times), by partition."""
        raw = self._redis.call("read offsets", self._redis.client.hgetall, keys.offsets_key(self.prefix, topic))
        return {int(k[2:]): int(v) for k, v in raw.items() if k.startswith(field_prefix)}

    def views_ingested_between(self, topic: str, partitions: Sequence[int], from_ms: int,
                               to_ms: int) -> dict[str, dict[int, int]]:
        # The bucket sweep lists name every bucket by its ingest hour: the buckets of the range.
        client, call = self._redis.client, self._redis.call
        buckets: list[tuple[str, bytes]] = []
        for p in partitions:
            hours = call("read bucket hours", client.zrangebyscore,
                         keys.bucket_sweep_schedule_key(self.prefix, topic, p), from_ms, f"({to_ms}")
            for hour in hours:
                entries = call("read bucket list", client.lrange,
                               keys.bucket_sweep_key(self.prefix, topic, p, int(hour)), 0, -1)
                buckets += [(e[1:].decode(), hour) for e in entries if e[:1] == b"b"]
        pipe = client.pipeline(transaction=False)
        for video, hour in buckets:
            pipe.hgetall(keys.bucket_key(self.prefix, video, int(hour)))
        out: dict[str, dict[int, int]] = {}
        for (video, _), fields in zip(buckets, call("read buckets", pipe.execute) if buckets else []):
            views = out.setdefault(video, {})
            for event_hour, n in fields.items():
                views[int(event_hour)] = views.get(int(event_hour), 0) + int(n)
        return out

    def check_state_layout(self, topic: str) -> None:
        """Refuse to start on dedup and cap state written with another number of buckets, or by a
        version that recorded no layout (its state would be missed: counted twice)."""
        client, call = self._redis.client, self._redis.call
        recorded = call("read state layout", client.get, keys.state_layout_key(self.prefix))
        counted = call("read offsets", client.hlen, keys.offsets_key(self.prefix, topic))
        if recorded != keys.state_layout(self.state_buckets) and (recorded is not None or counted):
            raise StateLayoutMismatch(self.prefix, self.state_buckets, recorded.decode() if recorded else "")

    def published_watermark(self) -> int | None:
        raw = self._redis.call("read batch pointer", self._redis.client.hmget,
                               keys.batch_pointer_key(self.prefix), "version", "watermark_ms")
        pointer = keys.pointer_from_reply(raw)
        return None if pointer is None else pointer[1]

    def apply(self, topic: str, partition: int, records: Sequence[StepRecord],
              rules: RuleSettings, sweep_before_ms: int | None = None, expect_applied: int = -1) -> StepResult:
        args: list[Any] = [self.prefix, topic, partition, rules.max_event_age_ms, rules.max_clock_skew_ms,
                           rules.min_watch_ms, rules.max_views_per_viewer_hour,
                           "" if sweep_before_ms is None else sweep_before_ms, expect_applied, self.state_buckets,
                           len(records), _packed(records)]
        out = self._redis.call(f"apply {topic}-{partition}", self._step,
                               keys=[keys.offsets_key(self.prefix, topic)], args=args)
        if out[0] == b"lost":
            raise StateLost(topic, partition, int(out[1]), expect_applied)
        if out[0] == b"layout":
            raise StateLayoutMismatch(self.prefix, self.state_buckets, out[1].decode())
        counts = {outcome: int(n) for outcome, n in zip(_ORDER, out[2:10])}
        return StepResult(int(out[0]), int(out[1]), counts, [int(o) for o in out[12:]],
                          owner_mismatch=int(out[10]), expired=int(out[11]))


def _packed(records: Sequence[StepRecord]) -> bytes:
    """The step's records as step.lua reads them: one flat MessagePack array. Bytes go as the raw
    string type, since Redis's cmsgpack predates the bin types."""
    return msgpack.packb(list(chain.from_iterable(records)), use_bin_type=False)
