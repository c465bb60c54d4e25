"""Produce throughput through the Kafka seam, and the local stack's start time.

Runs on a private stack (free ports, temporary folder). Each run sends the same generated
traffic file with `produce_lines` (the code behind `viewcount produce`, key and timestamp
extraction included) to a fresh topic; the figure is records per second, median of the runs.

    .venv/bin/python bench/produce.py [--events 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import private_stack, summarize, write_result

from app import wiring
from devtools.generate import INGEST_TIME_FIELD, generate
from adapters.kafka.seam import TopicSpec
from ingestion.produce import produce_lines
from viewcount.timeutil import DAY_MS, now_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--starts", type=int, default=3, help="cold stack starts to time")
    args = parser.parse_args()

    start_samples = []
    for _ in range(args.starts):
        with private_stack() as (_, seconds):
            start_samples.append(round(seconds, 3))

    with private_stack() as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        traffic = generate(args.events, 1, Path(tmp), end - DAY_MS, end, settings.rules,
                           settings.as_public_dict())
        lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
        admin = wiring.topic_admin(settings)
        rates = []
        for run in range(args.runs):
            topic = f"bench-produce-{run}"
            admin.ensure_topics([TopicSpec(topic, settings.topic_partitions)])
            producer = wiring.producer(settings)
            report = produce_lines(lines, producer, topic, INGEST_TIME_FIELD)
            producer.close()
            assert report.sent == len(lines) and not report.failed
            rates.append(round(report.rate))
            print(f"run {run + 1}: {report.rate:,.0f} records/s ({report.sent} in {report.seconds:.2f}s)")
        admin.close()

    result = {
        "produce_records_per_s": summarize(rates),
        "stack_up_kafka_redis_s": summarize(start_samples),
        "events": len(lines), "partitions": settings.topic_partitions, "client": "kafka-python",
    }
    path = write_result("produce", result)
    print(f"produce: median {result['produce_records_per_s']['median']:,.0f} records/s; "
          f"stack up (kafka+redis, cold): median {result['stack_up_kafka_redis_s']['median']:.1f}s")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
