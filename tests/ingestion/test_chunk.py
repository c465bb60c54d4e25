"""A chunk takes records a column at a time; the sink cuts a poll into the runs chunks take."""

from __future__ import annotations

import json
from itertools import accumulate

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.kafka.seam import Record
from ingestion.chunk import Chunk
from ingestion.sink import next_run
from viewcount.eventbatch import decode_events
from viewcount.events import parse_event
from viewcount.rules import ingest_times
from viewcount.timeutil import HOUR_MS

T = "video.views.v1"
HOUR = 1_795_255_200_000


def view(offset: int) -> bytes:
    # Every other one as most producers write it (compact, milliseconds), which the batch decoder
    # reads a column at a time; the others, with spaces and whole seconds, go to parse_event.
    event = {"event_id": f"e{offset}", "video_id": f"v{offset % 3}", "creator_id": "c", "viewer_id": "u",
             "event_time": "2026-11-21T10:00:00Z", "watch_ms": 40000}
    if offset % 4 == 2:
        return json.dumps({**event, "event_time": "2026-11-21T10:00:00.000Z"}, separators=(",", ":")).encode()
    return json.dumps(event).encode()


def record(offset: int, timestamp_ms: int, value: bytes | None = None) -> Record:
    return Record(T, 0, offset, timestamp_ms, b"k", view(offset) if value is None else value,
                  (("src", b"web"),) if offset % 2 else ())


def test_a_chunk_extended_twice_holds_each_record_in_offset_order_in_its_file():
    c = Chunk(T, 0, HOUR, 10)
    first = [record(10, HOUR + 5), record(11, HOUR + 3, b"junk"), record(12, HOUR + 9)]
    second = [record(13, HOUR + 9, b'{"event_id": 1}'), record(14, HOUR + 12)]
    assert c.extend(first, [HOUR + 5, HOUR + 5, HOUR + 9], decode_events([r.value for r in first])) == \
        sum(len(r.value) for r in first)
    c.extend(second, [HOUR + 9, HOUR + 12], decode_events([r.value for r in second]))

    views = pq.read_table(pa.BufferReader(c.views_parquet())).to_pydict()
    assert views["offset"] == [10, 12, 14]
    assert views["event_id"] == ["e10", "e12", "e14"] and views["video_id"] == ["v1", "v0", "v2"]
    assert views["event_time"] == [views["event_time"][0]] * 3
    assert [t.timestamp() * 1000 for t in views["ingest_time"]] == [HOUR + 5, HOUR + 9, HOUR + 12]
    assert views["headers"] == [[], [], []] and views["key"] == [b"k"] * 3
    quarantine = pq.read_table(pa.BufferReader(c.quarantine_parquet())).to_pydict()
    assert quarantine["offset"] == [11, 13] and quarantine["value"] == [b"junk", b'{"event_id": 1}']
    assert quarantine["headers"] == [[{"key": "src", "value": b"web"}]] * 2
    assert [reason for reason in quarantine["reason"]] == [parse_event(b"junk").reason.value,
                                                          parse_event(b'{"event_id": 1}').reason.value]
    assert [r.offset for r, _ in c.invalid_records] == [11, 13]
    assert (c.size, c.last_offset, c.max_ingest_ms) == (5, 14, HOUR + 12)
    assert c.value_bytes == sum(len(r.value) for r in first + second)


def run_of(records: list[Record], start: int, ingest_ms: int | None, hour_ms: int | None, room: int,
           room_bytes: int) -> tuple[int, int | None, int | None]:
    """next_run over a poll's records, their ingest times and value ends computed as the sink does."""
    times = ingest_times(None, [r.timestamp_ms for r in records])
    return next_run(times, list(accumulate(len(r.value or b"") for r in records)), start, ingest_ms, hour_ms, room,
                    room_bytes)


def test_a_run_ends_where_the_running_ingest_time_enters_another_hour():
    # The third record's own timestamp is in the next hour; the fourth's is earlier, but the running
    # maximum keeps it there too.
    records = [record(0, HOUR + 1), record(1, HOUR + 2), record(2, HOUR + HOUR_MS), record(3, HOUR + 3)]
    assert run_of(records, 0, None, None, 100, 1 << 20) == (2, HOUR + 2, HOUR)
    # From the chunk's point of view the next record opens another hour: an empty run, and the
    # ingest time it brings, which the flush's progress reports.
    assert run_of(records, 2, HOUR + 2, HOUR, 100, 1 << 20) == (2, HOUR + HOUR_MS, HOUR)
    assert run_of(records, 2, HOUR + HOUR_MS, None, 100, 1 << 20) == (4, HOUR + HOUR_MS, HOUR + HOUR_MS)


def test_a_run_stops_at_the_chunks_room_and_at_the_record_that_uses_up_the_byte_budget():
    records = [record(i, HOUR + i) for i in range(10)]
    assert run_of(records, 0, None, None, 4, 1 << 20) == (4, HOUR + 3, HOUR)
    assert run_of(records, 0, None, HOUR, 0, 1 << 20) == (0, None, HOUR)
    size = len(records[0].value)
    assert run_of(records, 3, HOUR + 2, HOUR, 100, 2 * size) == (5, HOUR + 4, HOUR)
    assert run_of(records, 3, HOUR + 2, HOUR, 100, 2 * size + 1) == (6, HOUR + 5, HOUR)
    assert run_of(records, 3, HOUR + 2, HOUR, 100, 0) == (4, HOUR + 3, HOUR)   # over budget: one record, then a flush
    assert run_of(records, 8, HOUR + 7, HOUR, 100, 1 << 20) == (10, HOUR + 9, HOUR)   # the poll's end
