"""`viewcount generate --events N --seed S --out DIR`."""

from pathlib import Path

from app.cli.options import non_negative, positive, positive_number
from viewcount.errors import ViewcountError
from devtools.generate import generate
from viewcount.timeutil import DAY_MS, now_ms, parse_rfc3339_ms


def register(commands) -> None:
    cmd = commands.add_parser(
        "generate", help="write synthetic traffic DIR/events.jsonl and its counts DIR/truth.json")
    cmd.add_argument("--events", type=positive, required=True, metavar="N", help="lines to write")
    cmd.add_argument("--seed", type=non_negative, required=True, metavar="S", help="random seed")
    cmd.add_argument("--out", type=Path, required=True, metavar="DIR")
    cmd.add_argument("--end", metavar="ISO", help="latest ingest time (RFC 3339; default: now)")
    cmd.add_argument("--days", type=positive_number, default=2.0,
                     help="ingest times span this many days before --end (default 2)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    try:
        end_ms = parse_rfc3339_ms(args.end) if args.end else now_ms()
    except ValueError as e:
        raise ViewcountError(f"--end: {e}") from e
    if args.days <= 0:
        raise ViewcountError("--days must be positive")
    start_ms = end_ms - int(args.days * DAY_MS)
    try:
        result = generate(args.events, args.seed, args.out, start_ms, end_ms, settings.rules,
                          settings.as_public_dict())
    except ValueError as e:
        raise ViewcountError(str(e)) from e
    except OSError as e:
        raise ViewcountError(f"cannot write to {args.out}: {e.strerror or e}") from e
    truth = result.truth
    print(f"wrote {result.lines} lines to {result.events_path}")
    print(f"wrote truth to {result.truth_path}: {truth['total_views']} views of "
          f"{len(truth['videos'])} videos by {len(truth['creators'])} creators")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in truth["outcomes"].items()))
    print(f"produce with: viewcount produce {result.events_path} --ingest-time-field "
          f"{truth['generator']['ingest_time_field']}")
    return 0
