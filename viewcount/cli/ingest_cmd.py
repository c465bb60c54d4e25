"""`viewcount ingest [--until-idle S]` and `viewcount ingest replay …`."""

from __future__ import annotations

import sys

from viewcount.errors import ViewcountError
from viewcount.timeutil import parse_rfc3339_ms


def register(commands) -> None:
    cmd = commands.add_parser(
        "ingest", help="run the raw sink (Kafka → Parquet master dataset)",
        description="Run the raw sink: consume the views topic and write the master dataset under "
                    "RAW_STORE, one Parquet file per partition, ingest hour and offset range.")
    cmd.add_argument("--until-idle", type=float, metavar="SECONDS",
                     help="exit 0 once no record has arrived for this long and every partition of the "
                          "topic is flushed to its end offset (also partitions other members hold)")
    cmd.set_defaults(run=run)
    actions = cmd.add_subparsers(dest="action", metavar="ACTION")
    replay = actions.add_parser(
        "replay", help="rewrite missing files of one partition from Kafka (idempotent)",
        description="Rewrite the range files of one partition that are missing from the master "
                    "dataset, reading Kafka. Existing ranges are skipped; offsets past what the sink "
                    "has committed are left to the sink.")
    replay.add_argument("--partition", type=int, required=True)
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-offset", type=int, metavar="O")
    start.add_argument("--from-time", metavar="ISO", help="RFC 3339; the first record at or after it")
    replay.add_argument("--to-offset", type=int, metavar="O", help="last offset (default: last committed)")
    replay.set_defaults(run=run_replay)


def run(args, settings) -> int:
    from ingestion.metrics import SinkMetrics
    from ingestion.sink import RawSink, SinkConfig
    from viewcount import wiring

    config = SinkConfig(topic=settings.topic, dlq_topic=settings.dlq_topic,
                        flush_records=settings.ingest_flush_records,
                        flush_age_s=settings.ingest_flush_age / 1000)
    metrics = SinkMetrics()
    metrics.serve(settings.ingest_metrics_port, settings.metrics_host)
    consumer = wiring.consumer(settings, group_id=settings.ingest_group, client_id="viewcount-raw-sink")
    producer = wiring.producer(settings, client_id="viewcount-raw-sink-dlq")
    sink = RawSink(config, consumer, producer, wiring.raw_store(settings), metrics)
    print(f"raw sink: {settings.topic} → {settings.raw_store} (group {settings.ingest_group}"
          + (f", metrics on :{settings.ingest_metrics_port}" if settings.ingest_metrics_port else "") + ")",
          file=sys.stderr)
    try:
        sink.run(until_idle_s=args.until_idle)
    finally:
        consumer.close()
        producer.close()
    written = {o: int(metrics.records.labels(o)._value.get()) for o in ("valid", "invalid")}
    print(f"raw sink stopped: {written['valid']} valid and {written['invalid']} quarantined records written")
    return 0


def run_replay(args, settings) -> int:
    from ingestion.replay import replay_partition, tqdm_progress
    from viewcount import wiring

    from_time_ms = None
    if args.from_time:
        try:
            from_time_ms = parse_rfc3339_ms(args.from_time)
        except ValueError as e:
            raise ViewcountError(f"--from-time: {e}") from e
    consumer = wiring.consumer(settings, client_id="viewcount-replay")
    bar = None

    def progress(done: int) -> None:
        nonlocal bar, update
        update(done)

    bar, update = tqdm_progress(total=0, description=f"replay {settings.topic}-{args.partition}")
    try:
        report = replay_partition(wiring.raw_store(settings), consumer, settings.topic, args.partition,
                                  args.from_offset, from_time_ms, args.to_offset, progress=progress)
    finally:
        bar.close()
        consumer.close()
    print(f"partition {report.partition}, offsets {report.from_offset}..{report.to_offset}: "
          f"{len(report.gaps)} missing range(s), {len(report.quarantine_missing)} missing quarantine file(s)")
    for path in report.files_written:
        print(f"  wrote {path}")
    print(f"restored {report.records_restored} records in {len(report.files_written)} files"
          if report.files_written else "nothing missing: no file written")
    return 0
