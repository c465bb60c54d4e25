"""Records deleted by retention before the speed layer applied them are never skipped silently:
the start is refused naming the offsets, and with --accept-gap the loss is logged, counted and
written to the (anchored) audit ledger."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import wiring
from tests.batch_layer.test_holes import delete_kafka_records_before
from tests.conftest import with_ledger

pytestmark = pytest.mark.integration


def speed(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "speed", "--until-idle", "1", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **settings.to_env(), "VIEWCOUNT_SPEED_METRICS_PORT": "0"})


def test_a_retention_gap_is_refused_then_accepted_on_the_record(make_speed_scenario, tmp_path):
    scenario = make_speed_scenario(events=600, partitions=1, days=0.2, produce=False)
    settings = with_ledger(scenario.settings, (tmp_path / "audit").as_uri())
    half = len(scenario.lines) // 2
    scenario.produce(scenario.lines[:half])
    assert speed(settings).returncode == 0
    applied = wiring.count_store(settings).applied_offsets(settings.topic)[0]
    assert applied == half - 1
    scenario.produce(scenario.lines[half:])
    delete_kafka_records_before(settings, 0, half + 50)      # retention took 50 records never applied

    refused = speed(settings)
    assert refused.returncode == 1
    line = refused.stderr.strip().splitlines()[-1]
    assert f"offsets {half}..{half + 49} of {settings.topic}-0 (50 records) were deleted by retention" in line
    assert "--accept-gap" in line
    assert wiring.count_store(settings).applied_offsets(settings.topic)[0] == applied   # nothing skipped

    accepted = speed(settings, "--accept-gap")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    assert "accepting a retention gap" in accepted.stderr
    assert wiring.count_store(settings).applied_offsets(settings.topic)[0] == len(scenario.lines) - 1
    record = wiring.audit_ledger(settings).records()[-1]
    assert (record["kind"], record["payload"]["layer"], record["payload"]["partition"],
            record["payload"]["first_offset"], record["payload"]["last_offset"], record["payload"]["records"]) == (
        "retention_gap_accepted", "speed layer", 0, half, half + 49, 50)
