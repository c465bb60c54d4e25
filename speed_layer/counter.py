"""The speed layer: Kafka → Redis, exactly once, deduplicated and capped.

Redis holds the truth of what was applied: per partition the last applied offset and the running
ingest time. On assignment the consumer seeks there, not to Kafka's committed offset, and the
atomic step skips anything at or below it, so a crash anywhere replays records that are then
skipped. If Redis comes back holding less than it had confirmed (an AOF that lost its last second,
a failover to a lagging replica), the step refuses to open a gap and the counter rewinds the
partition to what Redis holds. :meth:`SpeedCounter.apply` is the commit protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from speed_layer.metrics import SpeedMetrics
from viewcount import keys
from viewcount.eventbatch import decode_events
from viewcount.failpoints import NONE as NO_FAILPOINTS, Failpoints
from adapters.kafka.runtime import Gap, GroupRuntime, RuntimeConfig
from adapters.kafka.seam import Record, RecordConsumer
from viewcount.rules import RuleSettings
from adapters.redis.exceptions import ServingStoreError, UnsafeStore
from speed_layer.exceptions import StateLost
from speed_layer.store import CountStore, StepRecord, StepResult
from viewcount.timeutil import hour_floor, now_ms
from viewcount.logfields import where

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_STEP = 2000   # keeps one Lua step short, so Redis stays responsive to readers
MAX_STEPS_IN_FLIGHT = 2      # decoded batches waiting for Redis; bounds memory and latency
LAG_CHECK_S = 5.0


def prepare(records: Sequence[Record]) -> list[StepRecord]:
    """Step 1 (validity) and the digests the atomic step needs, for a poll's records: pure, no I/O."""
    decoded = decode_events([r.value for r in records])
    prepared: list[StepRecord] = [None] * len(records)  # type: ignore[list-item]  (every slot is set below)
    for i, event_id, video_id, creator_id, viewer_id, event_time_ms, watch_ms, fingerprint in zip(
            decoded.rows, decoded.event_id, decoded.video_id, decoded.creator_id, decoded.viewer_id,
            decoded.event_time_ms, decoded.watch_ms, decoded.fingerprint):
        record = records[i]
        prepared[i] = StepRecord(
            offset=record.offset, timestamp_ms=record.timestamp_ms, valid=1,
            dedup_digest=keys.dedup_digest(video_id, event_id), fingerprint=fingerprint, video_id=video_id,
            creator_id=creator_id, cap_digest=keys.cap_digest(video_id, viewer_id, hour_floor(event_time_ms)),
            event_time_ms=event_time_ms, watch_ms=watch_ms)
    for i in decoded.invalid:
        prepared[i] = StepRecord.invalid(records[i].offset, records[i].timestamp_ms)
    return prepared


@dataclass(frozen=True)
class SpeedConfig:
    topic: str
    rules: RuleSettings
    bucket_retention_ms: int      # buckets are kept this long after the published watermark passes them
    poll_timeout_s: float = 0.2
    max_poll_records: int = 5000
    accept_gap: bool = False      # go on past offsets retention deleted unapplied (--accept-gap)


class SpeedCounter:
    def __init__(self, config: SpeedConfig, consumer: RecordConsumer, store: CountStore,
                 metrics: SpeedMetrics | None = None, on_gap: Callable[[Gap], None] | None = None,
                 failpoint: Failpoints = NO_FAILPOINTS) -> None:
        self.config = config
        self._consumer = consumer
        self._store = store
        self.metrics = metrics or SpeedMetrics()
        self._failpoint = failpoint
        self._assigned: set[int] = set()
        self._in_flight: deque[tuple[int, Future]] = deque()
        self._steps: ThreadPoolExecutor | None = None
        self._last_lag_check = 0.0
        # Buckets and claims of ingest hours before this are dropped by the steps: the published
        # watermark (read every LAG_CHECK_S; one read late only keeps them a little longer) less
        # the retention. None before the first publish.
        self._sweep_before: int | None = None
        # Per partition, the last offset Redis confirmed applied (kept by the step worker), and
        # where Redis was found to have lost steps: the worker skips steps past that gap until
        # the run loop has rewound the consumer to it.
        self._confirmed: dict[int, int] = {}
        self._resume_at: dict[int, int] = {}
        self._rewinds: dict[int, int] = {}
        self._rewinds_lock = threading.Lock()
        self._runtime = GroupRuntime(
            RuntimeConfig(config.topic, "speed layer", config.poll_timeout_s, config.max_poll_records,
                          accept_gap=config.accept_gap),
            consumer, self, on_gap=on_gap)

    # --- group membership (on the polling thread, after the poll that reported it) ---------

    def assigned(self, partitions: list[int]) -> dict[int, int | None]:
        applied = self._applied_offsets_when_reachable()
        self._read_watermark()
        starts: dict[int, int | None] = {}
        for p in partitions:
            self._confirmed[p] = applied.get(p, -1)
            self._resume_at.pop(p, None)
            starts[p] = applied[p] + 1 if applied.get(p, -1) >= 0 else None
            logger.info("assigned %s-%d: resuming after offset %s", self.config.topic, p, applied.get(p, "none"),
                        extra=where(self.config.topic, p, applied.get(p)))
        self._assigned.update(partitions)
        return starts

    def revoked(self, partitions: list[int]) -> None:
        # Steps already submitted land first; they are idempotent per offset, so one landing
        # after the new owner has started is skipped by the step, never counted twice.
        self._settle(keep=0, commit=False)
        self._assigned.difference_update(partitions)
        for p in partitions:
            self._confirmed.pop(p, None)
            self._resume_at.pop(p, None)

    def _seek_after(self, partition: int, applied: int) -> None:
        if applied >= 0:
            self._consumer.seek(partition, applied + 1)
        else:
            self._consumer.seek_to_beginning(partition)

    def apply(self, partition: int, records: Sequence[Record]) -> StepResult:
        """Apply one partition's records from one poll: the commit protocol, in order. None when
        the records lie past a gap Redis lost (they come again after the rewind)."""
        # 1. Decode and validate, derive the digests (pure).
        prepared = prepare(records)
        # 2.–4. The gap guard, the atomic step and its metrics.
        return self._step(partition, records, prepared)

    def _step(self, partition: int, records: Sequence[Record],
              prepared: list[StepRecord]) -> StepResult | None:
        # 2. Records past a gap Redis lost wait until the rewind delivers the gap first.
        resume_at = self._resume_at.get(partition)
        if resume_at is not None:
            if records[0].offset > resume_at:
                return None
            del self._resume_at[partition]
        started = time.monotonic()
        self._failpoint("speed.decoded")
        # 3. One atomic step in Redis: skip applied offsets, rules 2–5, buckets, the new offset;
        #    refused if Redis holds less than it confirmed before.
        try:
            result = self._store.apply(self.config.topic, partition, prepared, self.config.rules,
                                       self._sweep_before, expect_applied=self._confirmed.get(partition, -1))
        except StateLost as e:
            self._lost(partition, e.applied, e.expected)
            return None
        self._failpoint("speed.applied")
        self._confirmed[partition] = result.last_offset
        # 4. Metrics: outcomes, a sample of conflicts, freshness of the newest record.
        for outcome, n in result.outcomes.items():
            if n:
                self.metrics.records.labels(outcome.value).inc(n)
        if result.owner_mismatch:
            self.metrics.owner_mismatch.inc(result.owner_mismatch)
        if result.expired:
            self.metrics.expired.inc(result.expired)
        if result.conflicting_offsets:
            logger.warning("conflicting duplicates in %s-%d at offsets %s", self.config.topic, partition,
                           result.conflicting_offsets,
                           extra=where(self.config.topic, partition, result.conflicting_offsets[0]))
        self.metrics.freshness.observe(max(0, now_ms() - result.ingest_ms) / 1000)
        self.metrics.apply_seconds.observe(time.monotonic() - started)
        return result

    def run(self, until_idle_s: float | None = None) -> None:
        """Poll, decode and step until stopped (SIGTERM, :meth:`stop`) or, with ``until_idle_s``,
        until no record has arrived for that long and Redis holds every partition of the topic
        applied to its end offset. Steps run on one worker thread, in submission order, so the
        next batch is decoded while Redis executes the previous one; per partition the order of
        steps is the order of offsets."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="speed-step") as steps:
            self._steps, self._in_flight = steps, deque()
            try:
                self._runtime.run(until_idle_s)
            finally:
                self._steps = None

    def handle(self, partition: int, records: list[Record]) -> None:
        for i in range(0, len(records), MAX_RECORDS_PER_STEP):
            chunk = records[i:i + MAX_RECORDS_PER_STEP]
            prepared = prepare(chunk)                                 # 1. on this thread
            future = self._steps.submit(self._step_with_retry, partition, chunk, prepared)
            self._in_flight.append((partition, future))
            self._settle(keep=MAX_STEPS_IN_FLIGHT)

    def tick(self, now: float, received: bool) -> None:
        self._settle(keep=MAX_STEPS_IN_FLIGHT if received else 0)
        self._rewind()
        if now - self._last_lag_check >= LAG_CHECK_S:
            self._record_lag(now)
            self._read_watermark()
            if not self._in_flight:
                self._verify_applied()

    def drain(self) -> None:
        """Every submitted step landed, and Redis still holds all it confirmed (else the
        partitions are rewound and the gap is applied again before the topic counts as done)."""
        self._settle(keep=0)
        self._verify_applied()

    def stored_next_offsets(self, partitions: list[int]) -> dict[int, int]:
        try:
            applied = self._store.applied_offsets(self.config.topic)
        except ServingStoreError as e:
            logger.warning("cannot read the applied offsets of %s (%s)", self.config.topic, e)
            return {}
        return {p: applied[p] + 1 for p in partitions if p in applied}

    def _applied_offsets_when_reachable(self) -> dict[int, int]:
        """Where to resume is only known from Redis: wait for it (a restart, a failover)."""
        return self._while_store_away(f"while reading where {self.config.topic} resumes",
                                      lambda: self._store.applied_offsets(self.config.topic))

    def _while_store_away(self, where: str, call):
        """Redis away (restart, failover): call again with backoff until it answers, or until the
        loop is stopping."""
        delay = 0.1
        while True:
            try:
                return call()
            except UnsafeStore:
                raise                   # not away but wrong (a state layout of another setting): waiting won't help
            except ServingStoreError as e:
                if self._runtime.stopping:
                    raise
                logger.warning("serving store unavailable %s (%s); retrying in %.1fs", where, e, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _read_watermark(self) -> None:
        try:
            watermark = self._store.published_watermark()
        except ServingStoreError as e:
            logger.warning("cannot read the published watermark (%s); buckets are kept meanwhile", e)
            return
        self._sweep_before = None if watermark is None else watermark - self.config.bucket_retention_ms

    def _lost(self, partition: int, applied: int, expected: int) -> None:
        logger.error("Redis lost applied steps of %s-%d: it holds offsets through %d, %d had been "
                     "applied; rewinding to offset %d", self.config.topic, partition, applied, expected,
                     applied + 1, extra=where(self.config.topic, partition, applied + 1))
        self.metrics.rewinds.inc()
        self._confirmed[partition] = applied
        self._resume_at[partition] = applied + 1
        with self._rewinds_lock:
            self._rewinds[partition] = applied

    def _verify_applied(self) -> bool:
        """A quiet partition has no step to notice that Redis lost its state: compare what Redis
        holds with what it confirmed, and rewind where it holds less. Only with no step in flight
        (the worker is idle). True if Redis holds everything it confirmed."""
        confirmed = {p: self._confirmed.get(p, -1) for p in self._assigned}
        try:
            held = self._store.applied_offsets(self.config.topic)
        except ServingStoreError as e:
            logger.warning("cannot verify the applied offsets of %s (%s)", self.config.topic, e)
            return False
        lost = {p: held.get(p, -1) for p, c in confirmed.items() if held.get(p, -1) < c}
        for partition, applied in lost.items():
            self._lost(partition, applied, confirmed[partition])
        self._rewind()
        return not lost

    def _rewind(self) -> None:
        """Seek partitions where Redis lost steps back to what it holds (here, on the polling
        thread: the consumer is not thread-safe)."""
        with self._rewinds_lock:
            rewinds, self._rewinds = self._rewinds, {}
        for partition, applied in rewinds.items():
            if partition not in self._assigned:
                continue
            if applied < 0:  # Redis lost all of it: from the log start, which retention may have moved
                start = self._consumer.beginning_offsets([partition]).get(partition, 0)
                if start > 0:
                    self._resume_at[partition] = start
            self._seek_after(partition, applied)

    def _settle(self, keep: int, commit: bool = True) -> None:
        """Wait until at most ``keep`` steps are in flight; then 5. Kafka's committed offset, for
        lag monitoring only (never from a group callback, where the client cannot wait)."""
        done: dict[int, int] = {}
        while len(self._in_flight) > keep or (self._in_flight and self._in_flight[0][1].done()):
            partition, future = self._in_flight.popleft()
            result = future.result()
            if result is not None:
                done[partition] = result.last_offset + 1
        if commit and done:
            self._failpoint("speed.before_kafka_commit")
            self._consumer.commit(done)

    def _step_with_retry(self, partition: int, records: Sequence[Record],
                         prepared: list[StepRecord]) -> StepResult | None:
        """Redis away (restart, failover): wait and apply the same records again. The step is
        idempotent per offset, so a step that did land before the error is skipped."""
        return self._while_store_away(f"at {self.config.topic}-{partition} offset {records[0].offset}",
                                      lambda: self._step(partition, records, prepared))

    def stop(self) -> None:
        self._runtime.stop()

    def _record_lag(self, now: float) -> None:
        self._last_lag_check = now
        if not self._assigned:
            return
        # Lag is what Redis has not applied yet, from what this member knows: asking the consumer
        # for a position it has not fetched from yet asks the group coordinator, which can take
        # seconds (a new group, a coordinator moving), and this runs on the polling thread.
        partitions = sorted(self._assigned)
        ends = self._consumer.end_offsets(partitions)
        unapplied = [p for p in partitions if self._confirmed.get(p, -1) < 0]
        begins = self._consumer.beginning_offsets(unapplied) if unapplied else {}
        for p in partitions:
            applied = self._confirmed.get(p, -1)
            next_offset = applied + 1 if applied >= 0 else begins.get(p, 0)
            self.metrics.lag.labels(str(p)).set(max(0, ends.get(p, 0) - next_offset))

