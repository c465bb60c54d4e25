"""Publishing a batch version into Redis: what the publisher holds does not grow with the version.

For each history size (the datasets of ``bench/batch_hourly.py``, which must have run: it leaves
its versions under ``bench/.data/``), the latest version written there is published into a
private Redis by a fresh process, two ways, side by side:

  streamed   what ``viewcount batch run`` and the hourly DAG do: the written Parquet files read a
             file and 10,000 rows at a time into pipelined writes (``publish_rows``)
  held       the views loaded whole first, then published (``publish_batch``; what a publish did
             before it streamed)

Each figure is the median of ``--runs``: seconds and the process's peak resident memory; one more
run of each, not timed, traces the peak of the Python heap during the publish. The ratios compare
the largest size with the smallest: what the streamed publish holds stays flat while the held one
follows the version.

    .venv/bin/python bench/publish.py [--sizes 1000000,10000000] [--daily 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

from common import ROOT, private_stack, summarize, write_result

from batch import build_dataset


def latest_version(store) -> dict:
    """The manifest of the version written last under ``store`` that keeps its views by day."""
    from batch_layer.inputs import read_manifest
    from viewcount.rawdata import BATCH_ROOT

    manifests = [read_manifest(store, name.split("=", 1)[1]) for name in store.list_dirs(BATCH_ROOT)]
    found = [m for m in manifests if m and "days" in m]
    if not found:
        raise SystemExit(f"no version with days under {store.url}: run bench/batch_hourly.py first")
    return max(found, key=lambda m: m["created_at"])


def child(root: str, version: str, how: str, prefix: str, traced: bool = False) -> None:
    """Publish ``version`` of the store at ``root`` with the settings in the environment; print
    seconds, peak RSS (MiB) and the rows published as JSON. ``traced``: also the peak of the
    Python heap during the publish (tracemalloc: slower, so those runs are not timed)."""
    from adapters.files.local import LocalFileStore, LocalStoreConfig
    from app import wiring
    from batch_layer.inputs import read_manifest
    from batch_layer.version_views import VersionFiles
    from viewcount.settings import Settings

    store = LocalFileStore(LocalStoreConfig(root))
    manifest = read_manifest(store, version)
    views = VersionFiles(store, version, manifest["days"])
    serving = wiring.batch_views(Settings.from_env().replace(redis_prefix=prefix))
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    if how == "streamed":
        serving.publish_rows(version, manifest["watermark_ms"], views.video_rows(), views.hour_rows(), 60)
    else:
        serving.publish_batch(version, manifest["watermark_ms"], views.collect_totals(), views.collect_hourly(), 60)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    heap = {"python_heap_peak_mib": round(tracemalloc.get_traced_memory()[1] / 2**20, 1)} if traced else {}
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1),
                      "videos": manifest["videos"], "hour_rows": manifest["rows"]["video_hourly"], **heap}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="history sizes, events, comma-separated")
    parser.add_argument("--daily", type=int, default=100_000, help="events per day (as batch_hourly.py)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--child", nargs=4, metavar=("ROOT", "VERSION", "HOW", "PREFIX"), help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, traced=args.traced)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict = {"runs": args.runs, "sizes": {}}
    with private_stack(("redis",)) as (settings, _):
        env = {**os.environ, **settings.to_env(), "VIEWCOUNT_LOG_LEVEL": "WARNING"}
        for n in sizes:
            store, _ = build_dataset(n, args.seed, days=max(1, n // args.daily))
            manifest = latest_version(store)
            figures: dict[str, list[dict]] = {"streamed": [], "held": []}
            for run in range(args.runs):
                for how in figures:
                    done = subprocess.run([sys.executable, __file__, "--child", str(store.root), manifest["version"], how,
                                           f"p{n}{how[0]}{run}"], env=env, cwd=ROOT, capture_output=True,
                                          text=True, check=True)
                    figures[how].append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(f"  {n:,} events, {how}: {figures[how][-1]}", file=sys.stderr)
            heap = {}
            for how in figures:
                done = subprocess.run([sys.executable, __file__, "--child", str(store.root), manifest["version"], how,
                                       f"p{n}{how[0]}t", "--traced"], env=env, cwd=ROOT, capture_output=True,
                                      text=True, check=True)
                heap[f"{how}_python_heap_peak_mib"] = json.loads(done.stdout.strip().splitlines()[-1])[
                    "python_heap_peak_mib"]
            out["sizes"][str(n)] = {
                "version": manifest["version"], "videos": manifest["videos"],
                "hour_rows": manifest["rows"]["video_hourly"], **heap,
                **{f"{how}_{k}": summarize([f[k] for f in runs]) for how, runs in figures.items()
                   for k in ("seconds", "peak_rss_mib")}}
    small, large = out["sizes"][str(min(sizes))], out["sizes"][str(max(sizes))]
    for how in ("streamed", "held"):
        out[f"{how}_rss_ratio"] = round(large[f"{how}_peak_rss_mib"]["median"] / small[f"{how}_peak_rss_mib"]["median"], 2)
    path = write_result("publish", out)
    for n, fig in out["sizes"].items():
        print(f"{int(n):>12,} events: {fig['videos']:,} videos, {fig['hour_rows']:,} hour rows; streamed "
              f"{fig['streamed_seconds']['median']:.1f}s {fig['streamed_peak_rss_mib']['median']:.0f} MiB, held "
              f"{fig['held_seconds']['median']:.1f}s {fig['held_peak_rss_mib']['median']:.0f} MiB; Python heap peak "
              f"streamed {fig['streamed_python_heap_peak_mib']} MiB, held {fig['held_python_heap_peak_mib']} MiB")
    print(f"peak memory, {max(sizes):,} over {min(sizes):,} events: streamed {out['streamed_rss_ratio']:.2f}x, "
          f"held {out['held_rss_ratio']:.2f}x (target: streamed flat, near 1)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
