"""Raw sink throughput, Kafka → Parquet, per process, and where the time goes.

On a private stack, N generated events are produced once to each of two topics, which differ
only in how far apart their ingest times lie:
  dense      the last ten minutes: a stream arriving at the target rate spans a second or two of
             ingest time, so its ranges are as large as the flush bounds make them (a few per
             partition);
  6 hours    six hours: every partition's records cut into a range per ingest hour, seven times
             as many, smaller ranges, each with its commit (a fence round trip) and its files.
Then, in one run:
  sink       the whole sink (consume, decode, buffer, Parquet, commit) until caught up,
             once per Kafka client behind the seam (kafka-python, confluent-kafka) and per topic,
             from the first records it is handed to the last range it commits (neither the
             group's join nor the until-idle wait before the drain commits the last ranges is the
             sink's rate), with the cores the sink's process (every thread) and the whole machine
             kept busy meanwhile; "sink whole run" from the start to the end of the run less the
             idle wait
  client     consuming the dense topic's records through the Kafka seam only, per client
  decode     the validator over the record values (decode_events, as the sink calls it), in memory
  parquet    buffering and encoding those records as Parquet range files, in memory
Each figure is events per second, the median of several runs. A million events by default: each
of the four partitions then fills five ranges of INGEST_FLUSH_RECORDS (50,000), so the figure is
the sink's steady rate. With 200,000, each partition fills one range, and the figure is mostly the
first range and the drain.

    .venv/bin/python bench/ingest.py [--events 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import cpus, machine_busy_s, private_stack, summarize, write_result

from ingestion.chunk import Chunk
from ingestion.metrics import SinkMetrics
from ingestion.sink import RawSink, SinkConfig
from app import wiring
from app.layer_process import tune_interpreter
from viewcount.eventbatch import decode_events
from devtools.generate import INGEST_TIME_FIELD, generate
from adapters.kafka.seam import Record, TopicSpec
from ingestion.produce import produce_lines
from adapters.files.local import LocalFileStore, LocalStoreConfig
from viewcount.timeutil import DAY_MS, hour_floor, now_ms

IDLE_S = 1.0


def consume_all(settings, topic, partitions):
    consumer = wiring.consumer(settings)
    records = []
    try:
        consumer.assign(topic, partitions)
        ends = consumer.end_offsets(partitions)
        started = time.perf_counter()
        while any(consumer.position(p) < ends[p] for p in partitions):
            for batch in consumer.poll(0.5, 5000).values():
                records.extend(batch)
        return records, time.perf_counter() - started
    finally:
        consumer.close()


def sink_rates(settings, topic: str, group: str, raw_root: Path, events: int) -> tuple[int, int, float, float]:
    """One raw sink over the whole topic until idle: its rate, the whole run's rate, and the cores
    this process (every thread) and the whole machine kept busy from its first records to its last
    handled ones."""
    store = LocalFileStore(LocalStoreConfig(str(raw_root)))
    consumer = wiring.consumer(settings, group_id=group)
    dlq = wiring.producer(settings)
    sink = RawSink(SinkConfig(topic, topic + ".dlq", flush_records=50_000), consumer, dlq, store, SinkMetrics())
    first: list[float] = []
    handled: list[float] = []
    commits: list[tuple[float, float, float]] = []     # (started, ended, its files encoded)
    drains: list[tuple[float, float]] = []
    handle, commit, drain = sink.handle, sink.commit, sink.drain

    cpu: list[tuple[float, float]] = []

    def timed_handle(partition, records):
        if not first:
            first.append(time.monotonic())
            cpu.append((time.process_time(), machine_busy_s()))
        handle(partition, records)
        handled.append(time.monotonic())
        cpu[1:] = [(time.process_time(), machine_busy_s())]

    def timed_commit(sealed):
        started = time.monotonic()
        committed = commit(sealed)
        commits.append((started, time.monotonic(), sealed.files.result().encoded_at))
        return committed

    def timed_drain():
        started = time.monotonic()
        drain()
        drains.append((started, time.monotonic()))

    sink.handle = timed_handle   # the runtime hands every poll's records to it,
    sink.commit = timed_commit   # every range is committed through it,
    sink.drain = timed_drain     # and the until-idle wait ends in it
    started = time.monotonic()
    sink.run(until_idle_s=IDLE_S)
    ended = time.monotonic() - IDLE_S
    consumer.close()
    dlq.close()
    # The ranges sealed before the last records were handled are committed at a tick once
    # encoded, the rest by the drain after the until-idle wait. The sink's work ends when the
    # last of the former would have been committed had its tick come as its files were ready
    # (a tick waits for a poll of up to half a second while no record arrives), plus the drain.
    # The wait counts for neither.
    last = handled[-1]
    after = [d for d in drains if d[0] >= last]
    cut = after[0][0] if after else float("inf")
    tail = max([last] + [encoded + (end - start) for start, end, encoded in commits if start < cut])
    drained = sum(end - start for start, end in after)
    seconds = tail - first[0]
    (process0, machine0), (process1, machine1) = cpu[0], cpu[-1]
    return (round(events / (seconds + drained)), round(events / (ended - started)),
            round((process1 - process0) / (last - first[0]), 2), round((machine1 - machine0) / (last - first[0]), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tune_interpreter()   # as in a `viewcount ingest` process

    with private_stack() as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        partitions = list(range(settings.topic_partitions))
        shapes = {"": ("bench-ingest", 10 * 60_000), ", 6 hours": ("bench-ingest-hours", DAY_MS // 4)}
        admin = wiring.topic_admin(settings)
        admin.ensure_topics([TopicSpec(name, len(partitions)) for topic, _ in shapes.values()
                             for name in (topic, topic + ".dlq")])
        admin.close()
        producer = wiring.producer(settings)
        produced: dict[str, int] = {}
        for shape, (topic, span_ms) in shapes.items():
            traffic = generate(args.events, 2, Path(tmp) / topic, end - span_ms, end, settings.rules,
                               settings.as_public_dict())
            lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
            produce_lines(lines, producer, topic, INGEST_TIME_FIELD)
            produced[topic] = len(lines)
        producer.close()
        topic = shapes[""][0]

        clients = ("kafka-python", "confluent-kafka")
        figures: dict[str, list[int]] = {f"{kind}{shape}[{c}]": [] for kind in ("sink", "sink whole run")
                                         for shape in shapes for c in clients}
        figures.update({f"client[{c}]": [] for c in clients})
        figures.update({"decode": [], "parquet": []})
        cores: dict[str, list[tuple[float, float]]] = {f"sink{shape}[{c}]": [] for shape in shapes for c in clients}
        for run in range(args.runs):
            for client in clients:
                s = settings.replace(kafka_client=client)
                for shape, (shape_topic, _) in shapes.items():
                    rate, whole, process_cores, machine_cores = sink_rates(
                        s, shape_topic, f"bench-sink-{shape_topic}-{client}-{run}",
                        Path(tmp) / f"raw-{shape_topic}-{client}-{run}", produced[shape_topic])
                    figures[f"sink{shape}[{client}]"].append(rate)
                    figures[f"sink whole run{shape}[{client}]"].append(whole)
                    cores[f"sink{shape}[{client}]"].append((process_cores, machine_cores))
                records, seconds = consume_all(s, topic, partitions)
                figures[f"client[{client}]"].append(round(len(records) / seconds))

            started = time.perf_counter()
            decode_events([r.value for r in records])
            figures["decode"].append(round(len(records) / (time.perf_counter() - started)))

            by_hour: dict[tuple[int, int], list[Record]] = {}
            for record in records:
                by_hour.setdefault((record.partition, hour_floor(record.timestamp_ms)), []).append(record)
            groups = [(key, rows, decode_events([r.value for r in rows])) for key, rows in by_hour.items()]
            started = time.perf_counter()
            for (partition, hour_ms), rows, decoded in groups:   # as the sink does: a column at a time
                chunk = Chunk(topic, partition, hour_ms, rows[0].offset)
                chunk.extend(rows, [r.timestamp_ms for r in rows], decoded)
                chunk.views_parquet()
                chunk.quarantine_parquet()
            figures["parquet"].append(round(len(records) / (time.perf_counter() - started)))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:,}/s" for k, v in figures.items()))

        # What an event costs at rest (docs/scaling.md sizes disks with it): in Kafka, its key and
        # value (before replication and the log's own overhead); in the master dataset, its share
        # of the Parquet files the sink wrote for the dense topic.
        kafka_bytes = sum(len(r.value) + len(r.key or b"") for r in records) / len(records)
        views_files = (Path(tmp) / f"raw-{topic}-confluent-kafka-0").rglob("views/**/*.parquet")
        parquet_bytes = sum(path.stat().st_size for path in views_files) / produced[topic]

    result = {f"{k}_events_per_s": summarize(v) for k, v in figures.items()}
    result.update({"kafka_bytes_per_event": round(kafka_bytes, 1), "parquet_bytes_per_event": round(parquet_bytes, 1)})
    result.update({f"{k}_cores": {"process": summarize([p for p, _ in v]), "machine": summarize([m for _, m in v])}
                   for k, v in cores.items()})
    result.update({"events": produced[topic], "partitions": len(partitions),
                   "target_events_per_s": 150_000})
    path = write_result("ingest", result)
    print("median events/s: " + ", ".join(f"{k} {result[f'{k}_events_per_s']['median']:,.0f}" for k in figures))
    for shape in shapes:
        for client in clients:
            median = result[f"sink{shape}[{client}]_events_per_s"]["median"]
            busy = result[f"sink{shape}[{client}]_cores"]
            print(f"raw sink{shape} [{client}]: {median:,.0f} events/s "
                  f"(target >= {result['target_events_per_s']:,}); cores busy: the sink's process "
                  f"{busy['process']['median']:.2f}, the machine {busy['machine']['median']:.2f} of {cpus()}")
    print(f"bytes per event: {kafka_bytes:.1f} in Kafka (key and value), {parquet_bytes:.1f} in the master "
          f"dataset's Parquet")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
