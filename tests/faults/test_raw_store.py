"""The raw store refuses writes for a while (a directory made read-only, a DataNode stopped) while
the sink flushes: ranges that could not be committed are not lost, nothing is stored twice, and
once the store takes writes again every produced record is in exactly one file."""

from __future__ import annotations

import threading

import pytest

from adapters.files.exceptions import StoreUnavailable
from app.background import Background
from devtools.sandbox import wait_for
from tests.ingestion.conftest import assert_exact, committed_files

pytestmark = pytest.mark.integration


class ReadOnlyWhileSet:
    """The real local store; while ``read_only`` is set, every write fails as a read-only file
    system makes it fail (EROFS, translated where the store meets the OS). The tests run as
    root, whom a directory's mode does not stop, so the refusal is injected at the store."""

    def __init__(self, store) -> None:
        self._store = store
        self.read_only = threading.Event()
        self.refused = 0

    def _refuse(self, path: str) -> None:
        if self.read_only.is_set():
            self.refused += 1
            raise StoreUnavailable(f"{path}: Read-only file system")

    def put_new(self, path: str, data: bytes, before_commit=None) -> bool:
        self._refuse(path)
        return self._store.put_new(path, data, before_commit)

    def put(self, path: str, data: bytes) -> None:
        self._refuse(path)
        self._store.put(path, data)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_raw_store_made_read_only_then_writable_loses_and_duplicates_nothing(make_scenario):
    scenario = make_scenario(events=3000, days=0.2, produce=False)
    half = len(scenario.lines) // 2
    scenario.produce(scenario.lines[:half])
    store = ReadOnlyWhileSet(scenario.store)
    sink, close = scenario.sink(flush_records=200, flush_age_s=1, store=store)
    runner = Background(sink.run, until_idle_s=5)
    try:
        wait_for(lambda: committed_files(scenario.store) > 0, 60, what="the first files")
        store.read_only.set()
        scenario.produce(scenario.lines[half:])
        wait_for(lambda: sink.metrics.unpublished_ranges("store_unavailable") >= 3, 60, what="flushes the store refused")
        store.read_only.clear()
        runner.join(180)
    finally:
        store.read_only.clear()
        sink.stop()
        close()
    assert store.refused >= 3
    assert_exact(scenario)


def test_a_datanode_stopped_during_flushes_loses_and_duplicates_nothing(make_scenario, hdfs):
    scenario = make_scenario(events=3000, days=0.2, store="hdfs", produce=False)
    half = len(scenario.lines) // 2
    scenario.produce(scenario.lines[:half])
    sink, close = scenario.sink(flush_records=200, flush_age_s=1)
    runner = Background(sink.run, until_idle_s=5)
    try:
        wait_for(lambda: committed_files(scenario.store) > 0, 120, what="the first files")
        hdfs.down(("datanode",), progress=lambda line: None)
        try:
            scenario.produce(scenario.lines[half:])
            wait_for(lambda: sink.metrics.unpublished_ranges("store_unavailable") >= 1, 120,
                     what="a flush refused while the DataNode is down")
        finally:
            hdfs.up(("datanode",), progress=lambda line: None)
        runner.join(300)
    finally:
        sink.stop()
        close()
    assert_exact(scenario)
