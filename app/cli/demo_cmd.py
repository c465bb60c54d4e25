"""`viewcount demo`: the main job on the local stack."""

import logging
from pathlib import Path

from app.cli.options import non_negative, port_or_zero, positive
from app.demo import run_demo


def register(commands) -> None:
    cmd = commands.add_parser(
        "demo", help="run the pipeline end to end on the local stack",
        description="Start the local stack, generate a seeded stream reaching back into the last closed month, "
                    "produce it, run the raw sink and the speed layer until caught up, recompute and publish the batch "
                    "views, compare the API's answer for every video with truth.json, bill the closed month and "
                    "compare the payouts with truth.json, verify the audit ledger. Exit status 1 on any mismatch.")
    cmd.add_argument("--events", type=positive, default=200_000, help="events to generate (default 200000)")
    cmd.add_argument("--seed", type=non_negative, default=7, help="random seed (default 7)")
    cmd.add_argument("--out", type=Path, help="where each run's folder goes (default STATE_DIR/demo)")
    cmd.add_argument("--port", type=port_or_zero, default=0, help="the API's port (default: a free one)")
    cmd.add_argument("--cluster", action="store_true",
                     help="on 3 Kafka brokers (topics of 3 replicas) and a Redis Cluster of 6 nodes, as "
                          "`stack up --cluster` starts them")
    cmd.add_argument("--keep-running", action="store_true",
                     help="leave the API, raw sink and speed layer running until Ctrl-C")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    if settings.log_level != "DEBUG":
        # The steps narrate the run; the layers' own progress and the deliberate conflicting
        # duplicates of generated traffic would drown them.
        for name in ("ingestion", "speed_layer", "batch_layer", "billing", "devtools.stack", "adapters.kafka", "py4j",
                     "serving_layer", "uvicorn"):
            logging.getLogger(name).setLevel(logging.ERROR)
    out = args.out or Path(settings.state_dir) / "demo"
    summary = run_demo(settings, args.events, args.seed, out, api_port=args.port, keep_running=args.keep_running,
                       cluster=args.cluster, on_summary=lambda done: _print_summary(done, args.keep_running))
    return 0 if summary.ok else 1


def _print_summary(summary, keep_running: bool) -> None:
    rows = [("lines generated", f"{summary.lines:,}"), ("records produced", f"{summary.produced:,}"),
            ("raw rows (views/)", f"{summary.raw_valid:,}"), ("raw rows (quarantine/)", f"{summary.raw_quarantined:,}"),
            ("views by the rules (truth.json)", f"{summary.views:,}"),
            ("forged views (paid to the owner)", f"{summary.forged_views:,}"),
            ("batch watermark", summary.batch_watermark),
            ("views from the batch layer", f"{summary.batch_views:,}"),
            ("views from the speed layer", f"{summary.speed_views:,}"),
            ("speed data as of (s before now)", f"{summary.freshness_s:.1f}"),
            ("videos checked through the API", f"{summary.videos_checked:,}"), ("mismatches", len(summary.mismatches)),
            ("views sent through the collector", f"{summary.live_events:,}"),
            ("collector requests (one resent)", f"{summary.live_requests:,}"),
            ("live mismatches", len(summary.live_mismatches)),
            ("billed month", summary.period), ("payouts", summary.payouts),
            ("payouts total (USD)", summary.payouts_total), ("payout mismatches", len(summary.payout_mismatches)),
            ("audit records verified", summary.audit_records)]
    rows += [(f"  outcome {name}", f"{n:,}") for name, n in summary.outcomes.items()]
    rows += [(f"  seconds {name}", s) for name, s in summary.seconds.items()]
    rows.append(("  seconds total", round(sum(summary.seconds.values()), 1)))
    print()
    print(f"{'what':34} {'value':>26}")
    for name, value in rows:
        print(f"{name:34} {value:>26}")
    for video, (got, expected) in sorted(summary.mismatches.items())[:10]:
        print(f"  MISMATCH {video}: API {got}, truth {expected}")
    for video, (got, expected) in sorted(summary.live_mismatches.items())[:10]:
        print(f"  LIVE MISMATCH {video}: API {got}, truth + views sent {expected}")
    for creator, (got, expected) in sorted(summary.payout_mismatches.items())[:10]:
        print(f"  PAYOUT MISMATCH {creator}: paid for {got} views, truth {expected}")
    creator, key = summary.api_key
    print()
    print(f"run folder   {summary.out_dir} (truth.json, raw/, audit/, rates.toml)")
    print(f"statement    {summary.statement}")
    print(f"API          {summary.api_url}/v1/videos/VIDEO_ID/views" +
          ("" if keep_running else " (stopped; --keep-running leaves it up)"))
    print(f"dashboard    {summary.api_url}/dashboard/  creator {creator}, key {key}")
    print(f"metrics      {summary.api_url}/metrics")
    print(f"collector    {summary.collector_url}/v1/events  write key {summary.write_key}" +
          ("" if keep_running else " (stopped)"))
    on_cluster = "".join(f"VIEWCOUNT_{name.upper()}={value} " for name, value in summary.cluster.items())
    print(f"look up      {on_cluster}VIEWCOUNT_REDIS_PREFIX={summary.namespace} viewcount views VIDEO_ID")
    print("result: " + ("every record stored once; every video's count, every live view and every payout equal the truth"
                        if summary.ok else "MISMATCH"), flush=True)
