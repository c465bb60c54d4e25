"""Speed layer: exactly-once events/s per process, scale-out by partitions, freshness at a steady
rate, Redis bytes per retained event id.

On a private stack, N generated events are produced first. Then, per run, side by side:
  throughput   one counter process per Kafka client applies them all (the whole exactly-once path:
               poll, decode, Lua step, offsets), then two confluent-kafka counter processes in one
               group. Each counter runs in a process of its own; the rate is the steady one, records
               Redis applied between 20 % and 90 % of the topic per second (neither start-up nor the
               group's join counts), beside the whole run's; Redis's share of a core meanwhile
               (INFO cpu). The ratio of two processes over one is the scale-out.
  memory       Redis used_memory growth per retained (video, event id), all speed state included.
Then:
  freshness    a second process produces at a steady --rate with send-time timestamps from when
               the counter holds its partitions; freshness = when the record's step committed in
               Redis minus when it was sent (what an API reader would see), p50/p95 after a warm-up;
               once per run, each on a topic of its own.

    .venv/bin/python bench/speed.py [--events 200000] [--runs 3] [--rate 20000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import redis
from common import count_entries, cpus, machine_busy_s, private_stack, process_cpu_s, summarize, write_result

from speed_layer.counter import SpeedConfig, SpeedCounter
from speed_layer.metrics import SpeedMetrics
from app import wiring
from app.layer_process import tune_interpreter
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


def steady_producer(settings_env: dict, topic: str, rate: int, seconds: float, go) -> None:
    """Runs in its own process: once ``go`` is set, `rate` views per second, stamped at send time."""
    os.environ.update(settings_env)
    from viewcount.settings import Settings

    settings = Settings.from_env()
    producer = wiring.producer(settings.replace(kafka_client="confluent-kafka"))
    go.wait()
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


def counter_process(settings_env: dict, topic: str, group: str, member: str, ready, go) -> None:
    """Runs in its own process: one member of ``group`` counting ``topic`` until idle."""
    os.environ.update(settings_env)
    from viewcount.settings import Settings

    settings = Settings.from_env().replace(kafka_group_instance_id=member)   # static members need names of their own
    tune_interpreter()   # as in a `viewcount speed` process
    counter, consumer = counter_for(settings, topic, group)
    ready.set()
    go.wait()
    counter.run(until_idle_s=IDLE_S)
    consumer.close()


def redis_cpu_s(client) -> float:
    """CPU seconds Redis has used so far; on a cluster, every node's (a replica replays its
    master's writes)."""
    if isinstance(client, redis.RedisCluster):
        found = list(client.info("cpu", target_nodes=redis.RedisCluster.ALL_NODES).values())
    else:
        found = [client.info("cpu")]
    return sum(cpu["used_cpu_user"] + cpu["used_cpu_sys"] for cpu in found)


def count_in_processes(settings, client, topic: str, total: int, members: int, prefix: str) -> dict:
    """Count ``topic`` from its start with ``members`` counter processes in one group, until idle.
    The steady rate is taken between 20 % and 90 % of the records applied (what the processes do
    once started and assigned), the whole run from the start signal to the last exit less the idle
    wait. Over the steady window, the cores each part used: the counter processes (every thread),
    Redis (INFO cpu), and the rest of the machine (the Kafka broker, this process, the system)."""
    store = wiring.count_store(settings)
    ctx = multiprocessing.get_context("spawn")     # no librdkafka threads forked from this process
    readies, go = [ctx.Event() for _ in range(members)], ctx.Event()
    procs = [ctx.Process(target=counter_process, args=(settings.to_env(), topic, f"bench-{prefix}", f"{prefix}-{i}",
                                                       readies[i], go))
             for i in range(members)]
    for proc in procs:
        proc.start()
    for ready in readies:
        ready.wait(120)
    go.set()
    started = time.perf_counter()
    marks: dict[float, tuple[float, float, int, float, float]] = {}
    while any(proc.is_alive() for proc in procs):
        applied = sum(o + 1 for o in store.applied_offsets(topic).values())
        for share in (0.2, 0.9):
            if share not in marks and applied >= share * total:
                marks[share] = (time.perf_counter(), redis_cpu_s(client), applied,
                                sum(process_cpu_s(proc.pid) for proc in procs), machine_busy_s())
        time.sleep(0.05)
    whole = time.perf_counter() - started - IDLE_S
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a counter process exited with {proc.exitcode}")
    if len(marks) < 2:
        raise SystemExit(f"rate not measured: the {members}-process run ended before 90 % of {total:,} records "
                         "was seen applied (raise --events)")
    (t0, cpu0, n0, counters0, busy0), (t1, cpu1, n1, counters1, busy1) = marks[0.2], marks[0.9]
    seconds = t1 - t0
    redis_cores, counter_cores = (cpu1 - cpu0) / seconds, (counters1 - counters0) / seconds
    return {"events_per_s": round((n1 - n0) / seconds), "whole_run_events_per_s": round(total / whole),
            "redis_cpu_share": round(redis_cores, 2), "counter_cores": round(counter_cores, 2),
            "other_cores": round((busy1 - busy0) / seconds - redis_cores - counter_cores, 2)}


def freshness_at(settings, topic: str, rate: int, seconds: float) -> dict:
    """Produce at ``rate`` from a second process while one counter runs; per record, when its step
    committed in Redis less when it was sent.

    The load starts once the counter holds its partitions: records sent while the group is still
    forming wait out the join (seconds), which is start-up, not freshness, and no warm-up share
    reliably covers it. One primer record, sent before the counter starts, keeps the until-idle
    check from finding the topic done before the load's first records arrive; it is not a sample."""
    primer = wiring.producer(settings)
    primer.send(topic, json.dumps({"event_id": "primer", "video_id": "vid_0", "creator_id": "c_1", "viewer_id": "u_0",
                                   "event_time": "2026-01-01T00:00:00.000Z", "watch_ms": 1}).encode(), key=b"vid_0")
    primer.flush()
    primer.close()
    ctx = multiprocessing.get_context("spawn")     # no librdkafka threads forked from this process
    go = ctx.Event()
    load = ctx.Process(target=steady_producer, args=(settings.to_env(), topic, rate, seconds, go))
    load.start()
    counter, consumer = counter_for(settings, topic, topic)
    samples: list[int] = []
    step, assigned = counter._step, counter.assigned
    load_started_ms: list[int] = []

    def start_load(partitions):
        starts = assigned(partitions)
        if not load_started_ms:
            load_started_ms.append(now_ms())
            go.set()
        return starts

    def timed_step(partition, records, prepared):
        result = step(partition, records, prepared)
        done = now_ms()
        samples.extend(done - r.timestamp_ms for r in records if load_started_ms and r.timestamp_ms >= load_started_ms[0])
        return result

    counter.assigned = start_load   # the runtime hands the group's assignment to it
    counter._step = timed_step      # every atomic step of the run loop goes through it
    counter.run(until_idle_s=2.0)
    go.set()                        # (never assigned: the producer must still end)
    load.join()
    consumer.close()
    warm = samples[len(samples) // 5:]
    if len(warm) < MIN_FRESHNESS_SAMPLES:
        raise SystemExit(f"freshness not measured: {len(warm)} records after the warm-up, fewer than "
                         f"{MIN_FRESHNESS_SAMPLES} (raise --seconds or --rate)")
    quantiles = statistics.quantiles(warm, n=100)
    return {"p50_ms": quantiles[49], "p95_ms": quantiles[94], "p99_ms": quantiles[98],
            "records": len(samples), "rate_per_s": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    tune_interpreter()   # the freshness run's counter runs in this process, as in a `viewcount speed` one

    with private_stack() as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        traffic = generate(args.events, 4, Path(tmp), end - DAY_MS // 2, end, settings.rules,
                           settings.as_public_dict())
        lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
        admin = wiring.topic_admin(settings)
        fresh_topics = [f"bench-fresh-{run}" for run in range(args.runs)]   # each run from an empty topic
        admin.ensure_topics([TopicSpec("bench-speed", settings.topic_partitions),
                             *(TopicSpec(t, settings.topic_partitions) for t in fresh_topics)])
        admin.close()
        producer = wiring.producer(settings.replace(kafka_client="confluent-kafka"))
        produce_lines(lines, producer, "bench-speed", INGEST_TIME_FIELD)
        producer.close()
        client = redis.Redis.from_url(settings.redis_url)

        # Per run, side by side: one process per client, then two confluent-kafka processes in one group.
        cases = {**{c: (c, 1) for c in CLIENTS}, "2 processes[confluent-kafka]": ("confluent-kafka", 2)}
        figures: dict[str, list[dict]] = {case: [] for case in cases}
        memory_per_id = []
        for run in range(args.runs):
            for n, (case, (kafka_client, members)) in enumerate(cases.items()):
                prefix = f"b{run}{n}"
                client.flushdb()
                before = client.info("memory")["used_memory"]
                s = settings.replace(kafka_client=kafka_client, redis_prefix=prefix)
                figures[case].append(count_in_processes(s, client, "bench-speed", len(lines), members, prefix))
                ids = count_entries(client, f"{prefix}:{{p*}}:sd:*")
                memory_per_id.append(round((client.info("memory")["used_memory"] - before) / ids, 1))
                got = figures[case][-1]
                print(f"run {run + 1} {case}: {got['events_per_s']:,} events/s steady "
                      f"({got['whole_run_events_per_s']:,} over the whole run); cores busy: counters "
                      f"{got['counter_cores']:.2f}, Redis {got['redis_cpu_share']:.2f}, the rest {got['other_cores']:.2f} "
                      f"of {cpus()}; {memory_per_id[-1]} bytes per retained id ({ids:,} ids)")

        runs_freshness = []
        for run, topic in enumerate(fresh_topics):
            runs_freshness.append(freshness_at(settings.replace(kafka_client="confluent-kafka", redis_prefix=f"fresh{run}"),
                                               topic, args.rate, args.seconds))
            got = runs_freshness[-1]
            print(f"run {run + 1} freshness at {args.rate}/s: p50 {got['p50_ms']:.0f} ms, p95 {got['p95_ms']:.0f} ms, "
                  f"p99 {got['p99_ms']:.0f} ms ({got['records']:,} records)")
        freshness = {key: summarize([f[key] for f in runs_freshness]) for key in ("p50_ms", "p95_ms", "p99_ms")}
        freshness["rate_per_s"] = args.rate

    result = {case: {key: summarize([f[key] for f in runs]) for key in runs[0]} for case, runs in figures.items()}
    ratios = [round(two["events_per_s"] / one["events_per_s"], 2)
              for one, two in zip(figures["confluent-kafka"], figures["2 processes[confluent-kafka]"])]
    result.update({"scale_out_ratio": summarize(ratios), "freshness": freshness,
                   "bytes_per_retained_id": summarize(memory_per_id), "events": len(lines), "targets": TARGETS,
                   "cpus": cpus()})
    path = write_result("speed", result)
    for case in cases:
        got = {key: figure["median"] for key, figure in result[case].items()}
        print(f"{case}: median {got['events_per_s']:,.0f} events/s steady "
              f"(target ≥ {TARGETS['events_per_s']:,} per process), "
              f"{got['whole_run_events_per_s']:,.0f} over the whole run; cores busy: counters "
              f"{got['counter_cores']:.2f}, Redis {got['redis_cpu_share']:.2f}, the rest {got['other_cores']:.2f}")
    print(f"2 processes over 1 in one group: {statistics.median(ratios):.2f}× (close to 2× when neither Redis nor "
          f"the machine's {result['cpus']} cores are the bottleneck); Redis took "
          f"{result['2 processes[confluent-kafka]']['redis_cpu_share']['median']:.0%} of a core")
    print(f"freshness at {args.rate}/s, median of {args.runs} runs: p50 {freshness['p50_ms']['median']:.0f} ms, "
          f"p95 {freshness['p95_ms']['median']:.0f} ms (worst run {freshness['p95_ms']['max']:.0f} ms; "
          f"target p95 < {TARGETS['freshness_p95_ms']} ms)")
    print(f"bytes per retained id: median {statistics.median(memory_per_id)} "
          f"(target ≤ {TARGETS['bytes_per_retained_id']})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
