"""`viewcount demo`: the main job on the local stack."""

import logging
from pathlib import Path

from viewcount.demo import run_demo


def register(commands) -> None:
    cmd = commands.add_parser("demo", help="run the pipeline end to end on the local stack")
    cmd.add_argument("--events", type=int, default=50_000, help="events to generate (default 50000)")
    cmd.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    cmd.add_argument("--out", type=Path, help="where each run's folder goes (default STATE_DIR/demo)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    if settings.log_level != "DEBUG":
        # The steps narrate the run; the layers' own progress and the deliberate conflicting
        # duplicates of generated traffic would drown them.
        for name in ("ingestion", "speed_layer", "batch_layer", "viewcount.stack", "py4j"):
            logging.getLogger(name).setLevel(logging.ERROR)
    out = args.out or Path(settings.state_dir) / "demo"
    summary = run_demo(settings, args.events, args.seed, out)
    rows = [("lines generated", summary.lines), ("records produced", summary.produced),
            ("raw rows (views/)", summary.raw_valid), ("raw rows (quarantine/)", summary.raw_quarantined),
            ("views by the rules (truth.json)", summary.views), ("batch watermark", summary.batch_watermark),
            ("views from the batch layer", summary.batch_views), ("views from the speed layer", summary.speed_views),
            ("audit records verified", summary.audit_records), ("videos checked", summary.videos_checked),
            ("mismatches", len(summary.mismatches))]
    rows += [(f"  outcome {name}", n) for name, n in summary.outcomes.items()]
    rows += [(f"  seconds {name}", s) for name, s in summary.seconds.items()]
    print()
    print(f"{'what':34} {'value':>12}")
    for name, value in rows:
        print(f"{name:34} {value:>12}")
    for video, (got, expected) in sorted(summary.mismatches.items())[:10]:
        print(f"  MISMATCH {video}: counted {got}, truth {expected}")
    exact_raw = summary.raw_valid + summary.raw_quarantined == summary.produced == summary.lines
    ok = exact_raw and not summary.mismatches
    print()
    print(f"namespace {summary.namespace}: topic, Redis prefix and raw store of this run; "
          f"look up a video with: VIEWCOUNT_REDIS_PREFIX={summary.namespace} viewcount views VIDEO_ID")
    print("result: " + ("every record stored once, every video's count equals the truth" if ok else "MISMATCH"))
    return 0 if ok else 1
