"""A raw-sink member publishes a file only while it still owns the partition at its generation:
one that lost the partition between writing a file and publishing it (evicted while it stalled)
publishes nothing, and every record is still stored exactly once, by the new owner."""

from __future__ import annotations

import threading

import pytest

from viewcount.rawdata import VIEWS_ROOT
from viewcount.timeutil import hour_floor, now_ms
from tests.ingestion.conftest import assert_exact

pytestmark = pytest.mark.integration

STALL_LIMIT_MS = 6000     # the stalled member's max.poll.interval (and session): evicted after this


class StalledBeforePublish:
    """The real store, with one stall: the first views file is written under its temporary name,
    then its publish waits until the test releases it."""

    def __init__(self, store) -> None:
        self._store = store
        self.written = threading.Event()
        self.release = threading.Event()

    def put_new(self, path: str, data: bytes, before_commit=None) -> bool:
        def stall_then_fence() -> None:
            if path.startswith(VIEWS_ROOT) and not self.written.is_set():
                self.written.set()
                assert self.release.wait(120)
            if before_commit is not None:
                before_commit()
        return self._store.put_new(path, data, before_commit=stall_then_fence)

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.mark.parametrize("driver", ["confluent-kafka", "kafka-python"])
def test_a_member_that_lost_its_partition_between_write_and_publish_publishes_nothing(make_scenario, driver):
    # All in one ingest hour, so the members cut different ranges from the same start: the
    # stalled one's first file would overlap the newcomer's.
    scenario = make_scenario(events=400, partitions=1, days=0.01, end_ms=hour_floor(now_ms()) - 5 * 60_000)
    scenario.settings = scenario.settings.replace(kafka_client=driver)
    stalled_store = StalledBeforePublish(scenario.store)
    stalled, close_stalled = scenario.sink(flush_records=100, store=stalled_store, instance="stalled",
                                           session_timeout_ms=STALL_LIMIT_MS, max_poll_interval_ms=STALL_LIMIT_MS)
    member = threading.Thread(target=stalled.run, kwargs={"until_idle_s": 2.0})
    member.start()
    try:
        assert stalled_store.written.wait(60), "the first member never wrote a file"
        # A second member joins; the stalled one stops polling for longer than it may, is evicted,
        # and the newcomer stores every record from the start.
        scenario.run_sink(until_idle_s=2.0, instance="newcomer", flush_records=1000)
    finally:
        stalled_store.release.set()
        member.join(120)
        close_stalled()
    assert not member.is_alive()
    assert_exact(scenario)                    # the stalled member's file was never published
    assert stalled.metrics.unpublished_ranges("not_owner") == 1
