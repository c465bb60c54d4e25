"""Recovery after kill -9: how long a restarted layer takes to get its partitions back and catch up.

On a private stack, per layer (raw sink, speed layer) and Kafka client: N events are produced and
a layer process (`viewcount ingest` / `viewcount speed`) processes them all. It is then killed
with SIGKILL, M more events are produced, and the same command is started again at once. Figures,
from the restart: seconds until the layer's own store (flush progress / Redis applied offsets)
holds every partition at its end offset. Static membership (the default) is compared with dynamic
membership (an empty KAFKA_GROUP_INSTANCE_ID), where the new member waits for the dead one's
session to time out.

    .venv/bin/python bench/recovery.py [--events 20000] [--more 2000] [--runs 3] [--dynamic-runs 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import private_stack, summarize, write_result

from app import wiring
from devtools.generate import INGEST_TIME_FIELD, generate
from adapters.kafka.seam import TopicSpec
from ingestion.produce import produce_lines
from adapters.files.rawdata import read_progress
from viewcount.timeutil import DAY_MS, now_ms

CLIENTS = ("kafka-python", "confluent-kafka")
LAYERS = {"raw sink": "ingest", "speed layer": "speed"}


def stored(settings, layer: str, partitions: list[int]) -> int:
    """Records the layer's own store says are processed, over every partition."""
    if layer == "speed layer":
        return sum(o + 1 for o in wiring.count_store(settings).applied_offsets(settings.topic).values())
    found = (read_progress(wiring.raw_store(settings), settings.topic, p) for p in partitions)
    return sum(progress.flushed_offset + 1 for progress in found if progress is not None)


def start(settings, layer: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env(), "VIEWCOUNT_INGEST_METRICS_PORT": "0",
           "VIEWCOUNT_SPEED_METRICS_PORT": "0", "VIEWCOUNT_INGEST_FLUSH_AGE": "1s"}
    return subprocess.Popen([sys.executable, "-m", "app", LAYERS[layer]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_stored(settings, layer, partitions, total, timeout_s=300.0) -> float:
    started = time.monotonic()
    while stored(settings, layer, partitions) < total:
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{layer} did not catch up within {timeout_s:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - started


def one_run(base, lines, more, layer, client, instance, run) -> float:
    topic = f"bench-recovery-{LAYERS[layer]}-{client}-{instance or 'dynamic'}-{run}"
    s = base.replace(topic=topic, dlq_topic=topic + ".dlq", kafka_client=client, kafka_group_instance_id=instance,
                     redis_prefix=f"r{run}{LAYERS[layer][0]}{client[0]}{'s' if instance else 'd'}",
                     ingest_group=topic + "-g", speed_group=topic + "-g",
                     raw_store=(Path(base.state_dir) / "raw" / topic).as_uri())
    partitions = list(range(s.topic_partitions))
    admin = wiring.topic_admin(s)
    admin.ensure_topics([TopicSpec(topic, len(partitions)), TopicSpec(topic + ".dlq", len(partitions))])
    admin.close()
    producer = wiring.producer(s)
    try:
        produce_lines(lines, producer, topic, INGEST_TIME_FIELD)
        first = start(s, layer)
        wait_stored(s, layer, partitions, len(lines))
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        produce_lines(more, producer, topic, INGEST_TIME_FIELD)
    finally:
        producer.close()
    restarted = start(s, layer)
    try:
        return wait_stored(s, layer, partitions, len(lines) + len(more))
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--more", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dynamic-runs", type=int, default=1)
    args = parser.parse_args()

    with private_stack(kafka_session_timeout="45s") as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        traffic = generate(args.events + args.more, 3, Path(tmp), end - DAY_MS // 4, end, settings.rules,
                           settings.as_public_dict())
        all_lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
        lines, more = all_lines[:args.events], all_lines[args.events:]
        figures: dict[str, list[float]] = {}
        for run in range(max(args.runs, args.dynamic_runs)):
            for layer in LAYERS:
                for client in CLIENTS:
                    plans = [("static", "bench-host")] if run < args.runs else []
                    plans += [("dynamic", "")] if run < args.dynamic_runs else []
                    for membership, instance in plans:
                        seconds = one_run(settings, lines, more, layer, client, instance, run)
                        key = f"{layer}[{client}, {membership}]"
                        figures.setdefault(key, []).append(round(seconds, 2))
                        print(f"run {run + 1} {key}: caught up {seconds:.2f}s after the restart", flush=True)

    result = {"restart_to_caught_up_s": {k: summarize(v) for k, v in figures.items()},
              "events": args.events, "more_after_kill": args.more, "session_timeout_s": 45,
              "target_s": 10}
    path = write_result("recovery", result)
    for key, samples in figures.items():
        print(f"{key}: median {summarize(samples)['median']:.2f}s over {len(samples)} run(s)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
