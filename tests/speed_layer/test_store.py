"""The step's wire format: StepRecord's fields and step.lua's ``F`` table name the same positions."""

from __future__ import annotations

import re

from adapters.kafka.seam import Record
from speed_layer.counter import prepare
from adapters.redis.connection import lua_source
from speed_layer.redis_store import STEP_LUA
from speed_layer.store import StepRecord


def lua_fields() -> dict[str, int]:
    table = re.search(r"local F = \{(.*?)\}", lua_source(*STEP_LUA), re.S).group(1)
    return {name: int(position) for name, position in re.findall(r"(\w+)\s*=\s*(\d+)", table)}


def test_the_script_reads_each_field_where_python_writes_it():
    assert lua_fields() == {name: n for n, name in enumerate(StepRecord._fields, start=1)}
    declared = int(re.search(r"local RECORD_FIELDS = (\d+)", lua_source(*STEP_LUA)).group(1))
    assert declared == len(StepRecord._fields)


def test_records_are_prepared_into_named_fields_in_their_order():
    spaced = (b'{"event_id": "e1", "video_id": "vid_1", "creator_id": "c_1", "viewer_id": "u_1", '
              b'"event_time": "2026-11-21T10:15:00Z", "watch_ms": 40000}')
    compact = (b'{"event_id":"e2","video_id":"vid_1","creator_id":"c_1","viewer_id":"u_1",'
               b'"event_time":"2026-11-21T10:15:00.000Z","watch_ms":40000}')
    steps = prepare([Record("views", 3, 41, 1_795_256_130_000, None, spaced),
                     Record("views", 3, 42, 5, None, b"{not json"),
                     Record("views", 3, 43, 1_795_256_130_001, None, compact)])
    first, invalid, last = steps
    assert (first.offset, first.valid, first.video_id, first.creator_id, first.watch_ms) == (41, 1, "vid_1", "c_1", 40000)
    assert first.event_time_ms == 1_795_256_100_000 and len(first.dedup_digest) == 12
    assert invalid == StepRecord.invalid(42, 5)
    # Same view, other event id: the same cap entry, another dedup entry and fingerprint.
    assert (last.offset, last.event_time_ms, last.cap_digest) == (43, first.event_time_ms, first.cap_digest)
    assert last.dedup_digest != first.dedup_digest and last.fingerprint != first.fingerprint
