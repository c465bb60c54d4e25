"""`viewcount ingest` and `viewcount speed` run their layer in a process tuned for it."""

from __future__ import annotations

import gc
import sys

import pytest

from app.cli.layer_cmd import run_layer
from app.layer_process import COLLECTOR_THRESHOLDS, SWITCH_INTERVAL_S, LayerProcess
from viewcount.settings import Settings


class _Metrics:
    def serve(self, port, host):
        pass


class _Layer:
    def __init__(self, seen: list):
        self.seen = seen

    def run(self, until_idle_s=None):
        self.seen.append((gc.get_threshold(), sys.getswitchinterval()))

    def stop(self):
        pass


@pytest.fixture
def default_interpreter():
    before = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(700, 10, 10)
    sys.setswitchinterval(0.005)
    yield
    gc.set_threshold(*before[0])
    sys.setswitchinterval(before[1])


def test_a_layer_runs_with_the_interpreter_set_for_a_stream_of_records(default_interpreter):
    seen: list = []
    run_layer(Settings.from_env(), "raw sink", "raw", "group", _Metrics(), 0,
              lambda settings, metrics: LayerProcess(_Layer(seen), []), until_idle_s=0)
    assert seen == [(COLLECTOR_THRESHOLDS, SWITCH_INTERVAL_S)]
    assert COLLECTOR_THRESHOLDS[0] > 700 and SWITCH_INTERVAL_S < 0.005
