"""`viewcount ingest [--until-idle S]` and `viewcount ingest replay …`."""

from __future__ import annotations

import functools

from app.cli.options import non_negative, seconds, time_option


def register(commands) -> None:
    cmd = commands.add_parser(
        "ingest", help="run the raw sink (Kafka → Parquet master dataset)",
        description="Run the raw sink: consume the views topic and write the master dataset under "
                    "RAW_STORE, one Parquet file per partition, ingest hour and offset range.")
    cmd.add_argument("--until-idle", type=seconds, metavar="SECONDS",
                     help="exit 0 once no record has arrived for this long and every partition of the "
                          "topic is flushed to its end offset (also partitions other members hold)")
    cmd.add_argument("--accept-gap", action="store_true",
                     help="when retention deleted records the sink had not stored yet, go on from the log start "
                          "(logged, counted, audited; the batch still refuses the hole until `batch accept-hole`)")
    cmd.set_defaults(run=run)
    actions = cmd.add_subparsers(dest="action", metavar="ACTION")
    replay = actions.add_parser(
        "replay", help="rewrite missing files of one partition from Kafka (idempotent)",
        description="Rewrite the range files of one partition that are missing from the master "
                    "dataset, reading Kafka. Existing ranges are skipped; offsets past what the sink "
                    "has committed are left to the sink.")
    replay.add_argument("--partition", type=non_negative, required=True)
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-offset", type=non_negative, metavar="O")
    start.add_argument("--from-time", metavar="ISO", help="RFC 3339; the first record at or after it")
    replay.add_argument("--to-offset", type=non_negative, metavar="O", help="last offset (default: last committed)")
    replay.set_defaults(run=run_replay)


def run(args, settings) -> int:
    from app import wiring
    from app.cli.layer_cmd import run_layer
    from ingestion.metrics import SinkMetrics

    metrics = SinkMetrics()
    build = functools.partial(wiring.raw_sink, accept_gap=args.accept_gap)
    run_layer(settings, "raw sink", settings.raw_store, settings.ingest_group, metrics,
              settings.ingest_metrics_port, build, args.until_idle)
    print(f"raw sink stopped: {metrics.records_written('valid')} valid and "
          f"{metrics.records_written('invalid')} quarantined records written")
    return 0


def run_replay(args, settings) -> int:
    from ingestion.replay import replay_partition, tqdm_progress
    from app import wiring

    from_time_ms = time_option(args.from_time, "--from-time")
    consumer = wiring.consumer(settings, client_id="viewcount-replay")
    bar, update = tqdm_progress(total=0, description=f"replay {settings.topic}-{args.partition}")
    try:
        report = replay_partition(wiring.raw_store(settings), consumer, settings.topic, args.partition,
                                  args.from_offset, from_time_ms, args.to_offset, progress=update)
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
