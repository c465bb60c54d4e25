"""Helpers shared by the benchmarks: a private stack on free ports, medians, result files."""

from __future__ import annotations

import json
import os
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


def partition_of(key: bytes | None, partitions: int) -> int:
    """Where both Kafka clients put a keyed record (CONTRACT §1): murmur2, as the Java client."""
    from viewcount.partitioner import partition_of as keyed

    return keyed(key, partitions) if key else 0


def topic_records(lines: list[bytes], topic: str, partitions: int, default_ms: int) -> list:
    """The lines as records of a topic: in the partition the clients would pick, numbered in
    order per partition, stamped with their ingest-time field (``default_ms`` without one)."""
    from adapters.kafka.seam import Record
    from devtools.generate import INGEST_TIME_FIELD
    from ingestion.produce import as_object, field_time_ms, key_of

    records, offsets = [], [0] * partitions
    for line in lines:
        obj = as_object(line)
        key = key_of(obj)
        p = partition_of(key, partitions)
        records.append(Record(topic, p, offsets[p], field_time_ms(obj, INGEST_TIME_FIELD) or default_ms, key, line))
        offsets[p] += 1
    return records


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


def count_entries(client, pattern: str) -> int:
    """Fields of every Redis hash whose key matches ``pattern``: the speed layer's state entries."""
    return sum(client.hlen(k) for k in client.scan_iter(match=pattern, count=10_000))


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent on anything but idling and waiting, so far."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def summarize(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "runs": len(samples), "samples": samples}


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"cpus": cpus(), "python": platform.python_version()}, **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def cpus() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))
