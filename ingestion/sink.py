"""The raw sink: Kafka → immutable Parquet master dataset, exactly once per offset.

Per partition, records are buffered by ingest hour and flushed as one range file when the
buffer is big or old enough, when the hour changes, and at shutdown; a revoked partition's buffer
is dropped (its new owner reads it again). A flush seals the buffer: a worker thread encodes it
while the sink reads on, and :meth:`RawSink.commit` then publishes it (the commit protocol). The
views file's rename commits a range, and only a member that Kafka's group coordinator still
counts as the partition's owner may do it (the fence).
"""

from __future__ import annotations

import json
import logging
import time
from bisect import bisect_left
from itertools import accumulate
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.chunk import Chunk
from ingestion.dead_letters import DeadLetterWriter
from ingestion.dataset import resume_point, write_checkpoint
from ingestion.metrics import SinkMetrics
from ingestion.sealed import SealedRange, SealedRanges
from viewcount.eventbatch import decode_events
from viewcount.failpoints import NONE as NO_FAILPOINTS, Failpoints
from adapters.kafka.exceptions import KafkaSeamError, NotOwner
from adapters.kafka.runtime import Gap, GroupRuntime, RuntimeConfig
from adapters.kafka.seam import Record, RecordConsumer, RecordProducer
from adapters.files.rawdata import read_progress
from viewcount.rawdata import QUARANTINE_ROOT, FlushProgress, origin_path, progress_path
from viewcount.rules import ingest_times
from adapters.files.base import FileStore
from adapters.files.exceptions import StoreError
from viewcount.timeutil import HOUR_MS, hour_floor, now_ms
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
    encode_threads: int = 2         # ranges encoded to Parquet at once, beside the polling thread


@dataclass
class _Partition:
    next_offset: int | None
    ingest_ms: int | None
    chunk: Chunk | None = None     # buffered, not sealed yet
    flushed_offset: int = -1       # the last offset committed
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
        self._buffered_bytes = 0        # record values held in chunks, sealed or not, over every partition
        self._sealed = SealedRanges(config.encode_threads)
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
        try:
            self._runtime.run(until_idle_s)
        finally:
            self.close()

    def stop(self) -> None:
        self._runtime.stop()

    def close(self) -> None:
        """Stop the encoding threads; a range sealed and not committed is read again from Kafka."""
        self._sealed.close()

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
            if state is None:
                continue
            chunks = [r.chunk for r in self._sealed.drop(p)] + ([state.chunk] if state.chunk is not None else [])
            if chunks:
                self._buffered_bytes -= sum(c.value_bytes for c in chunks)
                logger.info("%s-%d: dropped %d buffered records (offsets %d..%d), which its owner reads "
                            "again from the last committed file", self.config.topic, p, sum(c.size for c in chunks),
                            chunks[0].range.first, chunks[-1].range.last,
                            extra=where(self.config.topic, p, chunks[0].range.first))

    # --- the loop's work ----------------------------------------------------------------------

    def tick(self, now: float, received: bool) -> None:
        self._commit_encoded(wait=False)
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
        values = [r.value for r in records]
        times = ingest_times(state.ingest_ms, [r.timestamp_ms for r in records])
        value_ends = list(accumulate([len(v) if v else 0 for v in values]))
        start = 0
        while start < len(records):
            # The run of records that goes into the current chunk: up to an ingest hour's end, the
            # chunk's record bound, or the byte budget of every partition's buffers.
            chunk = state.chunk
            end, ingest_ms, hour_ms = next_run(
                times, value_ends, start, state.ingest_ms, chunk.hour_ms if chunk is not None else None,
                self.config.flush_records - (chunk.size if chunk is not None else 0),
                self.config.flush_bytes - self._buffered_bytes)
            if end == start:
                # The next record opens another ingest hour: flush this one first. Its progress
                # says everything before the new record's ingest time is stored.
                state.ingest_ms = ingest_ms
                self.flush(partition, state)
                if self._partitions.get(partition) is not state:
                    return  # fenced: the partition starts again from the store
                continue
            run = records[start:end]
            if state.chunk is None:
                state.chunk = Chunk(self.config.topic, partition, hour_ms, run[0].offset)
            self._buffered_bytes += state.chunk.extend(run, times[start:end], decode_events(values[start:end]))
            state.ingest_ms, state.next_offset = ingest_ms, run[-1].offset + 1
            start = end
            if state.chunk.size >= self.config.flush_records:
                self.flush(partition, state)
            elif self._buffered_bytes >= self.config.flush_bytes:
                self._relieve_memory()
            if self._partitions.get(partition) is not state:
                return  # fenced: the partition starts again from the store

    def _relieve_memory(self) -> None:
        """Over the byte budget: seal the partition holding the most, then commit sealed ranges,
        oldest first, until back under it."""
        holding = [(p, s) for p, s in self._partitions.items() if s.chunk is not None]
        if holding:
            self.flush(*max(holding, key=lambda ps: ps[1].chunk.value_bytes))
        while len(self._sealed) and self._buffered_bytes >= self.config.flush_bytes:
            self._commit_encoded(wait=True, limit=1)

    def _flush_due(self, now: float) -> None:
        for partition, state in list(self._partitions.items()):
            if (state.chunk is not None and now - state.chunk.started_at >= self.config.flush_age_s
                    and self._partitions.get(partition) is state):
                self.flush(partition, state)

    def flush_all(self) -> None:
        """Seal every buffer and commit every sealed range."""
        for partition, state in list(self._partitions.items()):
            if state.chunk is not None and self._partitions.get(partition) is state:
                self.flush(partition, state)
        self._commit_encoded(wait=True)

    def flush(self, partition: int, state: _Partition) -> None:
        """Seal the partition's buffer as a range: its dead letters are sent, a worker encodes its
        files, and a later tick (or the next flush, when as many ranges as workers wait already)
        commits it. Its progress will say what the partition's running ingest time says now."""
        if self._sealed.full():
            self._commit_encoded(wait=True, limit=1)
            if self._partitions.get(partition) is not state:
                return  # its own older range was refused: the buffer is gone
        chunk, state.chunk = state.chunk, None
        dead_letters = None
        if chunk.invalid_records:
            quarantine_url = f"{self._store.url}/{chunk.range.path(QUARANTINE_ROOT)}"
            dead_letters = self._dead_letters.send(chunk.invalid_records, quarantine_url)
        self._sealed.seal(partition, state, chunk, state.ingest_ms, dead_letters)

    def _commit_encoded(self, wait: bool, limit: int | None = None) -> None:
        """Commit sealed ranges, oldest first, as their files are encoded (waiting for them when
        ``wait``), at most ``limit`` of them."""
        done = 0
        while limit is None or done < limit:
            sealed = self._sealed.next(wait)
            if sealed is None:
                return
            done += 1
            if self._partitions.get(sealed.partition) is sealed.owner:
                self.commit(sealed)

    # --- the commit protocol -------------------------------------------------------------

    def commit(self, sealed: SealedRange) -> bool:
        """Commit one sealed range of one partition. A crash at any step leaves either no
        views file (the range is consumed again from Kafka) or a complete one (it is skipped).
        False when the fence refused the commit: nothing was published, and the partition starts
        again from what the store holds, its later sealed and buffered records given up too."""
        partition, state, chunk = sealed.partition, sealed.owner, sealed.chunk
        assert isinstance(state, _Partition)
        rng = chunk.range
        # 1. Both files were encoded first (by a worker, from the sealed chunk), so a bad record
        #    fails here, before anything is written.
        encoded = sealed.files.result()
        views, quarantine = encoded.views, encoded.quarantine
        self._failpoint("sink.encoded")
        # 2. Dead letters, sent at the seal, are confirmed before the commit: a crash re-sends them,
        #    never loses them; one too large to carry goes as its location in the quarantine file.
        if sealed.dead_letters is not None:
            self._dead_letters.confirm(sealed.dead_letters)
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
            self._buffered_bytes -= chunk.value_bytes
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
        state.flushed_offset = rng.last
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
            self._write_progress(partition, state.flushed_offset, sealed.complete_before, idle=False)
        except StoreError as e:
            logger.warning("committed %s, but the raw store refused the partition's progress (%s); the next "
                           "flush writes it", rng.path(), e, extra=where(self.config.topic, partition, rng.last))
        self._failpoint("sink.progress_written")
        # 6. Kafka's committed offset (for lag monitoring only) was recorded by the fence, unless
        #    the range was there already.
        if not committed:
            self._consumer.commit({partition: rng.last + 1})
        self.metrics.flush_seconds.observe(time.monotonic() - sealed.sealed_at)
        logger.debug("committed %s (%d records) %.3fs after it was sealed", rng.path(), chunk.size,
                     time.monotonic() - sealed.sealed_at)
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

    def _write_progress(self, partition: int, flushed_offset: int, ingest_ms: int | None, idle: bool) -> None:
        wall = now_ms()
        complete_before = ingest_ms if ingest_ms is not None else 0
        progress = FlushProgress(self.config.topic, partition, flushed_offset, complete_before,
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
            if lag == 0 and state.chunk is None and not self._sealed.holds(partition):
                try:
                    self._write_progress(partition, state.flushed_offset, state.ingest_ms, idle=True)
                except StoreError as e:
                    logger.warning("the raw store refused the idle progress of %s-%d (%s); written at the next "
                                   "check", self.config.topic, partition, e,
                                   extra=where(self.config.topic, partition, state.flushed_offset))


def next_run(times: list[int], value_ends: list[int], start: int, ingest_ms: int | None, hour_ms: int | None,
             room: int, room_bytes: int) -> tuple[int, int | None, int | None]:
    """The run of a poll's records from ``start`` that one chunk takes: records of one ingest hour
    (``hour_ms``, the chunk's; None for a new chunk), at most ``room`` of them, and none after the
    one whose value uses up ``room_bytes``. ``times`` are the records' ingest times (never
    decreasing), ``value_ends`` the value bytes of the records up to and including each, and
    ``ingest_ms`` the running ingest time before ``start``. Returns where the run ends, the running
    ingest time at its end (for an empty run, that of the record that opens another hour), and its
    ingest hour. Pure."""
    if room <= 0:
        return start, ingest_ms, hour_ms
    hour = hour_floor(times[start]) if hour_ms is None else hour_ms
    next_hour = bisect_left(times, hour + HOUR_MS, start)
    if next_hour == start:
        return start, times[start], hour
    before = value_ends[start - 1] if start else 0
    used_up = bisect_left(value_ends, before + room_bytes, start) + 1
    end = min(next_hour, start + room, used_up, len(times))
    return end, times[end - 1], hour
