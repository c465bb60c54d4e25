"""The clock of the speed layer's machine jumps an hour forward, then two hours back, while it
counts: the counts stay equal to the rules applied to what was produced, and the partitions'
ingest times in Redis stay the broker's record timestamps. Nothing of the count reads the
consumer's clock (only freshness metrics do, through ``now_ms``)."""

from __future__ import annotations

import time

import pytest

from app import wiring
from app.background import Background
from devtools.sandbox import wait_for
from tests.conftest import read_topic
from viewcount import keys

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("driver", ["confluent-kafka", "kafka-python"])
def test_a_clock_jumping_an_hour_forward_then_back_changes_no_count(make_speed_scenario, redis_client,
                                                                    monkeypatch, driver):
    scenario = make_speed_scenario(events=3000, partitions=2, produce=False)
    scenario.settings = scenario.settings.replace(kafka_client=driver)
    settings, store = scenario.settings, wiring.count_store(scenario.settings)
    # The process's wall clock, as an NTP step moves it: every reader of time.time() in this
    # process (the layer, the Kafka and Redis clients) sees the jump; monotonic clocks run on.
    jump_s = 0.0
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + jump_s)
    third = len(scenario.lines) // 3
    thirds = [scenario.lines[:third], scenario.lines[third:2 * third], scenario.lines[2 * third:]]
    counter, close = scenario.counter()
    runner = Background(counter.run)
    try:
        applied = 0
        for lines, jump_s in zip(thirds, (0.0, 3600.0, -3600.0)):
            scenario.produce(lines)
            applied += len(lines)
            wait_for(lambda: sum(v + 1 for v in store.applied_offsets(settings.topic).values()) == applied, 120,
                     what=f"the speed layer to apply {applied} records with its clock {jump_s:+.0f} s off")
    finally:
        counter.stop()
        runner.join(60)
        close()
    assert scenario.mismatches() == {}
    records = read_topic(settings, settings.topic, partitions=(0, 1))
    for p in (0, 1):
        ingest = redis_client.hget(keys.offsets_key(settings.redis_prefix, p, settings.topic), "t")
        assert int(ingest) == max(r.timestamp_ms for r in records if r.partition == p)
