"""The hourly batch run at growing history: its cost follows the hour's records, not the history.

For each history size N (default 1M and 10M events), a raw dataset of N events spread evenly
over N / DAILY days, so that every size has the same volume per day (DAILY events), is built once
under ``bench/.data/`` with the sink's own range files (``bench/batch.py``). Then, side by side:

  full_run       ``run_batch`` at W₀ (an hour before the last), from nothing: what the first run
                 and ``batch run --full`` cost; it is also the version the hourly runs start from
  hourly_run     ``run_batch`` at W = W₀ + 1 h from that version: the records ingested in the
                 last hour, classified from the kept state, added to the kept views
  spark_recompute / duckdb   the same rules over all history at W₀ in Spark and in DuckDB
                 (``bench/batch.py``), for the ratio

Each figure is the median of ``--runs`` (hourly) or ``--full-runs`` (the others). ``hourly_ratio`` is hourly_run at the largest size over
the smallest: flat history cost means a ratio near 1. With ``--cluster spark://…`` (``viewcount
stack up --spark``), the hourly run at the largest size is also timed on that standalone
cluster, after the ``local[2]`` runs in the same process.

    .venv/bin/python bench/batch_hourly.py [--sizes 1000000,10000000] [--daily 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import summarize, write_result

from batch import TOPIC, build_dataset, duckdb_recompute, spark_recompute
from batch_layer.job import run_batch, spark_session
from viewcount.rules import RuleSettings
from viewcount.timeutil import HOUR_MS


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def hourly_runs(spark, store, base, watermark: int, runs: int, label: str) -> tuple[list[float], int, dict]:
    """Seconds of each hourly run from ``base`` to ``watermark``, the records one reads, and the
    last run's seconds per phase."""
    times, read, phases = [], 0, {}
    for run in range(runs):
        seconds, result = timed(lambda: run_batch(spark, store, RuleSettings(), watermark, TOPIC,
                                                  version=f"hourly-{label.split(':')[0].replace('[', '').replace(']', '')}-{run}-{time.time_ns()}",
                                                  based_on=base.version))
        assert result.manifest["mode"] == "incremental", result.manifest.get("mode")
        assert result.checks_passed, result.failed_checks()
        times.append(seconds)
        read, phases = result.manifest["records_read"], result.manifest["phases_s"]
        print(f"  hourly run {run + 1} ({label}): {seconds:.1f}s, {read:,} records read, phases {phases}",
              file=sys.stderr)
    return times, read, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="history sizes, events, comma-separated")
    parser.add_argument("--daily", type=int, default=100_000, help="events per day at every size")
    parser.add_argument("--runs", type=int, default=3, help="hourly runs per size")
    parser.add_argument("--full-runs", type=int, default=3,
                        help="full runs, and Spark/DuckDB recomputes, per size (4-5 min each at 10M here)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--cluster", default="", metavar="SPARK_MASTER",
                        help="also time the hourly run at the largest size on this standalone master")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    datasets = {n: build_dataset(n, args.seed, days=max(1, n // args.daily)) for n in sizes}
    spark = spark_session("local[2]", "viewcount-bench-hourly", driver_memory=args.driver_memory)
    spark.sparkContext.setLogLevel("ERROR")
    out: dict = {"daily_events": args.daily, "runs": args.runs, "full_runs": args.full_runs, "sizes": {}}
    bases = {}
    try:
        for n, (store, last) in datasets.items():
            w0 = last - HOUR_MS
            print(f"history {n:,} events ({max(1, n // args.daily)} days), W₀ {w0}", file=sys.stderr)
            full = []
            for run in range(args.full_runs):
                seconds, base = timed(lambda: run_batch(spark, store, RuleSettings(), w0, TOPIC,
                                                        version=f"base-{run}-{time.time_ns()}"))
                full.append(seconds)
                print(f"  full run {run + 1}: {seconds:.1f}s, {base.manifest['records_read']:,} records read, "
                      f"phases {base.manifest['phases_s']}", file=sys.stderr)
            bases[n] = base
            hourly, hour_records, hour_phases = hourly_runs(spark, store, base, last, args.runs, "local[2]")
            recompute, duck = [], []
            for run in range(args.full_runs):
                with tempfile.TemporaryDirectory(prefix="viewcount-bench-hourly-") as tmp:
                    seconds, spark_totals = timed(lambda: spark_recompute(spark, store, w0, str(Path(tmp) / "s")))
                    recompute.append(seconds)
                    seconds, duck_totals = timed(lambda: duckdb_recompute(store, w0, Path(tmp) / "d"))
                    duck.append(seconds)
                    if duck_totals != spark_totals:
                        raise SystemExit(f"DuckDB and Spark disagree at {n:,} events")
            out["sizes"][str(n)] = {
                "days": max(1, n // args.daily), "full_run_s": summarize([round(x, 2) for x in full]),
                "hourly_run_s": summarize([round(x, 2) for x in hourly]),
                "spark_recompute_s": summarize([round(x, 2) for x in recompute]),
                "duckdb_s": summarize([round(x, 2) for x in duck]),
                "spark_over_duckdb": round(statistics.median(recompute) / statistics.median(duck), 2),
                "history_records": base.manifest["records_read"], "hourly_records": hour_records,
                "hourly_phases_s": hour_phases, "full_phases_s": base.manifest["phases_s"],
            }
    finally:
        spark.stop()
    smallest, largest = str(min(sizes)), str(max(sizes))
    out["hourly_ratio"] = round(out["sizes"][largest]["hourly_run_s"]["median"]
                                / out["sizes"][smallest]["hourly_run_s"]["median"], 2)
    if args.cluster:
        cluster = spark_session(args.cluster, "viewcount-bench-hourly-cluster", driver_memory=args.driver_memory)
        cluster.sparkContext.setLogLevel("ERROR")
        try:
            store, last = datasets[max(sizes)]
            times, _, _ = hourly_runs(cluster, store, bases[max(sizes)], last, args.runs, args.cluster)
        finally:
            cluster.stop()
        out["cluster"] = {"master": args.cluster, "hourly_run_s": summarize([round(x, 2) for x in times]),
                          "over_local": round(statistics.median(times)
                                              / out["sizes"][largest]["hourly_run_s"]["median"], 2)}
    path = write_result("batch_hourly", out)
    for n, fig in out["sizes"].items():
        print(f"{int(n):>12,} events ({fig['days']} days): hourly run {fig['hourly_run_s']['median']:.1f}s, "
              f"full run {fig['full_run_s']['median']:.1f}s, Spark recompute {fig['spark_recompute_s']['median']:.1f}s "
              f"vs DuckDB {fig['duckdb_s']['median']:.1f}s ({fig['spark_over_duckdb']:.2f}x)")
    print(f"hourly run, {largest} over {smallest} events of history: {out['hourly_ratio']:.2f}x")
    if "cluster" in out:
        print(f"hourly run on {args.cluster}: {out['cluster']['hourly_run_s']['median']:.1f}s "
              f"({out['cluster']['over_local']:.2f}x local[2])")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
