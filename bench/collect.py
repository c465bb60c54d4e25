"""Collector throughput and latency: `viewcount collect` (one uvicorn worker) on a private Kafka,
every request answered 202 only after the broker acknowledged all its events (acks=all,
idempotent producer), loaded from a second process (bench/httpload.py).

  max          closed loop, --connections requests in flight, for --seconds, with batches of 50
               and of 500 events: acknowledged events/s
  fixed rate   open loop at --rate events/s in batches of 50 for --seconds; latency is measured
               from each request's scheduled time, so a stalled collector cannot hide its queue

Bodies are NDJSON of generated valid events (each request its own event ids). Figures are medians
of --runs runs; targets: >= 50,000 events/s, p99 < 20 ms at 10,000 events/s.

    .venv/bin/python bench/collect.py [--rate 10000] [--seconds 10] [--runs 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from common import ROOT, private_stack, summarize, write_result
from httpload import answers, closed_loop, fixed_rate, in_own_process, percentiles_ms

from app import wiring
from devtools.sandbox import free_ports, wait_for
from viewcount.timeutil import format_ms, now_ms

TOPIC = "bench.collect"
WRITE_KEY = "bench-write-key-" + "k" * 24
TARGETS = {"events_per_s": 50_000, "p99_ms_at_10000_events_per_s": 20}


def bodies(batch: int, count: int, tag: str) -> list[bytes]:
    """``count`` NDJSON bodies of ``batch`` valid views each, with event ids of their own."""
    moment = format_ms(now_ms())
    return [b"\n".join(json.dumps({
        "event_id": f"{tag}-{b}-{i}", "video_id": f"vid_{(b * batch + i) % 5000}", "creator_id": "creator_bench",
        "viewer_id": f"viewer_{b}_{i}", "event_time": moment, "watch_ms": 45000}).encode() for i in range(batch))
        for b in range(count)]


def _request(body: bytes) -> bytes:
    return (b"POST /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + WRITE_KEY.encode()
            + b"\r\nContent-Type: application/x-ndjson\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


def load(mode: str, port: int, batch: int, rate: float, seconds: float, connections: int, tag: str, out) -> None:
    """In the load process: one measurement, sent back through ``out``."""
    requests = [_request(b) for b in bodies(batch, 400 if batch >= 500 else 2000, tag)]
    if mode == "fixed":
        out.put(asyncio.run(fixed_rate(port, requests, rate, seconds, connections, ok=202)))
    else:
        out.put(asyncio.run(closed_loop(port, requests, seconds, connections, ok=202)))


def measure(*args) -> tuple:
    return in_own_process(load, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000, help="events/s of the latency run (batches of 50)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    with private_stack(("kafka",)) as (settings, _), tempfile.TemporaryDirectory(prefix="viewcount-bench-") as tmp:
        keys = Path(tmp) / "write-keys.json"
        keys.write_text(json.dumps({hashlib.sha256(WRITE_KEY.encode()).hexdigest(): "bench"}))
        settings = settings.replace(topic=TOPIC, dlq_topic=f"{TOPIC}.dlq", topic_partitions=4,
                                    collector_keys_file=str(keys), collector_ip_hmac_key="h" * 32, log_level="WARNING")
        admin = wiring.topic_admin(settings)
        admin.ensure_topics(wiring.topic_specs(settings))
        admin.close()
        port = free_ports(1)[0]
        server = subprocess.Popen([sys.executable, "-m", "app", "collect", "--port", str(port)],
                                  env={**os.environ, **settings.to_env()}, cwd=ROOT, stderr=subprocess.DEVNULL)
        figures = defaultdict(list)
        try:
            wait_for(lambda: answers(f"http://127.0.0.1:{port}/readyz"), 60, what="the collector to start")
            measure("max", port, 50, 0, 2, args.connections, "warm")
            for run in range(args.runs):
                for batch in (50, 500):
                    per_s, errors = measure("max", port, batch, 0, args.seconds, args.connections, f"r{run}b{batch}")
                    if errors:
                        raise SystemExit(f"{errors} requests were not answered 202")
                    figures[f"max_events_per_s_batch_{batch}"].append(round(per_s * batch))
                latencies, errors, achieved = measure("fixed", port, 50, args.rate / 50, args.seconds,
                                                      args.connections, f"r{run}fixed")
                if errors:
                    raise SystemExit(f"{errors} requests were not answered 202")
                for name, ms in percentiles_ms(latencies).items():
                    figures[f"{name}_ms"].append(ms)
                figures["achieved_events_per_s"].append(round(achieved * 50))
                print(f"run {run + 1}: max {figures['max_events_per_s_batch_50'][-1]:,} events/s (batches of 50), "
                      f"{figures['max_events_per_s_batch_500'][-1]:,} (of 500); at {args.rate:,} events/s "
                      f"p50 {figures['p50_ms'][-1]} ms, p99 {figures['p99_ms'][-1]} ms", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(30)
    result = {k: summarize(v) for k, v in figures.items()}
    result.update({"rate_events_per_s": args.rate, "seconds": args.seconds, "connections": args.connections,
                   "workers": 1, "partitions": 4, "target": TARGETS})
    path = write_result("collect", result)
    print(f"median: max {statistics.median(figures['max_events_per_s_batch_50']):,.0f} events/s in batches of 50, "
          f"{statistics.median(figures['max_events_per_s_batch_500']):,.0f} in batches of 500 "
          f"(target >= {TARGETS['events_per_s']:,}); at {args.rate:,} events/s p50 "
          f"{statistics.median(figures['p50_ms'])} ms, p99 {statistics.median(figures['p99_ms'])} ms "
          f"(target < {TARGETS['p99_ms_at_10000_events_per_s']} ms); one worker")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
