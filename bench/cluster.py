"""Speed layer on a Redis Cluster: exactly-once events/s of 1, 2 and 4 processes in one group.

On a private stack of one Kafka broker (so that only Redis changes) and a Redis Cluster of 6
nodes (3 masters, 3 replicas, as `stack up --cluster` starts it), N generated events are
produced once to a topic of 8 partitions. Per run, side by side, for each number of processes:
that many confluent-kafka counter processes in one group count the topic from an empty prefix,
each in a process of its own; the rate is the steady one (as bench/speed.py takes it), with the
cores the counters and every Redis node used meanwhile. The ratio of N processes over one is the scale-out.

    .venv/bin/python bench/cluster.py [--events 200000] [--runs 3] [--processes 1,2,4] [--partitions 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import redis
from common import cpus, private_stack, summarize, write_result
from speed import count_in_processes

from adapters.kafka.seam import TopicSpec
from adapters.redis.connection import RedisConfig, RedisConnection
from app import wiring
from devtools.generate import INGEST_TIME_FIELD, generate
from devtools.stack.redis_cluster import CLUSTER_NODES, cluster_address
from ingestion.produce import produce_lines
from viewcount.timeutil import DAY_MS, now_ms

TOPIC = "bench-cluster"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    with private_stack(("kafka", *CLUSTER_NODES), topic_partitions=args.partitions) as (settings, _), \
            tempfile.TemporaryDirectory() as tmp:
        settings = settings.replace(redis_url=cluster_address(settings), kafka_client="confluent-kafka")
        end = now_ms()
        traffic = generate(args.events, 4, Path(tmp), end - DAY_MS // 2, end, settings.rules,
                           settings.as_public_dict())
        lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
        admin = wiring.topic_admin(settings)
        admin.ensure_topics([TopicSpec(TOPIC, args.partitions)])
        admin.close()
        producer = wiring.producer(settings)
        produce_lines(lines, producer, TOPIC, INGEST_TIME_FIELD)
        producer.close()
        client = RedisConnection(RedisConfig(settings.redis_url)).client
        figures: dict[int, list[dict]] = {n: [] for n in counts}
        for run in range(args.runs):
            for n in counts:
                client.flushdb(target_nodes=redis.RedisCluster.PRIMARIES)
                prefix = f"c{run}n{n}"
                figures[n].append(count_in_processes(settings.replace(redis_prefix=prefix), client, TOPIC, len(lines),
                                                     n, prefix))
                got = figures[n][-1]
                print(f"run {run + 1}, {n} process{'es' if n > 1 else ''}: {got['events_per_s']:,} events/s steady; "
                      f"cores busy: counters {got['counter_cores']:.2f}, Redis (6 nodes) {got['redis_cpu_share']:.2f}, "
                      f"the rest {got['other_cores']:.2f} of {cpus()}")
        client.close()

    result = {f"{n} processes": {key: summarize([f[key] for f in runs]) for key in runs[0]}
              for n, runs in figures.items()}
    ratios = {n: [round(f["events_per_s"] / one["events_per_s"], 2) for one, f in zip(figures[counts[0]], runs)]
              for n, runs in figures.items()}
    result.update({"ratio_to_one": {f"{n} processes": summarize(r) for n, r in ratios.items()},
                   "events": len(lines), "partitions": args.partitions, "redis": "cluster of 3 masters, 3 replicas",
                   "cpus": cpus()})
    path = write_result("cluster", result)
    print(f"{'processes':>9} {'events/s steady':>16} {'ratio to 1':>10} {'counter cores':>13} {'Redis cores':>11}")
    for n in counts:
        got = {key: figure["median"] for key, figure in result[f"{n} processes"].items()}
        print(f"{n:>9} {got['events_per_s']:>16,.0f} {statistics.median(ratios[n]):>9.2f}× "
              f"{got['counter_cores']:>13.2f} {got['redis_cpu_share']:>11.2f}")
    print(f"(medians of {args.runs} runs on {cpus()} cores: past the cores, more processes only share them)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
