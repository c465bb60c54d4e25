"""Speed layer: exactly-once events/s per process, freshness at a steady rate, Redis bytes per
retained event id.

On a private stack:
  throughput   N generated events are produced first; the counter then applies them all (the
               whole exactly-once path: decode, Lua step, offsets), once per Kafka client.
  freshness    a second process produces at a steady --rate with send-time timestamps while the
               counter runs; freshness = when the record's step committed in Redis minus when it
               was sent (what an API reader would see), p50/p95 after a warm-up.
  memory       Redis used_memory growth per retained (video, event id), all speed state included.

    .venv/bin/python bench/speed.py [--events 200000] [--runs 3] [--rate 20000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import redis
from common import private_stack, summarize, write_result

from speed_layer.counter import SpeedConfig, SpeedCounter
from speed_layer.metrics import SpeedMetrics
from app import wiring
from devtools.generate import INGEST_TIME_FIELD, generate
from adapters.kafka.seam import TopicSpec
from ingestion.produce import produce_lines
from viewcount.timeutil import DAY_MS, now_ms

IDLE_S = 1.0
TARGETS = {"events_per_s": 100_000, "freshness_p95_ms": 250, "bytes_per_retained_id": 120}   # DESIGN.md
MIN_FRESHNESS_SAMPLES = 100
CLIENTS = ("kafka-python", "confluent-kafka")


def counter_for(settings, topic, group):
    consumer = wiring.consumer(settings, group_id=group)
    config = SpeedConfig(topic, settings.rules, settings.speed_bucket_retention)
    return SpeedCounter(config, consumer, wiring.count_store(settings), SpeedMetrics()), consumer


def steady_producer(settings_env: dict, topic: str, rate: int, seconds: float) -> None:
    """Runs in its own process: `rate` views per second, stamped at send time."""
    import os

    os.environ.update(settings_env)
    from viewcount.settings import Settings

    settings = Settings.from_env()
    producer = wiring.producer(settings.replace(kafka_client="confluent-kafka"))
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            t = now_ms()
            value = json.dumps({"event_id": f"f{sent}", "video_id": f"vid_{sent % 500}", "creator_id": "c_1",
                                "viewer_id": f"u_{sent}", "event_time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t / 1000))}.{t % 1000:03d}Z",
                                "watch_ms": 45000}).encode()
            producer.send(topic, value, key=f"vid_{sent % 500}".encode())
            sent += 1
        time.sleep(0.001)
    producer.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    with private_stack() as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        traffic = generate(args.events, 4, Path(tmp), end - DAY_MS // 2, end, settings.rules,
                           settings.as_public_dict())
        lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
        admin = wiring.topic_admin(settings)
        admin.ensure_topics([TopicSpec("bench-speed", settings.topic_partitions),
                             TopicSpec("bench-fresh", settings.topic_partitions)])
        admin.close()
        producer = wiring.producer(settings.replace(kafka_client="confluent-kafka"))
        produce_lines(lines, producer, "bench-speed", INGEST_TIME_FIELD)
        producer.close()
        client = redis.Redis.from_url(settings.redis_url)

        rates: dict[str, list[int]] = {c: [] for c in CLIENTS}
        memory_per_id = []
        for run in range(args.runs):
            for kafka_client in CLIENTS:
                prefix = f"b{run}{kafka_client[0]}"
                s = settings.replace(kafka_client=kafka_client, redis_prefix=prefix)
                client.flushdb()
                before = client.info("memory")["used_memory"]
                counter, consumer = counter_for(s, "bench-speed", f"bench-{prefix}")
                started = time.perf_counter()
                counter.run(until_idle_s=IDLE_S)
                elapsed = time.perf_counter() - started - IDLE_S
                consumer.close()
                rates[kafka_client].append(round(len(lines) / elapsed))
                ids = sum(client.hlen(k) for k in client.scan_iter(match=f"{prefix}:sd:*", count=10_000))
                memory_per_id.append(round((client.info("memory")["used_memory"] - before) / ids, 1))
                print(f"run {run + 1} {kafka_client}: {rates[kafka_client][-1]:,} events/s, "
                      f"{memory_per_id[-1]} bytes per retained id ({ids} ids)")

        # Freshness at a steady rate, on the faster client.
        s = settings.replace(kafka_client="confluent-kafka", redis_prefix="fresh")
        counter, consumer = counter_for(s, "bench-fresh", "bench-fresh")
        samples: list[int] = []
        step = counter._step

        def timed_step(partition, records, prepared):
            result = step(partition, records, prepared)
            done = now_ms()
            samples.extend(done - r.timestamp_ms for r in records)
            return result

        counter._step = timed_step  # every atomic step of the run loop goes through it
        load = multiprocessing.Process(target=steady_producer, args=(s.to_env(), "bench-fresh", args.rate, args.seconds))
        load.start()
        counter.run(until_idle_s=2.0)
        load.join()
        consumer.close()
        warm = samples[len(samples) // 5:]
        if len(warm) < MIN_FRESHNESS_SAMPLES:
            raise SystemExit(f"freshness not measured: {len(warm)} records after the warm-up, fewer than "
                             f"{MIN_FRESHNESS_SAMPLES} (raise --seconds or --rate)")
        quantiles = statistics.quantiles(warm, n=100)
        freshness = {"p50_ms": quantiles[49], "p95_ms": quantiles[94], "p99_ms": quantiles[98],
                     "records": len(samples), "rate_per_s": args.rate}

    result = {f"exactly_once_events_per_s[{c}]": summarize(v) for c, v in rates.items()}
    result.update({"freshness": freshness, "bytes_per_retained_id": summarize(memory_per_id),
                   "events": len(lines), "targets": TARGETS})
    path = write_result("speed", result)
    print("median events/s: " + ", ".join(f"{c} {statistics.median(v):,.0f}" for c, v in rates.items())
          + f" (target ≥ {TARGETS['events_per_s']:,})")
    print(f"freshness at {args.rate}/s: p50 {freshness['p50_ms']:.0f} ms, p95 {freshness['p95_ms']:.0f} ms "
          f"(target p95 < {TARGETS['freshness_p95_ms']} ms)")
    print(f"bytes per retained id: median {statistics.median(memory_per_id)} "
          f"(target ≤ {TARGETS['bytes_per_retained_id']})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
