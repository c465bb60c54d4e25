"""Helpers shared by the benchmarks: a private stack on free ports, medians, result files."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.sandbox import settings_for  # noqa: E402  (one port-picking rule for tests and benches)
from devtools.stack.manager import Stack  # noqa: E402

RESULTS = ROOT / "bench" / "results"


@contextmanager
def private_stack(names=("kafka", "redis"), **overrides):
    """A stack of its own in a temporary folder, stopped afterwards; yields (settings, seconds to up)."""
    with tempfile.TemporaryDirectory(prefix="viewcount-bench-") as tmp:
        settings = settings_for(Path(tmp), **overrides)
        stack = Stack(settings)
        started = time.monotonic()
        try:
            stack.up(tuple(names), progress=lambda line: None)
            yield settings, time.monotonic() - started
        finally:
            stack.down(progress=lambda line: None)


def summarize(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "runs": len(samples), "samples": samples}


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": _cpus(), "python": platform.python_version()}, **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
