"""What `viewcount ingest` and `viewcount speed` share: serve the metrics, say what runs where,
run the layer until it stops."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.layer_process import LayerProcess, tune_interpreter
from viewcount.settings import Settings

logger = logging.getLogger(__name__)


def run_layer(settings: Settings, name: str, target: str, group: str, metrics, metrics_port: int,
              build: Callable[[Settings, object], LayerProcess], until_idle_s: float | None) -> None:
    metrics.serve(metrics_port, settings.metrics_host)
    tune_interpreter()   # this process runs one layer until it stops
    process = build(settings, metrics)
    logger.info("%s: %s → %s (group %s%s)", name, settings.topic, target, group,
                f", metrics on :{metrics_port}" if metrics_port else "")
    process.run(until_idle_s=until_idle_s)
