"""Serving API latency and throughput: `viewcount serve` (one uvicorn worker) on a private Redis,
loaded from a second process.

Redis is filled the way production fills it: N generated events applied by the speed layer's own
atomic step, and a batch version published at a watermark in the middle of the traffic, so a
read merges batch hours and speed buckets. The load generator (bench/httpload.py) is a small
asyncio HTTP/1.1 client with keep-alive connections, in its own process:

  fixed rate   open loop at --rate req/s for --seconds; latency is measured from each request's
               scheduled time, so a stalled server cannot hide its queue (no coordinated omission)
  max          closed loop, --connections requests in flight, for --seconds: sustained req/s

Reads are GET /v1/videos/{id}/views over the videos, weighted as the traffic is (popular videos
more often), with the admin token. Figures are medians of --runs runs.

    .venv/bin/python bench/serve.py [--events 200000] [--rate 2000] [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
from collections import defaultdict

from common import ROOT, private_stack, summarize, topic_records, write_result
from httpload import answers, closed_loop, fixed_rate, in_own_process, percentiles_ms

from speed_layer.counter import prepare
from app import wiring
from devtools.generate import traffic_lines
from viewcount.rules import RuleSettings, SourceRecord, apply_rules, tally
from viewcount.timeutil import DAY_MS, hour_floor, now_ms
from devtools.sandbox import free_ports, wait_for

TOKEN = "bench-admin-token-of-thirty-two-chars"
TOPIC = "bench.views"


def fill(settings, events: int) -> list[str]:
    """Speed state for N events and a batch version at the middle hour; returns the video ids,
    one per view (so a random choice follows popularity)."""
    rules = RuleSettings()
    end = now_ms()
    lines = traffic_lines(events, 11, end - 2 * DAY_MS, end, rules)
    records = topic_records(lines, TOPIC, 4, end)
    store = wiring.count_store(settings)
    by_partition = defaultdict(list)
    for r in records:
        by_partition[r.partition].append(r)
    for p, recs in by_partition.items():
        for i in range(0, len(recs), 2000):
            store.apply(TOPIC, p, prepare(recs[i:i + 2000]), rules)
    source = [SourceRecord(r.partition, r.offset, r.timestamp_ms, r.value) for r in
              sorted(records, key=lambda r: (r.partition, r.offset))]
    decisions = list(apply_rules(source, rules))
    watermark = hour_floor(sorted(d.ingest_ms for d in decisions)[len(decisions) // 2])
    below = tally(apply_rules([s for s, d in zip(source, decisions) if d.ingest_ms < watermark], rules))
    hourly = defaultdict(dict)
    for (video, hour), n in below.hourly.items():
        hourly[video][hour] = n
    wiring.batch_views(settings).publish_batch("bench", watermark, {v: (n, below.owners[v]) for v, n in below.videos.items()},
                        dict(hourly), grace_s=60)
    everything = tally(decisions)
    return [video for video, n in everything.videos.items() for _ in range(n)]


def _request(path: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"


def load(mode: str, port: int, paths: list[bytes], rate: int, seconds: float, connections: int, out) -> None:
    """In the load process: one measurement, sent back through ``out``."""
    requests = [_request(path) for path in paths]
    if mode == "fixed":
        out.put(asyncio.run(fixed_rate(port, requests, rate, seconds, connections, ok=200)))
    else:
        out.put(asyncio.run(closed_loop(port, requests, seconds, connections, ok=200)))


def measure(mode: str, *args) -> tuple:
    return in_own_process(load, mode, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    with private_stack() as (settings, _):   # `serve` sends owner claims to Kafka, so it needs a broker too
        settings = settings.replace(admin_token=TOKEN, topic=TOPIC, serve_rate_limit=0)
        views = fill(settings, args.events)
        rng = random.Random(3)
        paths = [f"/v1/videos/{rng.choice(views)}/views".encode() for _ in range(20_000)]
        port = free_ports(1)[0]
        env = {**os.environ, **settings.to_env(), "VIEWCOUNT_SERVE_PORT": str(port), "VIEWCOUNT_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, cwd=ROOT,
                                  stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, what="the API to start")
            measure("max", port, paths, 0, 2, args.connections)   # warm-up
            figures = defaultdict(list)
            for run in range(args.runs):
                latencies, errors, achieved = measure("fixed", port, paths, args.rate, args.seconds, args.connections)
                for name, ms in percentiles_ms(latencies).items():
                    figures[f"{name}_ms"].append(ms)
                figures["achieved_req_per_s"].append(round(achieved))
                throughput, max_errors = measure("max", port, paths, 0, args.seconds, args.connections)
                figures["max_req_per_s"].append(round(throughput))
                if errors or max_errors:
                    raise SystemExit(f"{errors + max_errors} requests did not answer 200")
                print(f"run {run + 1}: at {args.rate}/s p50 {figures['p50_ms'][-1]} ms, p99 {figures['p99_ms'][-1]} ms; "
                      f"max {throughput:,.0f} req/s", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(30)
    result = {k: summarize(v) for k, v in figures.items()}
    result.update({"events": args.events, "rate": args.rate, "seconds": args.seconds,
                   "connections": args.connections, "workers": 1,
                   "target": {"p99_ms_at_2000_req_per_s": 10}})
    path = write_result("serve", result)
    print(f"median: at {args.rate} req/s p50 {statistics.median(figures['p50_ms'])} ms, "
          f"p99 {statistics.median(figures['p99_ms'])} ms (target < 10 ms); "
          f"max {statistics.median(figures['max_req_per_s']):,.0f} req/s, one worker")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
