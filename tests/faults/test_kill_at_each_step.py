"""A process SIGKILLed at each numbered step of its exactly-once protocol, then restarted: the
counts (speed layer) and the stored records (raw sink) equal the rules applied to what was
produced, whichever step the kill landed on. The failpoints (viewcount/failpoints.py) kill the
process itself at that step, so every step is hit on purpose, not by the luck of a timer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.ingestion.conftest import assert_exact
from viewcount.failpoints import SINK_POINTS, SPEED_POINTS

pytestmark = pytest.mark.integration

KILLED = -9


def layer(settings, command: str, group: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", command, "--until-idle", "2"], capture_output=True, text=True, timeout=300,
        env={**os.environ, **settings.to_env(), "VIEWCOUNT_SPEED_METRICS_PORT": "0", "VIEWCOUNT_INGEST_METRICS_PORT": "0",
             "VIEWCOUNT_INGEST_FLUSH_RECORDS": "300", "VIEWCOUNT_INGEST_GROUP": group, **env})


@pytest.mark.parametrize("point", SPEED_POINTS)
def test_the_speed_layer_killed_at_each_step_counts_exactly_after_a_restart(make_speed_scenario, point):
    scenario = make_speed_scenario(events=1500, partitions=2)
    killed = layer(scenario.settings, "speed", "unused", VIEWCOUNT_FAILPOINTS=point)
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    assert f"failpoint {point}" in killed.stderr
    restarted = layer(scenario.settings, "speed", "unused")
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert scenario.mismatches() == {}


@pytest.mark.parametrize("point", SINK_POINTS)
def test_the_raw_sink_killed_at_each_step_stores_every_record_once_after_a_restart(make_scenario, point):
    scenario = make_scenario(events=1500, partitions=2)
    killed = layer(scenario.settings, "ingest", scenario.group, VIEWCOUNT_FAILPOINTS=point)
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    assert f"failpoint {point}" in killed.stderr
    restarted = layer(scenario.settings, "ingest", scenario.group)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert_exact(scenario)
