"""`viewcount batch run [--watermark ISO] [--full] [--rehash] [--submit]`, `batch replay`, `batch accept-hole`."""

from __future__ import annotations

import sys

from app.cli.options import non_negative, time_option
from viewcount.timeutil import format_ms


def register(commands) -> None:
    batch = commands.add_parser("batch", help="the batch layer (Spark recompute, publish)")
    actions = batch.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="recompute batch views from the raw store and publish them atomically")
    run.add_argument("--watermark", metavar="ISO",
                     help="UTC hour boundary W (default: the latest every partition has flushed past)")
    run.add_argument("--full", action="store_true",
                     help="recompute every record ingested before W, rather than start from the published "
                          "version's rule state and read only what was ingested since its W")
    run.add_argument("--rehash", action="store_true",
                     help="read and hash every raw input file again, rather than reuse the digests the "
                          "published version recorded for files unchanged since")
    run.add_argument("--submit", action="store_true",
                     help="run it through spark-submit (client mode) on SPARK_MASTER, with SPARK_CONF as its "
                          "properties file and the project's packages shipped as --py-files")
    run.set_defaults(run=run_batch_cmd)
    replay = actions.add_parser(
        "replay", help="recompute the event days in range, show the difference, publish unless --dry-run",
        description="Recompute every record ingested before the published watermark, take the counts of "
                    "event days FROM..TO (UTC, inclusive) from it and keep the rest of the published version; "
                    "print the per-day, per-video difference; publish the result as a new version unless "
                    "--dry-run. Publishing is audited.")
    replay.add_argument("--from", dest="from_day", required=True, metavar="DATE", help="first event day, YYYY-MM-DD")
    replay.add_argument("--to", dest="to_day", required=True, metavar="DATE", help="last event day, YYYY-MM-DD")
    replay.add_argument("--dry-run", action="store_true", help="compute and show the difference only")
    replay.set_defaults(run=run_replay_cmd)
    accept = actions.add_parser(
        "accept-hole", help="record, audited, that a hole of the master dataset is lost (Kafka no longer holds it)",
        description="The batch refuses a master dataset with holes. When a hole's records are gone from Kafka "
                    "too (retention), nothing can fill it: this records it in the audit ledger as lost, with "
                    "the reason, and the batch then counts what remains. Refused while Kafka still holds any "
                    "of it (re-ingest with `viewcount ingest replay` instead).")
    accept.add_argument("--partition", type=non_negative, required=True)
    accept.add_argument("--from-offset", type=non_negative, required=True, metavar="O")
    accept.add_argument("--to-offset", type=non_negative, required=True, metavar="O")
    accept.add_argument("--reason", required=True, help="why the records are lost (kept in the ledger)")
    accept.set_defaults(run=run_accept_hole_cmd)


def run_accept_hole_cmd(args, settings) -> int:
    from app.batch_operations import accept_hole
    from batch_layer.holes import Hole

    record = accept_hole(settings, Hole(args.partition, args.from_offset, args.to_offset), args.reason)
    print(f"accepted as lost: partition {args.partition} offsets {args.from_offset}..{args.to_offset} of "
          f"{settings.topic}; audit seq {record['seq']}")
    return 0


def run_batch_cmd(args, settings) -> int:
    from app.batch_operations import recompute
    from batch_layer.publish import publish
    from app import wiring

    asked = time_option(args.watermark, "--watermark")
    if args.submit:
        return submit_batch_run(args, settings)
    print(f"batch: Spark {settings.spark_master}, raw store {settings.raw_store}", file=sys.stderr)
    from app.reconcile import reconcile_publish

    result = recompute(settings, asked, rehash=args.rehash, full=args.full)
    before = wiring.batch_views(settings).batch_pointer()
    with wiring.audit_ledger(settings) as ledger:
        record = publish(result, wiring.batch_views(settings), ledger)
    print(f"published batch version {result.version} (W {format_ms(result.watermark_ms)}): {result.videos} videos, "
          f"{result.total_views} views; audit seq {record['seq']}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())))
    print(describe_mode(result.manifest))
    print(f"data checks: Data Docs at {result.data_docs}")
    report = reconcile_publish(settings, result, before)
    print("batch and speed: " + (f"not compared ({report.skipped})" if report.skipped else
                                 f"{len(report.differences)} of {report.hours} hours differ"))
    return 0


def describe_mode(manifest: dict) -> str:
    """How the version was computed, in one line."""
    read = f"{manifest['records_read']:,} records read"
    if manifest["mode"] == "incremental":
        start = manifest["incremental_from"]
        return f"computed from version {start['version']} (W {start['watermark']}): {read}, those ingested since"
    return f"full recompute: {read}"


def submit_batch_run(args, settings) -> int:
    """The same `batch run`, as the application spark-submit starts; its exit code."""
    import os
    import subprocess
    from pathlib import Path

    from batch_layer.spark_conf import read_spark_conf
    from batch_layer.submit import code_archive, submit_argv, submit_environment

    read_spark_conf(settings.spark_conf)    # refused here, before anything starts
    again = ["batch", "run", *(["--watermark", args.watermark] if args.watermark else []),
             *(["--full"] if args.full else []), *(["--rehash"] if args.rehash else [])]
    argv = submit_argv(settings.spark_master, settings.spark_driver_memory, settings.spark_conf,
                       code_archive(Path(settings.state_dir) / "spark"), again)
    print(f"batch: spark-submit to {settings.spark_master}", file=sys.stderr)
    return subprocess.run(argv, env=submit_environment({**os.environ, **settings.to_env()})).returncode


def run_replay_cmd(args, settings) -> int:
    from audit.kinds import BATCH_REPLAY
    from app.batch_operations import replay
    from batch_layer.replay import replay_extra
    from batch_layer.publish import publish
    from batch_layer.replay import parse_day
    from app import wiring

    from_day, to_day = parse_day(args.from_day), parse_day(args.to_day)
    report = replay(settings, from_day, to_day, args.dry_run, say=lambda line: print(line, file=sys.stderr))
    print(report.table())
    if args.dry_run:
        print(f"dry run: published version {report.previous_version} unchanged")
        return 0
    with wiring.audit_ledger(settings) as ledger:
        record = publish(report.result, wiring.batch_views(settings), ledger, kind=BATCH_REPLAY,
                         extra=replay_extra(report))
    print(f"published version {report.result.version} replacing {report.previous_version}; audit seq {record['seq']}")
    return 0
