"""A range whose fence is refused is given up, and its partition started again from the store at
the next tick: never in the middle of a poll, whose later records of that partition would then
open a range past the refused one and leave a hole."""

from __future__ import annotations

import json

from adapters.files.local import LocalFileStore, LocalStoreConfig
from adapters.kafka.exceptions import NotOwner
from adapters.kafka.seam import Record
from ingestion.metrics import SinkMetrics
from ingestion.sink import RawSink, SinkConfig
from tests.adapters.kafka.test_runtime import ScriptedConsumer
from tests.ingestion.conftest import rows
from viewcount.timeutil import format_ms, now_ms

NOW = now_ms()


def view(partition: int, offset: int) -> bytes:
    return json.dumps({"event_id": f"e{partition}-{offset}", "video_id": f"v{partition}", "creator_id": "c",
                       "viewer_id": "u", "event_time": format_ms(NOW - 1000), "watch_ms": 40000},
                      separators=(",", ":")).encode()


class ViewsConsumer(ScriptedConsumer):
    """Valid views at the wall clock's time; a seek moves the position; the first fence of
    ``refuse_once`` is refused, as for a member that lost the partition."""

    def __init__(self, logs, script, refuse_once: int) -> None:
        super().__init__(logs, script)
        self.refuse_once = refuse_once

    def poll(self, timeout_s, max_records=None):
        out = super().poll(timeout_s, max_records)
        return {p: [Record("t", p, r.offset, NOW, None, view(p, r.offset)) for r in records]
                for p, records in out.items()}

    def seek(self, partition, offset) -> None:
        self.positions[partition] = offset

    def commit_owned(self, offsets) -> None:
        if self.refuse_once in offsets:
            self.refuse_once = None
            raise NotOwner("the group coordinator refused it (ILLEGAL_GENERATION)")


def test_a_partition_given_up_mid_poll_is_read_again_whole(tmp_path):
    def more(c):
        c.logs.update({0: 10, 1: 20})

    # Poll 2 buffers partition 1's offsets 0..9. Poll 3 brings 0's 0..9, then 1's 10..19; handling
    # partition 0 goes over the byte budget, which flushes partition 1 (the largest), whose fence
    # is refused: its offsets 10..19 of that same poll must not be taken.
    consumer = ViewsConsumer({0: 0, 1: 10}, [lambda c: c.give(0, 1), more], refuse_once=1)
    store = LocalFileStore(LocalStoreConfig(str(tmp_path)))
    bytes_of_ten = sum(len(view(1, o)) for o in range(10))
    sink = RawSink(SinkConfig("t", "t.dlq", flush_bytes=bytes_of_ten + 400), consumer, None, store, SinkMetrics())
    sink.run(until_idle_s=0)
    stored = sorted((row["partition"], row["offset"]) for row in rows(store))
    assert stored == [(0, o) for o in range(10)] + [(1, o) for o in range(20)]
    assert sink.metrics.unpublished.labels("not_owner")._value.get() == 1


def test_a_refused_range_takes_the_ranges_sealed_after_it_along(tmp_path):
    """Three ranges of one partition sealed in one poll, encoded side by side: the fence refuses
    the oldest, so the two after it must not be committed either (offsets 0..9 would be a hole
    under them); all thirty are read again and stored once."""
    consumer = ViewsConsumer({0: 30}, [lambda c: c.give(0)], refuse_once=0)
    store = LocalFileStore(LocalStoreConfig(str(tmp_path)))
    sink = RawSink(SinkConfig("t", "t.dlq", flush_records=10, encode_threads=3), consumer, None, store,
                   SinkMetrics())
    sink.run(until_idle_s=0)
    assert sorted(row["offset"] for row in rows(store)) == list(range(30))
    assert sink.metrics.unpublished.labels("not_owner")._value.get() == 1
    assert sink._buffered_bytes == 0
