"""`viewcount demo`: the main job on the local stack."""

from pathlib import Path

from viewcount.demo import run_demo


def register(commands) -> None:
    cmd = commands.add_parser("demo", help="run the pipeline end to end on the local stack")
    cmd.add_argument("--events", type=int, default=50_000, help="events to generate (default 50000)")
    cmd.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    cmd.add_argument("--out", type=Path, help="traffic folder (default STATE_DIR/demo)")
    cmd.set_defaults(run=run)


def run(args, settings) -> int:
    out = args.out or Path(settings.state_dir) / "demo"
    summary = run_demo(settings, args.events, args.seed, out)
    print()
    print(f"{'what':32} {'value':>12}")
    rows = [("lines generated", summary.lines), ("records produced", summary.produced),
            ("records read back", summary.read_back), ("topic partitions", summary.partitions),
            ("views by the rules (truth.json)", summary.views), ("videos with views", summary.videos)]
    rows += [(f"  outcome {name}", n) for name, n in summary.outcomes.items()]
    rows += [(f"  seconds {name}", s) for name, s in summary.seconds.items()]
    for name, value in rows:
        print(f"{name:32} {value:>12}")
    ok = summary.produced == summary.lines == summary.read_back
    print()
    print(f"truth: {out / 'truth.json'}; traffic: {out / 'events.jsonl'}")
    print("round trip: " + ("every line produced and read back" if ok else "MISMATCH"))
    return 0 if ok else 1
