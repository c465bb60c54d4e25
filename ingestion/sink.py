"""The raw sink: Kafka → immutable Parquet master dataset, exactly once per offset.

Per partition, records are buffered by ingest hour and flushed as one range file when the
buffer is big or old enough, when the hour changes, and at shutdown; a revoked partition's buffer
is dropped (its new owner reads it again). :meth:`RawSink.flush` is the commit protocol; the views
file's rename commits a range, and only a member that Kafka's group coordinator still counts as
the partition's owner may do it (the fence).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.chunk import Chunk
from ingestion.dead_letters import DeadLetterWriter
from ingestion.dataset import resume_point, write_checkpoint
from ingestion.metrics import SinkMetrics
from viewcount.eventbatch import decode_events
from viewcount.failpoints import NONE as NO_FAILPOINTS, Failpoints
from adapters.kafka.exceptions import KafkaSeamError, NotOwner
from adapters.kafka.runtime import Gap, GroupRuntime, RuntimeConfig
from adapters.kafka.seam import Record, RecordConsumer, RecordProducer
from adapters.files.rawdata import read_progress
from viewcount.rawdata import QUARANTINE_ROOT, FlushProgress, origin_path, progress_path
from viewcount.rules import advance_ingest_time
from adapters.files.base import FileStore
from adapters.files.exceptions import StoreError
from viewcount.timeutil import hour_floor, now_ms
from viewcount.logfields import where

logger = logging.getLogger(__name__)

IDLE_CHECK_S = 5.0
RESTART_BACKOFF_S = (1.0, 30.0)   # a partition whose range the store refused starts again after this, doubling


@dataclass(frozen=True)
class SinkConfig:
    topic: str
    dlq_topic: str
    flush_records: int = 50_000
    flush_age_s: float = 30.0
    poll_timeout_s: float = 0.5
    max_poll_records: int = 5000
    flush_bytes: int = 64 << 20     # buffered values of all partitions: memory is bounded by bytes, not only records
    accept_gap: bool = False        # go on past offsets retention deleted unstored (--accept-gap)


@dataclass
class _Partition:
    next_offset: int | None
    ingest_ms: int | None
    chunk: Chunk | None = None
    flushed_offset: int = -1
    first_flush: bool = False    # nothing of the partition stored yet: its first file is its origin


class RawSink:
    """The raw sink's side of the consumer runtime (:class:`~adapters.kafka.runtime.PartitionHandler`)."""

    def __init__(self, config: SinkConfig, consumer: RecordConsumer, dlq_producer: RecordProducer,
                 store: FileStore, metrics: SinkMetrics | None = None,
                 on_gap: Callable[[Gap], None] | None = None, failpoint: Failpoints = NO_FAILPOINTS) -> None:
        self.config = config
        self._consumer = consumer
        self._dead_letters = DeadLetterWriter(dlq_producer, config.dlq_topic)
        self._store = store
        self.metrics = metrics or SinkMetrics()
        self._failpoint = failpoint
        self._partitions: dict[int, _Partition] = {}
        self._buffered_bytes = 0        # record values held in chunks, over every partition
        # Partitions whose buffer was given up (fence, store refusing writes) → when to start them
        # again from the store; and the pause before the next try, doubled by every failure in a
        # row and forgotten at the next committed range.
        self._restarts: dict[int, float] = {}
        self._backoff: dict[int, float] = {}
        self._last_idle_check = 0.0
        self._runtime = GroupRuntime(
            RuntimeConfig(config.topic, "raw sink", config.poll_timeout_s, config.max_poll_records,
                          accept_gap=config.accept_gap),
            consumer, self, on_gap=on_gap)

    def run(self, until_idle_s: float | None = None) -> None:
        """Consume until stopped (SIGTERM/SIGINT) or, with ``until_idle_s``, until no record has
        arrived for that long and every partition of the topic is flushed to its end offset."""
        self._runtime.run(until_idle_s)

    def stop(self) -> None:
        self._runtime.stop()

    # --- group membership (on the polling thread, after the poll that reported it) ---------

    def assigned(self, partitions: list[int]) -> dict[int, int | None]:
        starts = {}
        for p in partitions:
            resume = resume_point(self._store, self.config.topic, p)
            self._partitions[p] = _Partition(resume.next_offset, resume.ingest_ms,
                                             flushed_offset=(resume.next_offset or 0) - 1,
                                             first_flush=resume.next_offset is None)
            starts[p] = resume.next_offset
            logger.info("assigned %s-%d: resuming at offset %s (ingest time %s)",
                        self.config.topic, p, resume.next_offset or "beginning", resume.ingest_ms,
                        extra=where(self.config.topic, p, resume.next_offset))
        return starts

    def revoked(self, partitions: list[int]) -> None:
        # Buffered records are dropped, not flushed: the partition may already be read by its new
        # owner from the last committed file, and a late flush here would overlap its ranges.
        for p in partitions:
            state = self._partitions.pop(p, None)
            if state is not None and state.chunk is not None:
                self._buffered_bytes -= state.chunk.value_bytes
                logger.info("%s-%d: dropped %d buffered records (offsets %d..%d), which its owner reads "
                            "again from the last committed file", self.config.topic, p, state.chunk.size,
                            state.chunk.range.first, state.chunk.range.last,
                            extra=where(self.config.topic, p, state.chunk.range.first))

    # --- the loop's work ----------------------------------------------------------------------

    def tick(self, now: float, received: bool) -> None:
        self._restart_due(now)
        self._flush_due(now)
        if now - self._last_idle_check >= IDLE_CHECK_S:
            self._check_idle(now)

    def drain(self) -> None:
        self.flush_all()
        self._check_idle(time.monotonic())

    def stored_next_offsets(self, partitions: list[int]) -> dict[int, int]:
        found = {p: read_progress(self._store, self.config.topic, p) for p in partitions}
        return {p: progress.flushed_offset + 1 for p, progress in found.items() if progress is not None}

    def handle(self, partition: int, records: list[Record]) -> None:
        state = self._partitions.get(partition)
        if state is None or not records:
            return  # revoked meanwhile; its new owner reads these
        if state.next_offset is not None and records[0].offset < state.next_offset:
            records = [r for r in records if r.offset >= state.next_offset]  # committed already (a re-delivery after a seek)
        start = 0
        while start < len(records):
            # The run of records that goes into the current chunk: up to an ingest hour's end, the
            # chunk's record bound, or the byte budget of every partition's buffers.
            end, ingest_ms, hour_ms = self._run(state, records, start)
            if end == start:
                # The next record opens another ingest hour: flush this one first. Its progress
                # says everything before the new record's ingest time is stored.
                state.ingest_ms = ingest_ms
                if not self.flush(partition, state):
                    return  # fenced: the partition starts again from the store
                continue
            run = records[start:end]
            if state.chunk is None:
                state.chunk = Chunk(self.config.topic, partition, hour_ms, run[0].offset)
            ingest_times = _ingest_times(state.ingest_ms, run)
            self._buffered_bytes += state.chunk.extend(run, ingest_times, decode_events([r.value for r in run]))
            state.ingest_ms, state.next_offset = ingest_ms, run[-1].offset + 1
            start = end
            if state.chunk.size >= self.config.flush_records:
                self.flush(partition, state)
            elif self._buffered_bytes >= self.config.flush_bytes:
                self._flush_largest()
            if self._partitions.get(partition) is not state:
                return  # fenced: the partition starts again from the store

    def _run(self, state: _Partition, records: list[Record], start: int) -> tuple[int, int | None, int | None]:
        chunk = state.chunk
        return next_run(records, start, state.ingest_ms, chunk.hour_ms if chunk is not None else None,
                        self.config.flush_records - (chunk.size if chunk is not None else 0),
                        self.config.flush_bytes - self._buffered_bytes)

    def _flush_largest(self) -> None:
        """Over the byte budget: flush the partition holding the most, which frees the most."""
        partition, state = max(((p, s) for p, s in self._partitions.items() if s.chunk is not None),
                               key=lambda ps: ps[1].chunk.value_bytes)
        self.flush(partition, state)

    def _flush_due(self, now: float) -> None:
        for partition, state in list(self._partitions.items()):
            if state.chunk is not None and now - state.chunk.started_at >= self.config.flush_age_s:
                self.flush(partition, state)

    def flush_all(self) -> None:
        for partition, state in list(self._partitions.items()):
            if state.chunk is not None:
                self.flush(partition, state)

    # --- the commit protocol -------------------------------------------------------------

    def flush(self, partition: int, state: _Partition) -> bool:
        """Commit one buffered range of one partition. A crash at any step leaves either no
        views file (the range is consumed again from Kafka) or a complete one (it is skipped).
        False when the fence refused the commit: nothing was published, and the partition starts
        again from what the store holds."""
        chunk, started = state.chunk, time.monotonic()
        rng = chunk.range
        # 1. Encode both files first, so a bad record fails before anything is written.
        views, quarantine = chunk.views_parquet(), chunk.quarantine_parquet()
        self._failpoint("sink.encoded")
        # 2. Dead letters go out, confirmed, before the commit: a crash re-sends them, never loses
        #    them; one too large to carry goes as its location in the quarantine file.
        if chunk.invalid_records:
            self._dead_letters.write(chunk.invalid_records, f"{self._store.url}/{rng.path(QUARANTINE_ROOT)}")
            self.metrics.dead_letters.inc(len(chunk.invalid_records))
            self._failpoint("sink.dead_letters_sent")
        # 3. The quarantine file, if any, before the commit: an orphan is removed on resume.
        # 4. Fence, then commit. The views file is written under a temporary name and renamed to
        #    its range's name (whole, or not at all) only once Kafka took the range's end offset
        #    from this member: the group coordinator refuses a commit from a member whose
        #    generation is over (evicted while it stalled, or losing the partition to a rebalance
        #    it has not seen yet), so a member that lost the partition publishes nothing.
        #    Refused (the fence, a store that takes no writes): the buffer is given up, and the
        #    partition read again from what the store holds.
        try:
            if quarantine is not None and self._store.put_new(rng.path(QUARANTINE_ROOT), quarantine):
                self.metrics.files.labels("quarantine").inc()
                self.metrics.bytes.labels("quarantine").inc(len(quarantine))
                self._failpoint("sink.quarantine_written")
            committed = self._store.put_new(rng.path(), views, before_commit=lambda: self._fence(partition, rng.last))
        except (KafkaSeamError, StoreError) as e:
            self._give_up(partition, chunk, e)
            return False
        self._failpoint("sink.committed")
        self._backoff.pop(partition, None)
        if committed:
            self.metrics.files.labels("views").inc()
            self.metrics.bytes.labels("views").inc(len(views))
        else:
            logger.warning("range %s already committed; skipped", rng.path())
        self.metrics.records.labels("valid").inc(chunk.size - len(chunk.invalid_records))
        self.metrics.records.labels("invalid").inc(len(chunk.invalid_records))
        state.chunk, state.flushed_offset = None, rng.last
        self._buffered_bytes -= chunk.value_bytes
        # 5. The partition's origin (once: its first offset ever stored, so that a deleted first
        #    file is a hole the batch can see), the resume hint, the flush progress. A store that
        #    refuses them now only delays them: the range is committed, a resume finds it without
        #    the hint, and the next flush or idle check writes them.
        try:
            if state.first_flush:
                origin = json.dumps({"first_offset": rng.first}).encode()
                self._store.put_new(origin_path(self.config.topic, partition), origin)
                state.first_flush = False
            write_checkpoint(self._store, rng, chunk.max_ingest_ms)
            self._write_progress(partition, state, idle=False)
        except StoreError as e:
            logger.warning("committed %s, but the raw store refused the partition's progress (%s); the next "
                           "flush writes it", rng.path(), e, extra=where(self.config.topic, partition, rng.last))
        self._failpoint("sink.progress_written")
        # 6. Kafka's committed offset (for lag monitoring only) was recorded by the fence, unless
        #    the range was there already.
        if not committed:
            self._consumer.commit({partition: rng.last + 1})
        self.metrics.flush_seconds.observe(time.monotonic() - started)
        logger.debug("committed %s (%d records) in %.3fs", rng.path(), chunk.size, time.monotonic() - started)
        return True

    def _fence(self, partition: int, last_offset: int) -> None:
        self._consumer.commit_owned({partition: last_offset + 1})
        self._failpoint("sink.fenced")

    def _give_up(self, partition: int, chunk: Chunk, error: KafkaSeamError | StoreError) -> None:
        """A range could not be committed: drop the buffer and read the partition again from the
        store, as its owner will (this member, if the rebalance leaves it the partition)."""
        if isinstance(error, StoreError):
            reason, why = "store_unavailable", f"the raw store refused it ({error})"
        else:
            reason = "not_owner" if isinstance(error, NotOwner) else "ownership_unconfirmed"
            why = f"this member's ownership of {self.config.topic}-{partition} was not confirmed ({error})"
        self.metrics.unpublished.labels(reason).inc()
        logger.warning("not publishing %s (%d records): %s; reading offsets %d.. again from the store",
                       chunk.range.path(), chunk.size, why, chunk.range.first,
                       extra=where(self.config.topic, partition, chunk.range.first))
        self.revoked([partition])
        # Held back at the range's start until then, so that nothing past it counts as read (the
        # until-idle check compares positions with the end offsets).
        try:
            self._consumer.seek(partition, chunk.range.first)
            self._consumer.pause(partition)
        except KafkaSeamError as e:   # already gone from this member: the next poll revokes it
            logger.info("%s-%d: %s", self.config.topic, partition, e)
        # At the next tick when another member owns it now; after a growing pause while Kafka or
        # the store cannot answer. Never at once: this poll's later records of the partition may
        # still be handed over, and must find it gone, not started again from the store (they
        # would open a range past the refused one, and the store's records before them, read
        # again, would count as done: a hole).
        self._restarts[partition] = time.monotonic() + (0.0 if reason == "not_owner" else self._pause(partition))

    def _pause(self, partition: int) -> float:
        delay = self._backoff.get(partition, RESTART_BACKOFF_S[0])
        self._backoff[partition] = min(delay * 2, RESTART_BACKOFF_S[1])
        return delay

    def _restart_due(self, now: float) -> None:
        """Start given-up partitions again where the store says, once their pause is over; while
        the store cannot say, try again after a longer one."""
        for partition, at in list(self._restarts.items()):
            if now < at:
                continue
            try:
                self._runtime.restart([partition])
            except (StoreError, KafkaSeamError) as e:
                delay = self._pause(partition)
                logger.warning("cannot start %s-%d again yet (%s); trying again in %.0fs", self.config.topic,
                               partition, e, delay, extra=where(self.config.topic, partition, None))
                self._restarts[partition] = now + delay
                continue
            del self._restarts[partition]

    # --- progress ---------------------------------------------------------------------------

    def _write_progress(self, partition: int, state: _Partition, idle: bool) -> None:
        wall = now_ms()
        complete_before = state.ingest_ms if state.ingest_ms is not None else 0
        progress = FlushProgress(self.config.topic, partition, state.flushed_offset, complete_before,
                                 wall if idle else None, wall)
        self._store.put(progress_path(self.config.topic, partition), progress.to_json())
        self.metrics.progress_age.labels(str(partition)).set(max(0, wall - complete_before) / 1000)

    def _check_idle(self, now: float) -> None:
        """Record lag, and for partitions that are caught up with nothing buffered, the wall clock."""
        self._last_idle_check = now
        if not self._partitions:
            return
        ends = self._consumer.end_offsets(sorted(self._partitions))
        for partition, state in self._partitions.items():
            position = self._consumer.position(partition)
            lag = max(0, ends.get(partition, position) - position)
            self.metrics.lag.labels(str(partition)).set(lag)
            if lag == 0 and state.chunk is None:
                try:
                    self._write_progress(partition, state, idle=True)
                except StoreError as e:
                    logger.warning("the raw store refused the idle progress of %s-%d (%s); written at the next "
                                   "check", self.config.topic, partition, e,
                                   extra=where(self.config.topic, partition, state.flushed_offset))


def _ingest_times(running_ms: int | None, records: list[Record]) -> list[int]:
    """CONTRACT §1: each record's ingest time, the running maximum of its partition's timestamps."""
    out = []
    for record in records:
        running_ms = advance_ingest_time(running_ms, record.timestamp_ms)
        out.append(running_ms)
    return out


def next_run(records: list[Record], start: int, ingest_ms: int | None, hour_ms: int | None, room: int,
             room_bytes: int) -> tuple[int, int | None, int | None]:
    """The run of ``records`` from ``start`` that one chunk takes: records of one ingest hour
    (``hour_ms``, the chunk's; None for a new chunk), at most ``room`` of them, and none after the
    one whose value uses up ``room_bytes``. Returns where it ends, the running ingest time at its
    end (for an empty run, at the record that opens another hour), and its ingest hour. Pure."""
    end = start
    while end < len(records) and end - start < room:
        record = records[end]
        advanced = advance_ingest_time(ingest_ms, record.timestamp_ms)
        hour = hour_floor(advanced)
        if hour_ms is not None and hour != hour_ms:
            return end, (advanced if end == start else ingest_ms), hour_ms
        ingest_ms, hour_ms, end = advanced, hour, end + 1
        room_bytes -= len(record.value or b"")
        if room_bytes <= 0:
            break
    return end, ingest_ms, hour_ms
