"""The speed layer on the real broker and Redis equals truth.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from viewcount.rules import Outcome

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_counts_equal_the_truth_for_every_video(make_speed_scenario, client):
    scenario = make_speed_scenario(events=15_000, kafka_client=client)
    counter = scenario.run()
    assert scenario.mismatches() == {}
    for outcome, expected in scenario.truth["outcomes"].items():
        assert counter.metrics.records.labels(outcome)._value.get() == expected, outcome
    # Running again over the same group changes nothing: every offset is applied already.
    scenario.run()
    assert scenario.mismatches() == {}


def test_views_command_prints_the_merged_answer(make_speed_scenario):
    scenario = make_speed_scenario(events=3000)
    scenario.run()
    env = {**os.environ, **scenario.settings.to_env()}
    video, expected = max(scenario.truth["videos"].items(), key=lambda kv: kv[1]["views"])
    done = subprocess.run([sys.executable, "-m", "app", "views", video, "--hourly"],
                          capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["video_id"] == video and answer["creator_id"] == expected["creator_id"]
    assert answer["views"] == answer["batch_views"] + answer["speed_views"] == expected["views"]
    assert answer["batch_watermark"] is None and answer["as_of"].endswith("Z")
    assert {h["hour"]: h["views"] for h in answer["hours"]} == expected["hourly"]
    for bad, message in (("no_such_video", b"unknown video"), ("../etc", b"must match")):
        done = subprocess.run([sys.executable, "-m", "app", "views", bad], capture_output=True,
                              env=env, timeout=60)
        assert done.returncode == 1 and message in done.stderr


def test_conflicting_duplicates_are_counted_in_the_metrics(make_speed_scenario):
    scenario = make_speed_scenario(events=4000)
    counter = scenario.run()
    assert counter.metrics.records.labels(Outcome.CONFLICTING.value)._value.get() == \
        scenario.truth["outcomes"]["conflicting"] > 0


def test_metrics_endpoint(make_speed_scenario):
    import urllib.request

    from devtools.sandbox import free_ports

    scenario = make_speed_scenario(events=1000)
    counter, close = scenario.counter()
    port = free_ports(1)[0]
    counter.metrics.serve(port)
    try:
        counter.run(until_idle_s=1)
    finally:
        close()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    counted = scenario.truth["outcomes"]["counted"]
    assert f'viewcount_speed_records_total{{outcome="counted"}} {float(counted)}' in text
    for name in ("viewcount_speed_apply_seconds_bucket", "viewcount_speed_freshness_seconds_bucket",
                 'viewcount_speed_records_total{outcome="invalid"}'):
        assert name in text


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_lag_is_what_redis_has_not_applied_yet(make_speed_scenario, client):
    scenario = make_speed_scenario(events=600, partitions=2, kafka_client=client)
    counter, close = scenario.counter()
    try:
        counter.run(until_idle_s=1)

        def lag() -> dict[str, float]:
            counter.tick(time.monotonic() + 3600, received=False)   # past the next lag check
            return {p: counter.metrics.lag.labels(p)._value.get() for p in ("0", "1")}

        assert lag() == {"0": 0, "1": 0}
        scenario.produce(scenario.lines[:7])   # not applied: the counter is not polling
        # The log end comes from the broker, or for a fetching confluent-kafka partition, from the
        # next fetch response (the client keeps fetching in the background).
        deadline = time.monotonic() + 30
        while sum(lag().values()) < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(lag().values()) == 7
    finally:
        close()
