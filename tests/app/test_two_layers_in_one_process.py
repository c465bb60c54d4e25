"""Two consumer groups joining at the same moment in one process: the raw sink and the speed
layer, as `viewcount demo` runs them. Both must be assigned and finish the whole topic."""

from __future__ import annotations

import pytest

from ingestion.metrics import SinkMetrics
from speed_layer.metrics import SpeedMetrics
from app import wiring
from app.background import Background
from tests.ingestion.conftest import assert_exact, make_scenario  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_the_raw_sink_and_the_speed_layer_join_at_once_in_one_process(make_scenario, client):
    scenario = make_scenario(events=8000, days=0.5, partitions=4)
    s = scenario.settings.replace(kafka_client=client, redis_prefix=scenario.settings.topic,
                                  ingest_group=f"{scenario.settings.topic}-sink",
                                  speed_group=f"{scenario.settings.topic}-speed")
    layers = [wiring.raw_sink(s.replace(ingest_flush_records=1000), SinkMetrics()),
              wiring.speed_counter(s, SpeedMetrics())]
    runners = [Background(layer.run, until_idle_s=2) for layer in layers]
    for runner in runners:
        runner.join(180)
    assert_exact(scenario)
    counted = {video: wiring.view_reader(s).video_views(video).views for video in scenario.truth["videos"]}
    assert counted == {video: d["views"] for video, d in scenario.truth["videos"].items()}
