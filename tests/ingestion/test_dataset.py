"""Resume points come from the files; the checkpoint only narrows the search."""

from __future__ import annotations

import json

from ingestion.chunk import Chunk, file_metadata
from adapters.files.rawdata import range_files
from ingestion.dataset import resume_point, write_checkpoint
from viewcount.events import parse_event
from adapters.kafka.seam import Record
from viewcount.rawdata import QUARANTINE_ROOT, RangeFile, checkpoint_path, parse_name
from adapters.files.local import LocalFileStore, LocalStoreConfig
from viewcount.timeutil import HOUR_MS

T = "video.views.v1"
HOUR = 1_795_255_200_000


def chunk(partition, first, last, hour_ms=HOUR, invalid=()):
    c = Chunk(T, partition, hour_ms, first)
    for offset in range(first, last + 1):
        value = b"junk" if offset in invalid else json.dumps({
            "event_id": f"e{offset}", "video_id": "v", "creator_id": "c", "viewer_id": "u",
            "event_time": "2026-11-21T10:00:00Z", "watch_ms": 40000}).encode()
        c.add(Record(T, partition, offset, hour_ms + offset, b"v", value), hour_ms + offset, parse_event(value))
    return c


def commit(store, c):
    if c.quarantine_parquet():
        store.put_new(c.range.path(QUARANTINE_ROOT), c.quarantine_parquet())
    store.put_new(c.range.path(), c.views_parquet())


def test_names_round_trip_even_with_dashes_in_the_topic():
    f = RangeFile(3, 10, 99, HOUR, "my-topic.v1")
    assert f.path() == "views/v1/ingest_date=2026-11-21/ingest_hour=10/part-my-topic.v1-3-00000000000000000010-00000000000000000099.parquet"
    assert parse_name(f.name, HOUR) == f
    assert parse_name("part-x.parquet", HOUR) is None and parse_name("_SUCCESS", HOUR) is None


def test_file_metadata_describes_the_range(tmp_path):
    c = chunk(0, 5, 9, invalid={7})
    assert file_metadata(c.views_parquet()) == {"topic": T, "partition": 0, "first_offset": 5, "last_offset": 9,
                                                "valid": 4, "invalid": 1, "max_ingest_ms": HOUR + 9}


def test_resume_after_the_highest_committed_offset(tmp_path):
    store = LocalFileStore(LocalStoreConfig(str(tmp_path)))
    assert resume_point(store, T, 0).next_offset is None
    commit(store, chunk(0, 0, 9))
    commit(store, chunk(0, 10, 19, hour_ms=HOUR + HOUR_MS))
    commit(store, chunk(1, 0, 4))
    point = resume_point(store, T, 0)
    assert (point.next_offset, point.ingest_ms) == (20, HOUR + HOUR_MS + 19)


def test_a_stale_checkpoint_is_overruled_by_newer_files(tmp_path):
    store = LocalFileStore(LocalStoreConfig(str(tmp_path)))
    first = chunk(0, 0, 9)
    commit(store, first)
    write_checkpoint(store, first.range, first.max_ingest_ms)
    commit(store, chunk(0, 10, 14, hour_ms=HOUR + 2 * HOUR_MS))  # crashed before its checkpoint
    assert resume_point(store, T, 0).next_offset == 15
    store.put(checkpoint_path(T, 0), b"not json")
    assert resume_point(store, T, 0).next_offset == 15


def test_quarantine_files_of_uncommitted_ranges_are_removed(tmp_path):
    store = LocalFileStore(LocalStoreConfig(str(tmp_path)))
    commit(store, chunk(0, 0, 9, invalid={3}))
    orphan = chunk(0, 10, 19, invalid={12})
    store.put_new(orphan.range.path(QUARANTINE_ROOT), orphan.quarantine_parquet())  # no views file
    assert resume_point(store, T, 0).next_offset == 10
    assert [f.first for f in range_files(store, T, 0, QUARANTINE_ROOT)] == [0]
