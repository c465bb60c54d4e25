"""What `viewcount ingest` and `viewcount speed` share: serve the metrics, say what runs where,
run the layer until it stops."""

from __future__ import annotations

import sys
from collections.abc import Callable

from app.layer_process import LayerProcess
from viewcount.settings import Settings


def run_layer(settings: Settings, name: str, target: str, group: str, metrics, metrics_port: int,
              build: Callable[[Settings, object], LayerProcess], until_idle_s: float | None) -> None:
    metrics.serve(metrics_port, settings.metrics_host)
    process = build(settings, metrics)
    print(f"{name}: {settings.topic} → {target} (group {group}"
          + (f", metrics on :{metrics_port}" if metrics_port else "") + ")", file=sys.stderr)
    process.run(until_idle_s=until_idle_s)
