"""Two consumer groups joining at the same moment in one process: the raw sink and the speed
layer, as `viewcount demo` runs them. Both must be assigned and finish the whole topic."""

from __future__ import annotations

import pytest

from ingestion.metrics import SinkMetrics
from ingestion.sink import RawSink, SinkConfig
from speed_layer.counter import SpeedConfig, SpeedCounter
from speed_layer.metrics import SpeedMetrics
from viewcount import wiring
from viewcount.serving_store.base import StateTtls
from tests.conftest import Background
from tests.ingestion.conftest import assert_exact, make_scenario  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_the_raw_sink_and_the_speed_layer_join_at_once_in_one_process(make_scenario, client):
    scenario = make_scenario(events=8000, days=0.5, partitions=4)
    s = scenario.settings.replace(kafka_client=client, redis_prefix=scenario.settings.topic,
                                  ingest_group=f"{scenario.settings.topic}-sink",
                                  speed_group=f"{scenario.settings.topic}-speed")
    sink_consumer, dlq = wiring.consumer(s, group_id=s.ingest_group), wiring.producer(s)
    speed_consumer = wiring.consumer(s, group_id=s.speed_group)
    store = wiring.serving_store(s)
    sink = RawSink(SinkConfig(s.topic, s.dlq_topic, flush_records=1000), sink_consumer, dlq, scenario.store,
                   SinkMetrics())
    counter = SpeedCounter(SpeedConfig(s.topic, s.rules, StateTtls.for_rules(s.rules, s.speed_bucket_retention)),
                           speed_consumer, store, SpeedMetrics())
    runners = [Background(sink.run, until_idle_s=2), Background(counter.run, until_idle_s=2)]
    try:
        for runner in runners:
            runner.join(180)
    finally:
        for kafka_client in (sink_consumer, dlq, speed_consumer):
            kafka_client.close()
    assert_exact(scenario)
    counted = {video: store.video_views(video).views for video in scenario.truth["videos"]}
    assert counted == {video: d["views"] for video, d in scenario.truth["videos"].items()}
