"""Peak memory of the raw sink and the speed layer: bounded by bytes, whatever the records.

On a private stack, two streams are produced, each to its own topic:

* **large**: ``--large`` records of about 1 MB (random, so compression cannot shrink them; each is
  ``too_large``, quarantined whole, its dead letter carried whole or as its location);
* **small**: ``--small`` ordinary view events (about 200 bytes).

Each layer process (`viewcount ingest --until-idle`, `viewcount speed --until-idle`) then reads a
whole topic, and its peak resident set is recorded: ``VmHWM`` of ``/proc/PID/status``, read every
50 ms until it exits. (Not ``ru_maxrss``: a forked child starts with its parent's resident pages,
so it would never read below this process's own size.) The raw sink runs
with ``RAW_FLUSH_BYTES`` at its default (64 MiB) and, side by side, at 1 GiB (in effect no byte
bound; the record bound is raised too), which is what the bound saves.

    .venv/bin/python bench/memory.py [--large 300] [--small 10000000] [--runs 3] [--small-runs 1] [--name memory]

(``--large 0`` or ``--small 0`` leaves that stream out. The small stream runs once by default: over
10M records its three cases take about half an hour, and one run is enough for what it is there
to show, a peak that does not grow with the stream. The large stream, a few minutes a run, takes
the median of ``--runs``.)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import time

from common import private_stack, summarize, write_result

from adapters.kafka.seam import TopicSpec
from app import wiring
from viewcount.timeutil import format_ms, now_ms

MB = 1_000_000


def produce(settings, topic: str, count: int, large: bool) -> float:
    """``count`` records to ``topic``; returns the seconds it took."""
    producer = wiring.producer(settings)
    rng = random.Random(42)
    started = time.monotonic()
    now = now_ms()
    pad = base64.b64encode(rng.randbytes(MB))[:MB] if large else b""
    try:
        for i in range(count):
            video = f"vid_{i % 5000:06d}"
            if large:
                value = b'{"video_id": "%s", "n": %d, "pad": "' % (video.encode(), i) + pad + b'"}'
            else:
                value = json.dumps({"event_id": f"e{i}", "video_id": video, "creator_id": f"c{i % 500}",
                                    "viewer_id": f"u{i % 200_000}", "event_time": format_ms(now - (i % 3_600_000)),
                                    "watch_ms": 45_000}).encode()
            producer.send(topic, value, key=video.encode())
        producer.flush()
    finally:
        producer.close()
    return time.monotonic() - started


def peak_rss_mib(settings, command: str, topic: str, run: int, env: dict[str, str]) -> tuple[float, float]:
    """Run one layer over the whole topic; (peak RSS in MiB, seconds)."""
    name = f"{topic}-{command}-{run}"
    full_env = {**os.environ, **settings.replace(topic=topic, dlq_topic=f"{topic}.dlq", redis_prefix=name,
                                                   speed_group=name, ingest_group=name).to_env(),
                "VIEWCOUNT_INGEST_METRICS_PORT": "0", "VIEWCOUNT_SPEED_METRICS_PORT": "0",
                "VIEWCOUNT_RAW_STORE": (settings_root(settings) / name).as_uri(), **env}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "app", command, "--until-idle", "2"], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kib = 0
    while proc.poll() is None:
        peak_kib = max(peak_kib, high_water_kib(proc.pid))
        time.sleep(0.05)
    shutil.rmtree(settings_root(settings) / name, ignore_errors=True)   # what it wrote is not measured
    if proc.returncode != 0:
        raise RuntimeError(f"{command} exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
    return peak_kib / 1024, time.monotonic() - started


def high_water_kib(pid: int) -> int:
    """The process's peak resident set since it started (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def settings_root(settings):
    from pathlib import Path

    return Path(settings.state_dir) / "bench-raw"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=300, help="records of about 1 MB (default 300)")
    parser.add_argument("--small", type=int, default=10_000_000, help="small view events (default 10M)")
    parser.add_argument("--runs", type=int, default=3, help="runs over the large stream (default 3)")
    parser.add_argument("--small-runs", type=int, default=1, help="runs over the small stream (default 1)")
    parser.add_argument("--name", default="memory", help="result file bench/results/NAME.json")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this (e.g. speed)")
    args = parser.parse_args()

    unbounded = {"VIEWCOUNT_RAW_FLUSH_BYTES": "1GiB", "VIEWCOUNT_INGEST_FLUSH_RECORDS": "100000000"}
    cases = {  # name → (command, extra environment)
        "raw sink": ("ingest", {}),
        "raw sink, no byte bound": ("ingest", unbounded),
        "speed layer": ("speed", {}),
    }
    result: dict = {"large_records": args.large, "small_records": args.small, "runs": args.runs,
                    "small_runs": args.small_runs}
    with private_stack() as (settings, _):
        admin = wiring.topic_admin(settings)
        for stream, count in (("large", args.large), ("small", args.small)):
            if not count:
                continue
            topic = f"bench-memory-{stream}"
            admin.ensure_topics([TopicSpec(topic, 4), TopicSpec(f"{topic}.dlq", 4)])
            seconds = produce(settings, topic, count, stream == "large")
            print(f"{stream}: {count} records produced in {seconds:.0f}s", file=sys.stderr)
            for case, (command, env) in cases.items():
                if args.only not in case:
                    continue
                rss, took = [], []
                for run in range(args.runs if stream == "large" else args.small_runs):
                    peak, elapsed = peak_rss_mib(settings, command, topic, run, env)
                    rss.append(round(peak, 1))
                    took.append(round(elapsed, 1))
                    print(f"  {stream} / {case}: run {run + 1}: peak RSS {peak:.0f} MiB in {elapsed:.0f}s",
                          file=sys.stderr)
                result[f"{stream} / {case}"] = {"peak_rss_mib": summarize(rss), "seconds": summarize(took)}
        admin.close()
    for stream in (s for s, n in (("large", args.large), ("small", args.small)) if n and not args.only):
        bounded = result[f"{stream} / raw sink"]["peak_rss_mib"]["median"]
        unbound = result[f"{stream} / raw sink, no byte bound"]["peak_rss_mib"]["median"]
        result[f"{stream}: raw sink peak RSS, no byte bound / bounded"] = round(unbound / bounded, 2)
    path = write_result(args.name, result)
    print(json.dumps(result, indent=1))
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
