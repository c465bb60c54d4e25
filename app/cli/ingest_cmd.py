"""`viewcount ingest [--until-idle S]`, `viewcount ingest replay …` and `viewcount ingest compact …`."""

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
    compact = actions.add_parser(
        "compact", help="merge the small files of closed ingest hours (audited, exactly once)",
        description="Merge the range files each partition wrote in an ingest hour that ended at or before "
                    "--before into fewer, larger files named by the offsets they cover. Only files that follow "
                    "each other without a gap are merged; every record keeps its partition and offset. Each "
                    "merge is recorded in the audit ledger before the files it replaces are deleted, so a run "
                    "killed at any point is finished by the next one and the batch views never change.")
    compact.add_argument("--before", metavar="ISO",
                         help="compact ingest hours that ended by then (default, and latest allowed: the hour "
                              "every partition has flushed past)")
    compact.add_argument("--target-mb", type=non_negative, default=128, metavar="MB",
                         help="merge files until they reach this size (default 128)")
    compact.add_argument("--dry-run", action="store_true", help="show what would be merged, change nothing")
    compact.set_defaults(run=run_compact)


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


def run_compact(args, settings) -> int:
    from app import wiring
    from app.batch_operations import safe_watermark_now
    from ingestion.compact import plan
    from ingestion.exceptions import CompactionError
    from ingestion.replay import tqdm_progress
    from viewcount.timeutil import format_ms

    safe = safe_watermark_now(settings)
    before = safe if args.before is None else time_option(args.before, "--before")
    if before > safe:
        raise CompactionError(f"--before {format_ms(before)} is past what every partition has flushed "
                              f"({format_ms(safe)}): a later hour may still get files")
    planned = plan(wiring.raw_store(settings), settings.topic, before, args.target_mb * 1024 * 1024)
    for reason in planned.skipped:
        print(f"left alone: {reason}")
    print(f"{settings.topic} before {format_ms(before)}: {len(planned.merges)} merges of "
          f"{sum(len(m.parts) for m in planned.merges)} files, {len(planned.leftovers)} left by an interrupted run")
    if args.dry_run or not (planned.merges or planned.leftovers):
        return 0
    total = len(planned.merges) + len(planned.leftovers)
    bar, update = tqdm_progress(total=total, description=f"compact {settings.topic}")
    try:
        with wiring.audit_ledger(settings) as ledger:
            report = wiring.compactor(settings, ledger).run(planned, progress=update)
    finally:
        bar.close()
    seqs = sorted(set(report.audit_seqs))
    print(f"compacted: {report.merged} merged files replace {report.replaced} files"
          + (f"; audit seq {seqs[0]}..{seqs[-1]}" if seqs else ""))
    return 0
