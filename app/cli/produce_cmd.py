"""`viewcount produce FILE [--ingest-time-field NAME]`."""

import sys

from app import wiring
from ingestion.produce import produce_lines, read_lines
from viewcount.errors import ViewcountError


def register(commands) -> None:
    cmd = commands.add_parser(
        "produce", help="send each line of FILE as one record of the views topic",
        description="Send each line of FILE (- for stdin) verbatim, in order, as one record. The key "
                    "is video_id when the line is a JSON object with a string video_id.")
    cmd.add_argument("file", metavar="FILE")
    cmd.add_argument("--ingest-time-field", metavar="NAME",
                     help="set the record timestamp from this RFC 3339 field when present and valid")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as e:
        raise ViewcountError(f"cannot read {args.file}: {e.strerror or e}") from e
    producer = wiring.producer(settings)
    try:
        report = produce_lines(
            read_lines(stream), producer, settings.topic, args.ingest_time_field,
            progress=lambda n: print(f"  … {n} lines queued", file=sys.stderr),
            max_ahead_ms=settings.max_clock_skew,
        )
    finally:
        producer.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    for number, reason in report.failed:
        print(f"line {number}: not sent: {reason}", file=sys.stderr)
    print(f"sent {report.sent} records to {settings.topic} in {report.seconds:.1f}s "
          f"({report.rate:,.0f}/s; {report.keyed} keyed, {report.stamped} with an explicit timestamp)")
    if report.failed:
        print(f"viewcount produce: error: {len(report.failed)} line(s) not sent", file=sys.stderr)
        return 1
    return 0
