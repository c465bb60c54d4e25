"""The batch watermark W: a UTC hour boundary that no partition's flush progress is behind.

Every record with ingest time < W must already be in a file. A partition guarantees that for
ingest times below its ``complete_before_ms``; when it was last seen idle and caught up, also for
ingest times below that wall-clock moment (its producers stamp records at send time).
"""

from __future__ import annotations

import json

from batch_layer.exceptions import WatermarkError
from adapters.files.rawdata import read_progress
from adapters.files.base import FileStore
from viewcount.timeutil import format_ms, hour_floor


def safe_watermark(store: FileStore, topic: str, partitions: list[int]) -> int:
    """The latest hour boundary not past any partition's flush progress."""
    limits = []
    for p in partitions:
        try:
            progress = read_progress(store, topic, p)
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            raise WatermarkError(f"unreadable flush progress of {topic}-{p}: {e}") from e
        if progress is None:
            raise WatermarkError(f"partition {p} of {topic} has no flush progress yet: run `viewcount ingest`")
        limits.append(max(progress.complete_before_ms, progress.idle_since_ms or 0))
    if not limits:
        raise WatermarkError(f"{topic} has no partitions")
    return hour_floor(min(limits))


def check_watermark(asked_ms: int, safe_ms: int) -> int:
    if asked_ms % 3_600_000:
        raise WatermarkError(f"--watermark must be a UTC hour boundary, not {format_ms(asked_ms)}")
    if asked_ms > safe_ms:
        raise WatermarkError(f"--watermark {format_ms(asked_ms)} is past what every partition has flushed "
                             f"({format_ms(safe_ms)}); records below it may still be missing")
    return asked_ms
