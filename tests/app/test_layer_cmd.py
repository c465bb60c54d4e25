"""`viewcount ingest` and `viewcount speed` run their layer in a process tuned for it."""

from __future__ import annotations

import gc

import pytest

from app.cli.layer_cmd import run_layer
from app.layer_process import COLLECTOR_THRESHOLDS
from viewcount.settings import Settings


class _Metrics:
    def serve(self, port, host):
        pass


class _Layer:
    def __init__(self, seen: list):
        self.seen = seen

    def run(self, until_idle_s=None):
        self.seen.append(gc.get_threshold())

    def stop(self):
        pass


@pytest.fixture
def default_collector():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_layer_runs_with_the_collector_set_for_a_stream_of_records(default_collector):
    from app.layer_process import LayerProcess

    seen: list = []
    run_layer(Settings.from_env(), "raw sink", "raw", "group", _Metrics(), 0,
              lambda settings, metrics: LayerProcess(_Layer(seen), []), until_idle_s=0)
    assert seen == [COLLECTOR_THRESHOLDS]
    assert COLLECTOR_THRESHOLDS[0] > 700
