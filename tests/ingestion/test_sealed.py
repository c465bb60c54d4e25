"""Sealed ranges are encoded beside the reading thread and committed oldest first; a range's
progress says what the partition's ingest time said when it was sealed, not when it committed."""

from __future__ import annotations

import threading

from adapters.files.local import LocalFileStore, LocalStoreConfig
from adapters.kafka.seam import Record
from ingestion.chunk import Chunk
from ingestion.metrics import SinkMetrics
from ingestion.sealed import SealedRanges
from ingestion.sink import RawSink, SinkConfig
from tests.adapters.kafka.test_runtime import ScriptedConsumer
from tests.ingestion.test_give_up import view
from viewcount.events import parse_event
from viewcount.rawdata import FlushProgress, progress_path
from viewcount.timeutil import HOUR_MS, hour_floor, now_ms

HOUR = hour_floor(now_ms()) - 2 * HOUR_MS


def chunk(partition: int, first: int, count: int = 3) -> Chunk:
    c = Chunk("t", partition, HOUR, first)
    for o in range(first, first + count):
        c.add(Record("t", partition, o, HOUR + o, None, view(partition, o)), HOUR + o, parse_event(view(partition, o)))
    return c


def test_sealed_ranges_come_out_oldest_first_once_encoded():
    sealed = SealedRanges(threads=2)
    try:
        sealed.seal(0, "a", chunk(0, 0), HOUR + 3)
        sealed.seal(1, "b", chunk(1, 0), HOUR + 3)
        assert sealed.full() and len(sealed) == 2
        first = sealed.next(wait=True)
        assert (first.partition, first.owner, first.complete_before) == (0, "a", HOUR + 3)
        assert first.files.result().views.startswith(b"PAR1") and first.files.result().quarantine is None
        assert sealed.next(wait=True).partition == 1
        assert sealed.next(wait=True) is None and sealed.next(wait=False) is None
    finally:
        sealed.close()


def test_a_range_still_encoding_is_not_handed_out_unless_waited_for():
    sealed = SealedRanges(threads=1)
    gate = threading.Event()
    try:
        sealed._pool.submit(gate.wait)       # the only worker is busy until the gate opens
        sealed.seal(0, "a", chunk(0, 0), None)
        assert sealed.next(wait=False) is None and len(sealed) == 1
        gate.set()
        assert sealed.next(wait=True).partition == 0
    finally:
        gate.set()
        sealed.close()


def test_dropping_a_partition_forgets_its_ranges_only():
    sealed = SealedRanges(threads=2)
    try:
        for partition, first in ((0, 0), (1, 0), (0, 3)):
            sealed.seal(partition, partition, chunk(partition, first), None)
        assert sealed.holds(0) and sealed.holds(1)
        assert [r.chunk.first_offset for r in sealed.drop(0)] == [0, 3]
        assert not sealed.holds(0) and len(sealed) == 1
        assert sealed.next(wait=True).partition == 1
    finally:
        sealed.close()


class ProgressLog(LocalFileStore):
    """A local store that keeps every progress it was given, in order."""

    def __init__(self, root: str) -> None:
        super().__init__(LocalStoreConfig(root))
        self.progress: list[FlushProgress] = []

    def put(self, path, data) -> None:
        if path == progress_path("t", 0):
            self.progress.append(FlushProgress.from_json(data))
        super().put(path, data)


def test_a_range_committed_after_more_records_arrived_keeps_the_progress_of_its_seal(tmp_path):
    """Offsets 0..4 lie in one ingest hour, 5.. in the next: the hour change seals 0..4 with the
    promise "everything before offset 5's ingest time is stored". Offsets 8..9, later still, are
    read before that range commits; its progress must not promise them."""
    def record(offset: int, at: int) -> Record:
        return Record("t", 0, offset, at, None, view(0, offset))

    times = [HOUR + 10 * o for o in range(5)] + [HOUR + HOUR_MS + o for o in range(3)]
    later = [HOUR + HOUR_MS + 60_000, HOUR + HOUR_MS + 120_000]
    store = ProgressLog(str(tmp_path))
    sink = RawSink(SinkConfig("t", "t.dlq"), ScriptedConsumer({0: 10}, []), None, store, SinkMetrics())
    try:
        sink.assigned([0])
        sink.handle(0, [record(o, t) for o, t in enumerate(times)])
        sink.handle(0, [record(8 + i, t) for i, t in enumerate(later)])
        sink.flush_all()
    finally:
        sink.close()
    assert [(p.flushed_offset, p.complete_before_ms) for p in store.progress] == \
        [(4, HOUR + HOUR_MS), (9, later[-1])]
